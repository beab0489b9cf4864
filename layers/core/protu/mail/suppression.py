"""The email suppression list: addresses Protu does not email any more (they bounced for good, complained about
spam, or unsubscribed). ``mail.send`` honours it; Mailgun's webhook events (``protu.mail.events``) fill it.

Layout (data table, outside company data: the list is about addresses, found before any company is known)::

    pk "SUPPRESS#<normalised email>"   sk "SUPPRESS"
    reason     bounced | complained | unsubscribed
    since      epoch seconds
    event_id   the Mailgun event that put the address here

Addresses are normalised as accounts are (``protu.emails.normalise``), so ``Ana@Example.com`` and
``ana@example.com`` are one entry. An entry stays until ``lift`` removes it (no TTL): a hard bounce or a complaint
does not heal by itself.

Public API::

    find(email) -> {"email", "reason", "since", "event_id"} | None
    suppress(email, reason, event_id) -> that document      (overwrites an earlier entry)
    lift(email) -> bool                                       (whether there was an entry)
    entry(email, reason, event_id) -> Suppression             (unsaved: for a caller's own transaction)

A suppressed person still sees their security alerts in the app (the notices API reads ``find``).
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist

from protu import emails
from protu.store.dynamo import condition_failed
from protu.store.items import DataItem

PREFIX = "SUPPRESS#"
SORT_KEY = "SUPPRESS"
REASONS = ("bounced", "complained", "unsubscribed")
MAX_ADDRESS = 254  # RFC 5321's limit on a forward path; longer strings are no address we could have sent to


class Suppression(DataItem):
    """One suppressed address (see the module doc for the layout)."""

    reason = UnicodeAttribute()
    since = NumberAttribute()
    event_id = UnicodeAttribute(default="")

    def to_document(self) -> dict[str, Any]:
        return {
            "email": self.pk.removeprefix(PREFIX),
            "reason": self.reason,
            "since": int(self.since),
            "event_id": self.event_id,
        }


def normalise(email: str) -> str:
    """The address as the list keys it (``protu.emails``: the accounts' rule too, so the list and ``EMAIL#`` agree)."""
    if not isinstance(email, str):
        raise ValueError("an email address must be a string")
    return emails.normalise(email)


def find(email: str) -> dict[str, Any] | None:
    """The suppression entry of ``email`` (a consistent read), or None when Protu may email it."""
    address = normalise(email)
    if not address or len(address) > MAX_ADDRESS:
        return None
    try:
        return Suppression.get(PREFIX + address, SORT_KEY, consistent_read=True).to_document()
    except DoesNotExist:
        return None


def entry(email: str, reason: str, event_id: str, *, now: float | None = None) -> Suppression:
    """The (unsaved) entry that suppresses ``email`` for ``reason``; ``ValueError`` for a bad reason or address."""
    if reason not in REASONS:
        raise ValueError(f"a suppression reason is one of {REASONS}")
    address = normalise(email)
    if not address or len(address) > MAX_ADDRESS or "@" not in address:
        raise ValueError("not an email address")
    since = int(time.time() if now is None else now)
    return Suppression(PREFIX + address, SORT_KEY, reason=reason, since=since, event_id=str(event_id or ""))


def suppress(email: str, reason: str, event_id: str = "") -> dict[str, Any]:
    """Stop emailing ``email``; an earlier entry is replaced (the newest reason wins). Returns the entry."""
    item = entry(email, reason, event_id)
    item.save()
    return item.to_document()


def lift(email: str) -> bool:
    """Email ``email`` again; returns whether it was suppressed."""
    address = normalise(email)
    if not address or len(address) > MAX_ADDRESS:
        return False
    try:
        Suppression(PREFIX + address, SORT_KEY).delete(condition=Suppression.pk.exists())
    except DeleteError as error:
        if condition_failed(error):
            return False
        raise
    return True
