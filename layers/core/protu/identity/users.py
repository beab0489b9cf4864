"""The users of a company, managed by its owners: change role, remove, force sign-out (inviting, accepting and
declining are ``protu.identity.invitations``).

The company item keeps ``owner_count``; every change that adds or removes an owner adjusts it in the same
transaction, under the condition that at least one owner remains. So two owners demoting each other at the same
moment cannot leave a company without an owner. A role change also rewrites the role on the user's live
sessions, so it takes effect on their next request; a removal ends them. Making someone an owner (who can then
erase the company) needs an explicit confirmation in the request and a recent sign-in of the caller, as inviting
an owner does (``invitations.confirm_new_owner``).
"""

from __future__ import annotations

from protu import audit, errors
from protu.identity import accounts, invitations, rbac, sessions
from protu.identity.models import Company, EmailAccount, Session, User
from protu.principal import Principal
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist


def list_users(tenant_id: str) -> list[User]:
    return User.members(tenant_id)


def read_users(principal: Principal) -> list[User]:
    """The company's users, as a person reads them: on the record (``users.read`` naming everyone listed)."""
    found = list_users(principal.tenant_id)
    audit.record_read(
        principal.tenant_id, "users.read", f"users:{len(found)} users", [u.id for u in found], actor=principal.user_id
    )
    return found


def sessions_of(principal: Principal, user_id: str) -> list[Session]:
    """Another user's live sessions, newest first (where and how they are signed in): on the record
    (``sessions.read`` naming the user)."""
    _member(principal.tenant_id, user_id)
    live = sorted(sessions.live_for(principal.tenant_id, user_id), key=lambda s: s.created_at, reverse=True)
    audit.record_read(
        principal.tenant_id,
        "sessions.read",
        f"user:{user_id}",
        [user_id],
        actor=principal.user_id,
        details={"sessions": len(live)},
    )
    return live


def _member(tenant_id: str, user_id: str) -> User:
    try:
        return User.get(*User.key(tenant_id, user_id), consistent_read=True)
    except (DoesNotExist, ValueError):
        raise errors.NotFound("No such user.") from None


def _last_owner() -> errors.Conflict:
    return errors.Conflict("A company needs at least one owner.", code="last_owner")


def _guard_last_owner(principal: Principal, user: User) -> None:
    """A clear answer for the common case; the conditional count in the transaction covers the race."""
    if user.role == rbac.OWNER and user.status == "active":
        if accounts.get_company(principal.tenant_id).owner_count <= 1:
            raise _last_owner()


def change_role(principal: Principal, user_id: str, role: str, *, confirm_owner: bool = False) -> User:
    if role not in rbac.ROLES:
        raise errors.ValidationFailed("Unknown role.", code="invalid_role", details={"field": "role"})
    user = _member(principal.tenant_id, user_id)
    if user.role == role:
        return user
    if role == rbac.OWNER:
        invitations.confirm_new_owner(principal, confirm_owner)
    if role != rbac.OWNER:
        _guard_last_owner(principal, user)
    company_key = Company(*Company.key(principal.tenant_id))
    live = sessions.live_for(principal.tenant_id, user_id)[:90]
    with Transaction(principal.tenant_id) as tx:
        tx.update(user, [User.role.set(role)], condition=User.role == user.role)
        if user.status == "active" and rbac.OWNER in (role, user.role):
            if role == rbac.OWNER:
                tx.update(company_key, [Company.owner_count.add(1)], condition=Company.pk.exists())
            else:
                tx.update(company_key, [Company.owner_count.add(-1)], condition=Company.owner_count > 1)
        for session in live:
            tx.update(session, [Session.role.set(role)], condition=Session.pk.exists())
        tx.audit("users.role_changed", f"user:{user_id}", details={"old": user.role, "new": role})
    user.role = role
    return user


def remove(principal: Principal, user_id: str) -> None:
    user = _member(principal.tenant_id, user_id)
    _guard_last_owner(principal, user)
    company_key = Company(*Company.key(principal.tenant_id))
    live = sessions.live_for(principal.tenant_id, user_id)[:90]
    # The address's account item, only when it is this user's: an invited address may be another company's account.
    account = accounts.email_owner(user.email)
    owned = account is not None and (account.tenant_id, account.user_id) == (principal.tenant_id, user_id)
    with Transaction(principal.tenant_id) as tx:
        tx.delete(user, condition=User.pk.exists())
        if owned:
            mine = (EmailAccount.tenant_id == principal.tenant_id) & (EmailAccount.user_id == user_id)
            tx.delete(EmailAccount(*EmailAccount.key(user.email)), condition=mine, unscoped=True)
        if user.status == "invited":  # its index item and its link go with it
            invitations.forget(tx, user)
        if user.role == rbac.OWNER and user.status == "active":
            tx.update(company_key, [Company.owner_count.add(-1)], condition=Company.owner_count > 1)
        for session in live:
            tx.update(session, sessions.revoke_actions("user_removed"))
        tx.audit("users.removed", f"user:{user_id}", details={"role": user.role, "sessions_ended": len(live)})


def force_sign_out(principal: Principal, user_id: str) -> int:
    _member(principal.tenant_id, user_id)
    return accounts.end_sessions(
        principal.tenant_id, user_id, actor=principal.user_id, reason="forced_by_owner", action="users.force_sign_out"
    )
