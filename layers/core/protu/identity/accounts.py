"""What every way in and out of Protu shares: the answers of a sign-in (``SignedIn``, ``MfaRequired``,
``StepUpRequired``), looking up an address's account, single-use tokens (issued, redeemed, consumed), identity
mail that must not fail its answer (``send``), the records of a new company and its members, refreshing a
session, and ending sessions (on request or as suspicious).

Each flow has its own module: ``signup`` (sign-up and verification), ``signin`` (password sign-in, the two-factor
step, step-ups), ``magic_link``, ``recovery`` (reset and change of password), ``reauth`` (recent authentication),
``invitations``; ``mailjobs`` runs what they hand off the request path. No answer reveals whether an email has an
account (ASVS 5.0 6.3.8), by content or by time. Every event is audited in the company's chain, in the same
transaction as the change it describes; failures also raise security signals.
"""

from __future__ import annotations

import secrets
import time

import msgspec
from protu import errors
from protu.emails import normalise as normalise_email  # the one rule (mail keys addresses by it too)
from protu.identity import rbac, sessions, tokens
from protu.identity.models import COMPANIES, Company, EmailAccount, OneTimeToken, Session, User
from protu.logging import get_logger
from protu.security import signals
from protu.settings import settings
from protu.store.dynamo import condition_failed
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist, UpdateError

log = get_logger(__name__)

VERIFY_SECONDS = 24 * 3600
MAGIC_SECONDS = 10 * 60
RESET_SECONDS = 30 * 60
INVITE_SECONDS = 7 * 24 * 3600
MFA_STEP_SECONDS = 5 * 60
MFA_STEP_ATTEMPTS = 5


class SignedIn(msgspec.Struct):
    """A new session: the access token for the body, the refresh token for the cookie."""

    access_token: str
    refresh_token: str
    session: Session
    user: User
    company: Company
    new_device: bool = False  # signed in from a device (browser, system, network) not among their recent ones


class MfaRequired(msgspec.Struct):
    mfa_token: str
    methods: list[str] = msgspec.field(default_factory=list)  # what the step accepts (``User.second_factors``)


class StepUpRequired(msgspec.Struct):
    """The password was right, but the account is under step-up (``security.login_guard``): a sign-in link was
    emailed; following it finishes the sign-in (through the second factor when it is on)."""

    method: str = "email_link"


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10)}"


def link(path: str, token: str) -> str:
    """Tokens travel in the fragment: it never reaches a server log, a proxy or a Referer header."""

    return f"{settings().app_origin}{path}#token={token}"


# ------------------------------------------------------------------------------------------------ lookups
def email_owner(email: str) -> EmailAccount | None:
    """Which company and user an address belongs to, without reading that company's items (a request acting for
    one company must not read another's: ``protu.store.scope``)."""
    try:
        return EmailAccount.get(*EmailAccount.key(normalise_email(email)), consistent_read=True)
    except DoesNotExist:
        return None


def find_account(email: str) -> tuple[User, Company] | None:
    try:
        account = EmailAccount.get(*EmailAccount.key(normalise_email(email)), consistent_read=True)
        user = User.get(*User.key(account.tenant_id, account.user_id), consistent_read=True)
        company = Company.get(*Company.key(account.tenant_id), consistent_read=True)
    except DoesNotExist:
        return None
    return user, company


def get_user(tenant_id: str, user_id: str) -> User:
    try:
        return User.get(*User.key(tenant_id, user_id), consistent_read=True)
    except DoesNotExist:
        raise errors.NotFound() from None


def get_company(tenant_id: str) -> Company:
    try:
        return Company.get(*Company.key(tenant_id), consistent_read=True)
    except DoesNotExist:
        raise errors.NotFound() from None


def issue_token(kind: str, user: User, seconds: int) -> tuple[str, OneTimeToken]:
    return token_item(kind, user.tenant_id, user.id, int(time.time()) + seconds)


