from __future__ import annotations

import re

from protu.settings import settings
from protu.store import scope

_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")

#: Partition-key prefixes of the data table that belong to no company: the sign-in indexes (an account by email,
#: one-time tokens, sign-ups waiting for their email's verification: ``SIGNUP#``), rate-limit counters, signals
#: about no company, provider indexes (a Stripe customer's or a Mailgun message's company, webhook replay markers),
#: the email suppression list and security reports from outside (``REPORT#``, anonymous intake: no company), and the
#: invitation indexes by address (``INVITED#``: pending invitations, found before a company is known, like
#: ``EMAIL#``; ``NOINVITE#``: addresses that refuse invitations), and maintenance windows (``MAINTENANCE#``:
#: announced to everyone, written by operators only), and which company verified an email domain for single sign-on
#: (``SSODOMAIN#``: found before a company is known, like ``EMAIL#``). They hold no company data, so the functions' own
#: roles and TenantDataRole reach them (template.yaml lists the same, as ``<prefix>*``); every other key begins with
#: ``T#<tenant>`` (``tenant_pk``).
UNSCOPED_PREFIXES = (
    "EMAIL#",
    "SIGNUP#",
    "TOKEN#",
    "RL#",
    "SIGNALS#GLOBAL#",
    "STRIPE#",
    "MAILGUN#",
    "SUPPRESS#",
    "REPORT#",
    "INVITED#",
    "NOINVITE#",
    "MAINTENANCE#",
    "SSODOMAIN#",
)


class SettingValue:
    """A class attribute that reads a field of ``protu.settings.settings()`` each time it is accessed.

    PynamoDB reads ``Meta.table_name`` and ``Meta.region`` on every connection lookup and rebuilds the connection
    when the name changes, so models follow the process's settings (template-given environment) without being
    re-imported::

        class Meta:
            table_name = SettingValue("data_table")
            region = SettingValue("region")
    """

    def __init__(self, field: str) -> None:
        self.field = field

    def __get__(self, instance: object, owner: type | None = None) -> str:
        return getattr(settings(), self.field)


def tenant_pk(tenant_id: str, *parts: str) -> str:
    """The partition key of a company item: ``T#<tenant_id>`` followed by ``#``-joined parts. Inside a request,
    naming a second company raises ``scope.CrossTenantAccess``."""
    if not _TENANT_ID.match(tenant_id or ""):
        raise ValueError("invalid tenant id")
    scope.bind(tenant_id)  # a request acts for one company only (protu.store.scope)
    return "#".join(("T", tenant_id, *parts))
