"""Password sign-in and the steps after any first factor: the two-factor step, a step-up by email link when the
account is under step-up (``security.login_guard``) or its second-factor guesses are capped, and the session.

A wrong password costs the same reads, the same password verification and the same writes for every address; what
depends on the account is a mail job (``identity.mailjobs``).
"""

from __future__ import annotations

import time
from typing import Any

from protu import audit, errors, metrics
from protu.identity import domains, sessions, tokens
from protu.identity.accounts import (
    MAGIC_SECONDS,
    MFA_STEP_ATTEMPTS,
    MFA_STEP_SECONDS,
    MfaRequired,
    SignedIn,
    StepUpRequired,
    consume,
    find_account,
    get_company,
    get_user,
    issue_token,
    link,
    normalise_email,
    redeem,
    send,
)
from protu.identity.models import Company, EmailAccount, EmailPending, OneTimeToken, PendingSignup, Session, User
from protu.identity.signup import pending_signup_password, send_verification
from protu.logging import get_logger
from protu.security import login_guard, ratelimit, signals
from protu.security.addresses import network_id
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist

log = get_logger(__name__)

KNOWN_DEVICES = 10  # the recent devices (and networks) a user's record remembers (a sign-in from another is emailed)


def _start_session(
    tx: Transaction, user: User, company: Company, ip: str, user_agent: str, method: str, *, touch_user: bool = True
) -> SignedIn:
    session, refresh = sessions.new_session(user, company, ip=ip, user_agent=user_agent, method=method)
    tx.save(session, condition=Session.pk.does_not_exist())

    device = sessions.device_id(user_agent, ip)
    known = list(user.known_devices or [])
    remembered = ([device] + [d for d in known if d != device])[:KNOWN_DEVICES]
    network = network_id(ip)
    networks = ([network] + [n for n in (user.known_networks or []) if n != network])[:KNOWN_DEVICES]
    if touch_user:  # a caller that saves the user itself sets these (one write per item)
        actions = [
            User.last_sign_in_at.set(session.created_at),
            User.known_devices.set(remembered),
            User.known_networks.set(networks),
        ]
        tx.update(user, actions, condition=User.pk.exists())
    access = tokens.issue_access_token(user.tenant_id, user.id, session.id)
    # The first sign-in ever has nothing to compare with: it teaches, it does not alert.
    return SignedIn(access, refresh, session, user, company, new_device=bool(known) and device not in known)


def _alert_new_device(signed_in: SignedIn, ip: str, user_agent: str) -> None:
    """After the commit: tell the user about a sign-in from a device they have not used recently."""
    if signed_in.new_device:
        send("new_sign_in", signed_in.user.email, when=int(signed_in.session.created_at), ip=ip, user_agent=user_agent)


def second_step_or_session(
    user: User,
    company: Company,
    method: str,
    ip: str,
    user_agent: str,
    extra: OneTimeToken | None = None,
    *,
    step_up: bool = False,
    mailbox_proved: bool = False,
) -> SignedIn | MfaRequired | StepUpRequired:
    """After a first factor: the two-factor step when it is on, otherwise a session. ``extra`` is a used token
    to delete in the same transaction. ``step_up``: the account is under step-up, so a password alone does not
    sign in (an email link is sent instead, unless the second factor follows). ``mailbox_proved``: the first factor
    was an email link, which lifts a lock, a step-up and the cap on second-factor guesses at once."""

    locked = bool(user.locked_until and int(user.locked_until) > time.time())
    if mailbox_proved:
        if locked:
            _unlock(user)
        login_guard.step_up_done(user.email)
        _mfa_cap_reset(user)
    elif locked:
        raise errors.Forbidden(
            "This account is locked after suspicious activity. Sign in with a link from your email, or reset your "
            "password, to unlock it.",
            code="account_locked",
        )
    factors = user.second_factors  # a TOTP app and recovery codes, passkeys (identity.passkeys)
    if factors and not (_mfa_capped(user) and not mailbox_proved):
        token, item = issue_token("mfa", user, MFA_STEP_SECONDS)
        item.method = method  # the session that follows says how it was started
        with Transaction(user.tenant_id, actor=user.id) as tx:
            if extra is not None:
                consume(tx, extra)
            tx.save(item, unscoped=True)
            tx.audit("auth.first_factor", f"user:{user.id}", details={"method": method})
        return MfaRequired(token, factors)
    if (step_up or factors) and not mailbox_proved:
        return _email_step_up(user, method, "mfa_cap" if factors else "step_up")
    with Transaction(user.tenant_id, actor=user.id) as tx:
        if extra is not None:
            consume(tx, extra)
        signed_in = _start_session(tx, user, company, ip, user_agent, method)
        tx.audit("auth.login", f"user:{user.id}", details={"method": method, "session": signed_in.session.id})
    metrics.count("SignIns")
    _alert_new_device(signed_in, ip, user_agent)
    return signed_in


