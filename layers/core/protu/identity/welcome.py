"""The first steps of a new owner: a short checklist instead of the account page after signing in.

Each step is done or not from the company's own state, read cheaply (one query of the users, one item of two
kinds of records): the email verified (signing in needs it), two-factor on, a colleague invited, a first role and
a first candidate. The owner puts the list away when they like (``finish``); until then an owner's sign-in lands
on it (``Me.show_welcome``). Nothing here is a company setting: it is the person's own choice.
"""

from __future__ import annotations

import time
from typing import Any

from protu.directory import kinds
from protu.directory.store import Records
from protu.identity.models import User
from protu.principal import Principal
from protu.store.tx import Transaction

STEPS = ("verify_email", "two_factor", "invite", "first_role", "first_candidate")


def shows(user: User) -> bool:
    """True while an owner has not put the checklist away."""
    return user.role == "owner" and user.welcome_done_at is None


def steps(principal: Principal, user: User) -> list[dict[str, Any]]:
    """Each step and whether it is done, in order."""
    tenant = principal.tenant_id
    users = User.members(tenant)
    done = {
        "verify_email": bool(user.email_verified),
        "two_factor": bool(user.second_factors),  # an authenticator app or a passkey
        "invite": any(other.id != user.id for other in users),
        "first_role": _any(tenant, kinds.ROLES),
        "first_candidate": _any(tenant, kinds.CANDIDATES),
    }
    return [{"id": step, "done": done[step]} for step in STEPS]


def _any(tenant_id: str, kind: kinds.Kind) -> bool:
    found, _ = Records(tenant_id, kind.prefix, kind.indexed).page(limit=1, cursor=None)
    return bool(found)


def finish(user: User, now: float | None = None) -> None:
    """The owner puts the checklist away (again: nothing changes)."""
    if user.welcome_done_at is not None:
        return
    with Transaction(user.tenant_id) as tx:
        tx.update(user, [User.welcome_done_at.set(int(now or time.time()))], condition=User.pk.exists())
        tx.audit("user.welcome_done", f"user:{user.id}")
