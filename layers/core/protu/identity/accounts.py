"""How people get into Protu and back out: sign-up, email verification, password and magic-link sign-in, the
two-factor step, password reset, invitations, refresh, sign-out, re-authentication.

No answer reveals whether an email has an account (ASVS 6.3.8): sign-up, magic-link and reset requests answer the
same for every email; a failed sign-in is the same 401 for an unknown email and a wrong password, and takes about
the same time (an unknown email still pays for one password verification). Every event is audited in the
company's chain, in the same transaction as the change it describes; failures also raise security signals.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from protu import errors, metrics
from protu.identity import rbac, sessions, tokens
from protu.identity.models import Company, EmailAccount, OneTimeToken, Session, User
from protu.logging import get_logger
from protu.store.base import condition_failed
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist, UpdateError

log = get_logger(__name__)

VERIFY_SECONDS = 24 * 3600
MAGIC_SECONDS = 10 * 60
RESET_SECONDS = 30 * 60
INVITE_SECONDS = 7 * 24 * 3600
MFA_STEP_SECONDS = 5 * 60
MFA_STEP_ATTEMPTS = 5
KNOWN_DEVICES = 10  # the recent devices a user's record remembers (a sign-in from any other is emailed)


@dataclass
class SignedIn:
    """A new session: the access token for the body, the refresh token for the cookie."""

    access_token: str
    refresh_token: str
    session: Session
    user: User
    company: Company
    new_device: bool = False  # signed in from a device (browser, system, network) not among their recent ones


@dataclass
class MfaRequired:
    mfa_token: str


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10)}"


def link(path: str, token: str) -> str:
    """Tokens travel in the fragment: it never reaches a server log, a proxy or a Referer header."""
    from protu.settings import settings

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


def _token_item(kind: str, user: User, seconds: int) -> tuple[str, OneTimeToken]:
    token, token_hash = tokens.new_token()
    item = OneTimeToken(
        *OneTimeToken.key(token_hash),
        kind=kind,
        tenant_id=user.tenant_id,
        user_id=user.id,
        expires_at=int(time.time()) + seconds,
    )
    return token, item


def _redeem(token: str, kind: str) -> OneTimeToken:
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


def _consume(tx: Transaction, item: OneTimeToken) -> None:
    tx.delete(item, condition=OneTimeToken.pk.exists(), unscoped=True)


def _send(template: str, to: str, **context) -> None:
    """Email is part of the answer but must not fail it: a Mailgun outage or refusal (the change it reports is
    already saved) is logged, and the user can ask again."""
    from protu import mail
    from protu.mail.client import MailRejected

    try:
        mail.send(template, to, **context)
    except (errors.ServiceUnavailable, MailRejected) as error:
        log.warning("mail not sent", extra={"template": template, "error_code": error.code})


# ------------------------------------------------------------------------------------------------ sign-up
def signup(company_name: str, name: str, email: str, password: str) -> None:
    """Create the company with this person as its Owner and send the verification email.

    An email that already has an account gets the same outward answer; its owner is told by email instead.
    """
    from protu.identity import passwords

    email = normalise_email(email)
    passwords.check_policy(password, email=email, name=name, company=company_name)
    password_hash = passwords.hash_password(password)
    if email_owner(email) is not None:
        _send("account_exists", email, link_to_sign_in=f"{_origin()}/signin")
        return
    company, user = new_company(new_id("c"), company_name, name, email, password_hash)
    token, verify = _token_item("verify", user, VERIFY_SECONDS)
    try:
        with Transaction(company.id, actor=user.id) as tx:
            save_member(tx, company, user)
            tx.save(verify, unscoped=True)
            tx.audit("auth.signup", f"user:{user.id}", details={"company": company.id})
    except errors.Conflict:
        _send("account_exists", email, link_to_sign_in=f"{_origin()}/signin")  # lost a race with the same email
        return
    _send("verify_email", email, name=name, link=link("/verify-email", token))


def new_company(
    tenant_id: str, company_name: str, name: str, email: str, password_hash: str, *, email_verified: bool = False
) -> tuple[Company, User]:
    """The records of a new company and its first owner (not saved: see ``save_member``)."""
    now = int(time.time())
    company = Company(*Company.key(tenant_id), id=tenant_id, name=company_name, created_at=now, owner_count=1)
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


def _origin() -> str:
    from protu.settings import settings

    return settings().app_origin


def verify_email(token: str) -> None:
    item = _redeem(token, "verify")
    user = get_user(item.tenant_id, item.user_id)
    with Transaction(item.tenant_id, actor=user.id) as tx:
        _consume(tx, item)
        tx.update(user, [User.email_verified.set(True)], condition=User.pk.exists())
        tx.audit("auth.email_verified", f"user:{user.id}")


# ------------------------------------------------------------------------------------------------ sign-in
def _start_session(
    tx: Transaction, user: User, company: Company, ip: str, user_agent: str, *, touch_user: bool = True
) -> SignedIn:
    session, refresh = sessions.new_session(user, company, ip=ip, user_agent=user_agent)
    tx.save(session, condition=Session.pk.does_not_exist())
    device = sessions.device_id(user_agent, ip)
    known = list(user.known_devices or [])
    remembered = ([device] + [d for d in known if d != device])[:KNOWN_DEVICES]
    if touch_user:  # a caller that saves the user itself sets these (one write per item)
        actions = [User.last_sign_in_at.set(session.created_at), User.known_devices.set(remembered)]
        tx.update(user, actions, condition=User.pk.exists())
    access = tokens.issue_access_token(user.tenant_id, user.id, session.id)
    # The first sign-in ever has nothing to compare with: it teaches, it does not alert.
    return SignedIn(access, refresh, session, user, company, new_device=bool(known) and device not in known)


def _alert_new_device(signed_in: SignedIn, ip: str, user_agent: str) -> None:
    """After the commit: tell the user about a sign-in from a device they have not used recently."""
    if signed_in.new_device:
        _send("new_sign_in", signed_in.user.email, when=int(signed_in.session.created_at), ip=ip, user_agent=user_agent)


def _second_step_or_session(
    user: User, company: Company, method: str, ip: str, user_agent: str, extra: OneTimeToken | None = None
) -> SignedIn | MfaRequired:
    """After a first factor: the two-factor step when it is on, otherwise a session. ``extra`` is a used token
    to delete in the same transaction."""
    if user.locked_until and int(user.locked_until) > time.time():
        raise errors.Forbidden(
            "This account is locked after suspicious activity. Reset your password by email to unlock it.",
            code="account_locked",
        )
    if user.mfa_enabled:
        token, item = _token_item("mfa", user, MFA_STEP_SECONDS)
        with Transaction(user.tenant_id, actor=user.id) as tx:
            if extra is not None:
                _consume(tx, extra)
            tx.save(item, unscoped=True)
            tx.audit("auth.first_factor", f"user:{user.id}", details={"method": method})
        return MfaRequired(token)
    with Transaction(user.tenant_id, actor=user.id) as tx:
        if extra is not None:
            _consume(tx, extra)
        signed_in = _start_session(tx, user, company, ip, user_agent)
        tx.audit("auth.login", f"user:{user.id}", details={"method": method, "session": signed_in.session.id})
    metrics.count("SignIns")
    _alert_new_device(signed_in, ip, user_agent)
    return signed_in


def login(email: str, password: str, *, ip: str, user_agent: str) -> SignedIn | MfaRequired:
    from protu.identity import passwords
    from protu.security import login_guard, signals

    login_guard.check(email, ip)
    found = find_account(email)
    user, company = found if found else (None, None)
    if user is None or user.status != "active" or not user.password_hash:
        passwords.burn_verify_time()
        ok = False
    else:
        ok = passwords.verify_password(user.password_hash, password)
    if not ok:
        metrics.count("SignInFailures")
        outcome = login_guard.record_failure(email, ip)
        tenant = user.tenant_id if user else None
        signals.raise_signal(
            "login.failed",
            tenant_id=tenant,
            user_id=user.id if user else None,
            source_ip=ip,
            details={"account": login_guard.account_id(email)},  # distinct accounts count, unnamed
        )
        if user is not None:
            from protu import audit

            audit.record(
                user.tenant_id,
                "auth.login",
                f"user:{user.id}",
                actor="anonymous",
                outcome="failure",
                details={"method": "password"},
            )
            if outcome.locked_now:
                signals.raise_signal("login.locked", tenant_id=tenant, user_id=user.id, source_ip=ip)
                audit.record(user.tenant_id, "auth.locked", f"user:{user.id}", actor="system")
                _send("account_locked", user.email, minutes=15)
        raise errors.Unauthorized("The email or password is not correct.", code="invalid_credentials")
    login_guard.record_success(email, ip)
    if passwords.needs_rehash(user.password_hash):
        user.update(actions=[User.password_hash.set(passwords.hash_password(password))])
    return _second_step_or_session(user, company, "password", ip, user_agent)


def complete_mfa(mfa_token: str, code: str, *, ip: str, user_agent: str) -> SignedIn:
    from protu.identity import mfa
    from protu.security import signals

    item = _redeem(mfa_token, "mfa")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    if not mfa.verify_second_factor(user, code):
        metrics.count("SignInFailures")
        attempts = item.attempts + 1
        from protu import audit

        audit.record(user.tenant_id, "auth.mfa", f"user:{user.id}", actor=user.id, outcome="failure")
        if attempts >= MFA_STEP_ATTEMPTS:
            item.delete()
            signals.raise_signal("mfa.failed_burst", tenant_id=user.tenant_id, user_id=user.id, source_ip=ip)
            _send("suspicious_activity", user.email, reason="several wrong two-factor codes were entered")
            raise errors.Unauthorized("Too many wrong codes. Sign in again.", code="mfa_attempts_exceeded")
        item.update(actions=[OneTimeToken.attempts.set(attempts)])
        raise errors.Unauthorized("The code is not correct.", code="invalid_code")
    with Transaction(user.tenant_id, actor=user.id) as tx:
        _consume(tx, item)
        signed_in = _start_session(tx, user, company, ip, user_agent)
        tx.audit("auth.login", f"user:{user.id}", details={"method": "mfa", "session": signed_in.session.id})
    metrics.count("SignIns")
    _alert_new_device(signed_in, ip, user_agent)
    return signed_in


def request_magic_link(email: str) -> None:
    found = find_account(email)
    if found is None or found[0].status != "active":
        return
    user, _ = found
    token, item = _token_item("magic", user, MAGIC_SECONDS)
    with Transaction(user.tenant_id, actor="anonymous") as tx:
        tx.save(item, unscoped=True)
        tx.audit("auth.magic_link_sent", f"user:{user.id}")
    _send("magic_link", user.email, link=link("/magic", token), minutes=MAGIC_SECONDS // 60)


def verify_magic_link(token: str, *, ip: str, user_agent: str) -> SignedIn | MfaRequired:
    """A magic link proves the email too; it never skips two-factor."""
    item = _redeem(token, "magic")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    if not user.email_verified:
        user.update(actions=[User.email_verified.set(True)])
    return _second_step_or_session(user, company, "magic_link", ip, user_agent, extra=item)


# ------------------------------------------------------------------------------------------------ passwords
def forgot_password(email: str) -> None:
    found = find_account(email)
    if found is None or found[0].status != "active":
        return
    user, _ = found
    token, item = _token_item("reset", user, RESET_SECONDS)
    with Transaction(user.tenant_id, actor="anonymous") as tx:
        tx.save(item, unscoped=True)
        tx.audit("auth.password_reset_requested", f"user:{user.id}")
    _send("password_reset", user.email, link=link("/reset-password", token), minutes=RESET_SECONDS // 60)


def reset_password(token: str, password: str) -> None:
    """Set a new password and end every session of the account. Two-factor still applies at the next sign-in."""
    from protu.identity import passwords

    item = _redeem(token, "reset")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    passwords.check_policy(password, email=user.email, name=user.name, company=company.name)
    live = sessions.live_for(user.tenant_id, user.id)
    with Transaction(user.tenant_id, actor=user.id) as tx:
        _consume(tx, item)
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


def change_password(principal: sessions.Principal, current: str, new: str, *, end_other_sessions: bool) -> int:
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


def require_recent_auth(principal: sessions.Principal) -> None:
    if not principal.recently_authenticated():
        raise errors.Forbidden("Confirm your password to continue.", code="reauthentication_required")


def reauthenticate(
    principal: sessions.Principal, *, password: str | None, code: str | None, source_ip: str = ""
) -> None:
    from protu.identity import mfa, passwords

    user = get_user(principal.tenant_id, principal.user_id)
    if password is not None:
        ok = bool(user.password_hash) and passwords.verify_password(user.password_hash, password)
    elif code is not None and user.mfa_enabled:
        ok = mfa.verify_second_factor(user, code)
    else:
        ok = False
    session = sessions.load(principal.tenant_id, principal.user_id, principal.session_id)
    if not ok or session is None:
        from protu import audit

        audit.record(user.tenant_id, "auth.reauthenticate", f"user:{user.id}", outcome="failure")
        if code is not None:
            second_factor_failed(principal, source_ip)
        raise errors.Forbidden("That is not correct.", code="invalid_password")
    with Transaction(user.tenant_id) as tx:
        tx.update(session, [Session.auth_time.set(int(time.time()))], condition=Session.revoked_at.does_not_exist())
        tx.audit("auth.reauthenticate", f"user:{user.id}")


MFA_FAILURES_PER_SESSION = 5


def second_factor_failed(principal: sessions.Principal, source_ip: str) -> None:
    """A burst of wrong two-factor codes inside a session signs it out (someone is guessing)."""
    from protu.security import ratelimit

    decision = ratelimit.hit("mfa-fail", principal.session_id, limit=MFA_FAILURES_PER_SESSION, window_seconds=900)
    if not decision.allowed:
        session = sessions.load(principal.tenant_id, principal.user_id, principal.session_id)
        if session is not None:
            sign_out_suspicious(session, reason="mfa.failed_burst", source_ip=source_ip)
        raise errors.Unauthorized("Too many wrong codes: this session was signed out.", code="session_revoked")


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
    from protu.security import signals

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
        _send("suspicious_activity", user.email, reason=_REASONS.get(reason, "unusual activity on your account"))


_REASONS = {
    "mfa.failed_burst": "several wrong two-factor codes were entered in your session",
    "refresh.reused": "a sign-in token of your session was used twice, which suggests it was copied",
    "session.fingerprint_changed": "your session was used from another browser or network",
}


# ------------------------------------------------------------------------------------------------ invitations
def accept_invitation(token: str, name: str, password: str, *, ip: str, user_agent: str) -> SignedIn:
    from protu.identity import passwords

    item = _redeem(token, "invite")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    if user.status != "invited":
        raise errors.BadRequest("This invitation was already used.", code="invalid_token")
    passwords.check_policy(password, email=user.email, name=name, company=company.name)
    user.name = name
    user.status = "active"
    user.password_hash = passwords.hash_password(password)
    user.email_verified = True
    user.last_sign_in_at = int(time.time())
    user.known_devices = [sessions.device_id(user_agent, ip)]
    with Transaction(user.tenant_id, actor=user.id) as tx:
        _consume(tx, item)
        tx.save(user, condition=User.status == "invited")
        if user.role == rbac.OWNER:  # owners count once they can act
            tx.update(Company(*Company.key(company.id)), [Company.owner_count.add(1)], condition=Company.pk.exists())
        signed_in = _start_session(tx, user, company, ip, user_agent, touch_user=False)
        tx.audit("users.invitation_accepted", f"user:{user.id}", details={"role": user.role})
    return signed_in