def _email_step_up(user: User, method: str, why: str) -> StepUpRequired:
    """Email a sign-in link in place of a session: the right password is not enough on its own just now."""
    token, item = issue_token("magic", user, MAGIC_SECONDS)
    with Transaction(user.tenant_id, actor=user.id) as tx:
        tx.save(item, unscoped=True)
        tx.audit("auth.step_up_requested", f"user:{user.id}", details={"method": method, "reason": why})
    send("sign_in_confirm", user.email, link=link("/magic", token), minutes=MAGIC_SECONDS // 60)
    return StepUpRequired()


def _unlock(user: User) -> None:
    """A lock (an incident's containment) ends when the holder proves their mailbox."""
    with Transaction(user.tenant_id, actor=user.id) as tx:
        tx.update(user, [User.locked_until.remove()], condition=User.pk.exists())
        tx.audit("auth.unlocked", f"user:{user.id}", details={"by": "email_link"})
    user.locked_until = None


MFA_ACCOUNT_LIMIT = 10  # wrong second-factor codes per account per hour, across steps (then: an email link first)


MFA_ACCOUNT_WINDOW = 3600


def _mfa_capped(user: User) -> bool:
    return ratelimit.count("mfa-account", user.id, window_seconds=MFA_ACCOUNT_WINDOW) >= MFA_ACCOUNT_LIMIT


def _mfa_cap_reset(user: User) -> None:
    ratelimit.reset("mfa-account", user.id, window_seconds=MFA_ACCOUNT_WINDOW)


def login(email: str, password: str, *, ip: str, user_agent: str) -> SignedIn | MfaRequired | StepUpRequired:
    """Sign in with a password. A wrong one costs the same reads, the same password verification and the same
    writes for every address; what depends on the account (its audit event, the holder's mail) is a mail job."""
    # cold start: loaded on first use
    from protu.identity import mailjobs, passwords

    verdict = login_guard.check(email, ip)
    # A company that enforces single sign-on: every address of its domain answers sso_required, unless the password
    # is right and the user a break-glass owner (decided after the same work, so the answer names no owner).
    enforced = domains.enforcing(email)
    user, company, pending = _sign_in_records(email)
    if user is None or user.status != "active" or not user.password_hash:
        ok = pending_signup_password(pending, password)
        if ok:  # an unverified sign-up: the same answer as a wrong password, and a fresh verification mail
            metrics.count("SignInFailures")
            raise domains.sso_required() if enforced else _invalid_credentials()
    else:
        ok = passwords.verify_password(user.password_hash, password)
        if ok and not user.email_verified:  # an account from before sign-ups waited for verification
            send_verification(user)
            metrics.count("SignInFailures")
            raise domains.sso_required() if enforced else _invalid_credentials()
    if not ok:
        metrics.count("SignInFailures")
        outcome = login_guard.record_failure(email, ip)
        signals.raise_signal(
            "login.failed",
            tenant_id=user.tenant_id if user else None,
            user_id=user.id if user else None,
            source_ip=ip,
            details={"account": login_guard.account_id(email)},  # distinct accounts count, unnamed
        )
        mailjobs.enqueue(
            "sign_in_failed", email=email, ip=ip, step_up_now=outcome.step_up_now, failures=outcome.account_failures
        )
        raise domains.sso_required() if enforced else _invalid_credentials()  # a guess still counts (above)
    if enforced and not domains.break_glass(enforced, user):
        raise domains.sso_required()
    login_guard.record_success(email, ip, subject=f"{user.tenant_id}:{user.id}")
    if passwords.needs_rehash(user.password_hash):
        user.update(actions=[User.password_hash.set(passwords.hash_password(password))])
    return second_step_or_session(user, company, "password", ip, user_agent, step_up=verdict.step_up)


def _invalid_credentials() -> errors.Unauthorized:
    return errors.Unauthorized("The email or password is not correct.", code="invalid_credentials")


DECOY_TENANT = "c-00000000000000000000"  # a company id no company has: what a sign-in reads for an unknown address


def _sign_in_records(email: str) -> tuple[User | None, Company | None, PendingSignup | None]:
    """What a password sign-in needs, read the same way for every address: the address's account and newest
    sign-up, then its user and company (an account), or its sign-up and a decoy (no account). Four reads either
    way, so neither the calls made nor their number tell whether the address has an account."""

    email = normalise_email(email)
    account, newest = _get(EmailAccount, EmailAccount.key(email)), _get(EmailPending, EmailPending.key(email))
    if account is not None:
        user = _get(User, User.key(account.tenant_id, account.user_id))
        company = _get(Company, Company.key(account.tenant_id))
        return user, company, None
    signup_id = newest.signup_id if newest is not None else "s-none"
    pending = _get(PendingSignup, PendingSignup.key(signup_id))
    _get(Company, Company.key(DECOY_TENANT))
    return None, None, pending


def _get(model: Any, key: tuple[str, str]) -> Any:
    try:
        return model.get(*key, consistent_read=True)
    except DoesNotExist:
        return None


def after_failed_sign_in(email: str, ip: str, *, step_up_now: bool, failures: int) -> None:
    """The mail job of a failed sign-in (``mailjobs``): for an address with an account, the event in its company's
    audit log, and when this failure put the account under step-up, its signal, event and the holder's mail."""

    found = find_account(email)
    if found is None:
        return
    user, _ = found
    audit.record(
        user.tenant_id,
        "auth.login",
        f"user:{user.id}",
        actor="anonymous",
        outcome="failure",
        details={"method": "password"},
    )
    if step_up_now:
        signals.raise_signal("login.step_up", tenant_id=user.tenant_id, user_id=user.id, source_ip=ip or None)
        audit.record(user.tenant_id, "auth.step_up_required", f"user:{user.id}", actor="system")
        send("sign_in_attempts", user.email, attempts=failures)


def complete_mfa(mfa_token: str, code: str, *, ip: str, user_agent: str) -> SignedIn:
    # cold start: loaded on first use
    from protu.identity import mfa

    item = redeem(mfa_token, "mfa")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    outcome = mfa.check_second_factor(user, code)
    if outcome != mfa.ACCEPTED:  # a code just used counts as a failure too: the limits stay the same
        metrics.count("SignInFailures")
        attempts = item.attempts + 1

        audit.record(user.tenant_id, "auth.mfa", f"user:{user.id}", actor=user.id, outcome="failure")
        capped = not ratelimit.hit(
            "mfa-account", user.id, limit=MFA_ACCOUNT_LIMIT, window_seconds=MFA_ACCOUNT_WINDOW
        ).allowed
        if attempts >= MFA_STEP_ATTEMPTS or capped:
            item.delete()
            details = {"scope": "account" if capped else "step"}
            signals.raise_signal(
                "mfa.failed_burst", tenant_id=user.tenant_id, user_id=user.id, source_ip=ip, details=details
            )
            send("suspicious_activity", user.email, reason="several wrong two-factor codes were entered")
            message = "Too many wrong codes. Sign in again."
            if capped:
                message += " We will email you a link to confirm it is you first."
            raise errors.Unauthorized(message, code="mfa_attempts_exceeded")
        item.update(actions=[OneTimeToken.attempts.set(attempts)])
        if outcome == mfa.JUST_USED:
            raise errors.Unauthorized(mfa.JUST_USED_MESSAGE, code="code_just_used", details={"field": "code"})
        raise errors.Unauthorized("The code is not correct.", code="invalid_code")
    # A step issued before the first factor was kept on it: its session's method is "mfa" alone.
    method = f"{item.method}+mfa" if item.method else "mfa"
    signed_in = signed_in_with(user, company, method, ip, user_agent, extra=item, audited="mfa")
    login_guard.step_up_done(user.email)  # the second factor is the step-up
    return signed_in


def signed_in_with(
    user: User,
    company: Company,
    method: str,
    ip: str,
    user_agent: str,
    *,
    extra: OneTimeToken | None = None,
    audited: str | None = None,
    passkey_update: tuple[Any, list, Any, dict[str, Any]] | None = None,
) -> SignedIn:
    """A session after the last factor: ``extra`` (the two-factor step) consumed and ``passkey_update`` (a passkey's
    model, actions, condition and audit details: ``identity.passkeys``) written in the same transaction as the
    session and its ``auth.login`` event (``audited``: the method the event names, ``method`` otherwise)."""
    details: dict[str, Any] = {"method": audited or method}
    with Transaction(user.tenant_id, actor=user.id) as tx:
        if extra is not None:
            consume(tx, extra)
        if passkey_update is not None:
            model, actions, condition, about = passkey_update
            tx.update(model, actions, condition=condition)
            details.update(about)
        signed_in = _start_session(tx, user, company, ip, user_agent, method)
        tx.audit("auth.login", f"user:{user.id}", details={**details, "session": signed_in.session.id})
    metrics.count("SignIns")
    _alert_new_device(signed_in, ip, user_agent)
    return signed_in