def token_item(kind: str, tenant_id: str, user_id: str, expires_at: int) -> tuple[str, OneTimeToken]:
    """A new single-use token and its item (not saved): the token for the link, only its hash in the item."""
    token, token_hash = tokens.new_token()
    item = OneTimeToken(
        *OneTimeToken.key(token_hash), kind=kind, tenant_id=tenant_id, user_id=user_id, expires_at=expires_at
    )
    return token, item


def redeem(token: str, kind: str) -> OneTimeToken:
    """Use a single-use token once: it must exist, be of this kind and unexpired; it is deleted by the caller's
    transaction (``tx.delete(item, condition=...)``), so two uses racing cannot both succeed."""
    if not isinstance(token, str) or not 20 <= len(token) <= 128:
        raise errors.BadRequest("This link is not valid.", code="invalid_token")
    try:
        item = OneTimeToken.get(*OneTimeToken.key(tokens.token_hash(token)), consistent_read=True)
    except DoesNotExist:
        raise errors.BadRequest("This link is not valid or was already used.", code="invalid_token") from None
    if item.kind != kind:
        raise errors.BadRequest("This link is not valid or was already used.", code="invalid_token")
    if item.expires_at <= time.time():
        raise errors.BadRequest("This link has expired. Ask for a new one.", code="token_expired")
    return item


def consume(tx: Transaction, item: OneTimeToken) -> None:
    tx.delete(item, condition=OneTimeToken.pk.exists(), unscoped=True)


def send(template: str, to: str, **context) -> None:
    """Email is part of the answer but must not fail it: a Mailgun outage or refusal (the change it reports is
    already saved) is logged, and the user can ask again."""
    # cold start: loaded on first use
    from protu import mail
    from protu.mail.client import MailRejected

    try:
        mail.send(template, to, **context)
    except (errors.ServiceUnavailable, MailRejected) as error:
        log.warning("mail not sent", extra={"template": template, "error_code": error.code})


# ------------------------------------------------------------------------------------------------ sign-up


def new_company(
    tenant_id: str, company_name: str, name: str, email: str, password_hash: str, *, email_verified: bool = False
) -> tuple[Company, User]:
    """The records of a new company and its first owner (not saved: see ``save_member``)."""
    now = int(time.time())
    company = Company(
        *Company.key(tenant_id),
        id=tenant_id,
        name=company_name,
        created_at=now,
        owner_count=1,
        gsi1pk=COMPANIES,  # in the index of every company (models.EveryCompany) from its first write
        gsi1sk=tenant_id,
    )
    return company, new_member(company, name, email, rbac.OWNER, password_hash, email_verified=email_verified)


def new_member(
    company: Company, name: str, email: str, role: str, password_hash: str, *, email_verified: bool = False
) -> User:
    user_id = new_id("u")
    return User(
        *User.key(company.id, user_id),
        id=user_id,
        tenant_id=company.id,
        email=normalise_email(email),
        name=name,
        role=role,
        status="active",
        password_hash=password_hash,
        email_verified=email_verified,
        created_at=int(time.time()),
    )


def save_member(tx: Transaction, company: Company | None, user: User) -> None:
    """Save a user (and a new company) with the email's account item; a taken email is ``errors.Conflict``."""
    if company is not None:
        tx.save(company, condition=Company.pk.does_not_exist())
    tx.save(user, condition=User.pk.does_not_exist())
    tx.save(
        EmailAccount(*EmailAccount.key(user.email), tenant_id=user.tenant_id, user_id=user.id),
        condition=EmailAccount.pk.does_not_exist(),
        unscoped=True,
    )


# ------------------------------------------------------------------------------------------------ sign-in


# ------------------------------------------------------------------------------------------------ passwords


