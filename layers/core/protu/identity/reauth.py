"""Recent authentication before sensitive steps, and confirming who the signed-in caller is. A stolen session must
not become a password oracle: wrong answers count as sign-in failures, and a burst signs the session out.
"""

from __future__ import annotations

import time

from protu import audit, errors
from protu.identity import sessions
from protu.identity.accounts import (
    get_user,
    sign_out_suspicious,
)
from protu.identity.models import Session, User
from protu.logging import get_logger
from protu.principal import Principal
from protu.security import login_guard, ratelimit
from protu.store.tx import Transaction

log = get_logger(__name__)


def require_recent_auth(principal: Principal) -> None:
    if not principal.recently_authenticated():
        raise errors.Forbidden("Confirm your password to continue.", code="reauthentication_required")


def confirm_identity(
    principal: Principal, *, password: str | None, code: str | None, source_ip: str, action: str
) -> User:
    """The signed-in caller's password or second-factor code, before a sensitive step (re-authentication, turning
    two-factor off). A stolen session must not become a password oracle (ASVS 5.0 6.3.1): every wrong answer
    counts towards the account's sign-in failures (so five put it under step-up, as five wrong sign-ins do), and
    ``REAUTH_FAILURES_PER_SESSION`` wrong answers in one session sign it out as suspicious."""
    # cold start: loaded on first use
    from protu.identity import mfa, passwords

    user = get_user(principal.tenant_id, principal.user_id)
    outcome = mfa.WRONG
    if password is not None:
        ok = bool(user.password_hash) and passwords.verify_password(user.password_hash, password)
    elif code is not None:
        outcome = mfa.check_second_factor(user, code)
        ok = outcome == mfa.ACCEPTED
    else:
        raise errors.ValidationFailed("Give your password or a code.", code="password_or_code_required")
    if not ok:
        audit.record(user.tenant_id, action, f"user:{user.id}", outcome="failure")
        wrong_answer(principal, user, source_ip, "mfa.failed_burst" if password is None else "reauth.failed_burst")
        if outcome == mfa.JUST_USED:  # counted above like a wrong answer
            raise errors.Forbidden(mfa.JUST_USED_MESSAGE, code="code_just_used", details={"field": "code"})
        raise errors.Forbidden("That is not correct.", code="invalid_password")
    return user


def reauthenticate(principal: Principal, *, password: str | None, code: str | None, source_ip: str = "") -> None:
    user = confirm_identity(principal, password=password, code=code, source_ip=source_ip, action="auth.reauthenticate")
    confirmed(principal, user)


def confirmed(principal: Principal, user: User, *, details: dict | None = None, also=None) -> None:
    """The caller proved it is them: the session's ``auth_time`` renewed, audited; ``also`` is one more update for
    the same transaction (``(item, actions, condition)``: a passkey's use)."""
    session = sessions.load(principal.tenant_id, principal.user_id, principal.session_id)
    if session is None:
        raise errors.Unauthorized("Sign in again.", code="session_revoked")
    with Transaction(user.tenant_id) as tx:
        tx.update(session, [Session.auth_time.set(int(time.time()))], condition=Session.revoked_at.does_not_exist())
        if also is not None:
            item, actions, condition = also
            tx.update(item, actions, condition=condition)
        tx.audit("auth.reauthenticate", f"user:{user.id}", details=details)


REAUTH_FAILURES_PER_SESSION = 5


def wrong_answer(principal: Principal, user: User, source_ip: str, reason: str) -> None:
    """A wrong password or code inside a session: counted for the account, and a burst signs the session out."""

    login_guard.record_failure(user.email, source_ip)
    decision = ratelimit.hit("reauth-fail", principal.session_id, limit=REAUTH_FAILURES_PER_SESSION, window_seconds=900)
    if decision.count >= REAUTH_FAILURES_PER_SESSION:
        session = sessions.load(principal.tenant_id, principal.user_id, principal.session_id)
        if session is not None:
            sign_out_suspicious(session, reason=reason, source_ip=source_ip)
        raise errors.Unauthorized("Too many wrong answers: this session was signed out.", code="session_revoked")
