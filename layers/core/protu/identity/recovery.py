"""Passwords: reset by email link (which ends every session) and change (which needs recent authentication)."""

from __future__ import annotations

from protu import errors
from protu.identity import domains, sessions
from protu.identity.accounts import (
    RESET_SECONDS,
    consume,
    get_company,
    get_user,
    redeem,
)
from protu.identity.magic_link import mail_link
from protu.identity.models import User
from protu.identity.reauth import require_recent_auth
from protu.logging import get_logger
from protu.principal import Principal
from protu.store.tx import Transaction

log = get_logger(__name__)


def forgot_password(email: str, ip: str = "") -> None:
    mail_link(
        email,
        ip,
        quota="reset",
        kind="reset",
        seconds=RESET_SECONDS,
        action="auth.password_reset_requested",
        template="password_reset",
        path="/reset-password",
    )


def reset_password(token: str, password: str) -> None:
    """Set a new password and end every session of the account. Two-factor still applies at the next sign-in."""
    # cold start: loaded on first use
    from protu.identity import passwords

    item = redeem(token, "reset")
    user = get_user(item.tenant_id, item.user_id)
    domains.refuse_user_unless_allowed(user)  # a link asked for before the company enforced single sign-on
    company = get_company(item.tenant_id)
    passwords.check_policy(password, email=user.email, name=user.name, company=company.name)
    live = sessions.live_for(user.tenant_id, user.id)
    with Transaction(user.tenant_id, actor=user.id) as tx:
        consume(tx, item)
        tx.update(
            user,
            [
                User.password_hash.set(passwords.hash_password(password)),
                User.email_verified.set(True),
                User.locked_until.remove(),  # a lock after an incident ends with a new password from the inbox
            ],
        )
        for session in live[:90]:
            tx.update(session, sessions.revoke_actions("password_reset"))
        tx.audit("auth.password_reset", f"user:{user.id}", details={"sessions_ended": len(live)})


def change_password(principal: Principal, current: str, new: str, *, end_other_sessions: bool) -> int:
    # cold start: loaded on first use
    from protu.identity import passwords

    require_recent_auth(principal)
    user = get_user(principal.tenant_id, principal.user_id)
    company = get_company(principal.tenant_id)
    if not user.password_hash or not passwords.verify_password(user.password_hash, current):
        raise errors.Forbidden("The current password is not correct.", code="invalid_password")
    passwords.check_policy(new, email=user.email, name=user.name, company=company.name)
    others = [s for s in sessions.live_for(user.tenant_id, user.id) if s.id != principal.session_id]
    ended = others[:90] if end_other_sessions else []
    with Transaction(user.tenant_id) as tx:
        tx.update(user, [User.password_hash.set(passwords.hash_password(new))], condition=User.pk.exists())
        for session in ended:
            tx.update(session, sessions.revoke_actions("password_changed"))
        tx.audit("auth.password_changed", f"user:{user.id}", details={"sessions_ended": len(ended)})
    return len(ended)