# ------------------------------------------------------------------------------------------------ refresh, sign-out
def refresh(value: str, *, ip: str, user_agent: str) -> SignedIn:
    """Rotate the refresh token. An already-used token means it was copied: the session ends, the user is told."""
    tenant_id, user_id, session_id, secret = sessions.parse_refresh(value)
    session = sessions.load(tenant_id, user_id, session_id)
    if session is None:
        raise errors.Unauthorized("Sign in again.", code="invalid_refresh")
    presented = tokens.token_hash(secret)
    if presented in session.used_refresh_hashes and not session.revoked_at:
        sign_out_suspicious(session, reason="refresh.reused", source_ip=ip)
        raise errors.Unauthorized("This session was signed out for your safety. Sign in again.", code="refresh_reused")
    if presented != session.refresh_hash:
        raise errors.Unauthorized("Sign in again.", code="invalid_refresh")
    why = sessions.ended(session)
    if why is not None:  # the cookie is genuine: say why its session ended (the SPA shows it after a reload)
        raise sessions.ended_error(why)
    if session.fingerprint != sessions.fingerprint(user_agent, ip):
        sign_out_suspicious(session, reason="session.fingerprint_changed", source_ip=ip)
        raise errors.Unauthorized("This session was signed out for your safety. Sign in again.", code="session_revoked")
    new_secret, new_hash = tokens.new_token()
    used = ([*session.used_refresh_hashes, presented])[-sessions.USED_REFRESH_KEPT :]
    now = int(time.time())
    try:
        session.update(
            actions=[
                Session.refresh_hash.set(new_hash),
                Session.used_refresh_hashes.set(used),
                Session.last_seen_at.set(now),
            ],
            condition=(Session.refresh_hash == presented) & Session.revoked_at.does_not_exist(),
        )
    except UpdateError as error:
        if not condition_failed(error):
            raise
        # A concurrent refresh won (this token is now the used one), or the session was revoked meanwhile.
        raise errors.Unauthorized("Sign in again.", code="invalid_refresh") from None
    user = get_user(tenant_id, user_id)
    company = get_company(tenant_id)
    access = tokens.issue_access_token(tenant_id, user_id, session_id)
    return SignedIn(access, sessions.refresh_value(session, new_secret), session, user, company)


def end_session(
    tenant_id: str, user_id: str, session_id: str, *, actor: str, reason: str, action: str = "session.revoke"
) -> bool:
    session = sessions.load(tenant_id, user_id, session_id)
    if session is None or session.revoked_at:
        return False
    with Transaction(tenant_id, actor=actor) as tx:
        tx.update(session, sessions.revoke_actions(reason), condition=Session.revoked_at.does_not_exist())
        tx.audit(action, f"session:{session_id}", details={"user": user_id, "reason": reason})
    return True


def end_sessions(
    tenant_id: str,
    user_id: str,
    *,
    actor: str,
    reason: str,
    keep: str | None = None,
    action: str = "session.revoke_all",
) -> int:
    live = [s for s in sessions.live_for(tenant_id, user_id) if s.id != keep]
    for start in range(0, len(live), 90):
        with Transaction(tenant_id, actor=actor) as tx:
            for session in live[start : start + 90]:
                tx.update(session, sessions.revoke_actions(reason), condition=Session.revoked_at.does_not_exist())
            tx.audit(action, f"user:{user_id}", details={"reason": reason, "sessions": len(live)})
    return len(live)


def sign_out_suspicious(session: Session, *, reason: str, source_ip: str) -> None:
    """Suspicious activity signs the session out, raises a signal and tells the user."""

    ended = end_session(
        session.tenant_id,
        session.user_id,
        session.id,
        actor="system",
        reason=reason,
        action="session.suspicious_signout",
    )
    signals.raise_signal(reason, tenant_id=session.tenant_id, user_id=session.user_id, source_ip=source_ip)
    if ended:
        signals.raise_signal(
            "session.suspicious_signout",
            tenant_id=session.tenant_id,
            user_id=session.user_id,
            source_ip=source_ip,
            details={"reason": reason},
        )
        user = get_user(session.tenant_id, session.user_id)
        send("suspicious_activity", user.email, reason=_REASONS.get(reason, "unusual activity on your account"))


_REASONS = {
    "mfa.failed_burst": "several wrong two-factor codes were entered in your session",
    "reauth.failed_burst": "several wrong passwords were entered in your session to confirm a change",
    "refresh.reused": "a sign-in token of your session was used twice, which suggests it was copied",
    "session.fingerprint_changed": "your session was used from another browser or network",
}
