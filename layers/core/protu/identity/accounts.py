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
from typing import Any

from protu import errors, metrics
from protu.identity import rbac, sessions, tokens
from protu.identity.models import Company, EmailAccount, EmailPending, OneTimeToken, PendingSignup, Session, User
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
KNOWN_DEVICES = 10  # the recent devices (and networks) a user's record remembers (a sign-in from another is emailed)


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


@dataclass
class StepUpRequired:
    """The password was right, but the account is under step-up (``security.login_guard``): a sign-in link was
    emailed; following it finishes the sign-in (through the second factor when it is on)."""

    method: str = "email_link"


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
    from protu import mail
    from protu.mail.client import MailRejected

    try:
        mail.send(template, to, **context)
    except (errors.ServiceUnavailable, MailRejected) as error:
        log.warning("mail not sent", extra={"template": template, "error_code": error.code})


# ------------------------------------------------------------------------------------------------ sign-up
def signup(company_name: str, name: str, email: str, password: str) -> None:
    """Record a sign-up and email the verification link. Nothing is created until the link is followed
    (``verify_email``): an address cannot be claimed by someone who cannot read its mail (ASVS 5.0 6.4.x,
    pre-account hijacking). A sign-up for an address whose sign-up is still unverified starts over: new details,
    and the earlier links stop working. An address that already has an account gets the same outward answer; its
    holder is told by email instead."""
    from protu.identity import mailjobs, passwords

    email = normalise_email(email)
    passwords.check_policy(password, email=email, name=name, company=company_name)
    now, signup_id = int(time.time()), new_id("s")
    pending = PendingSignup(
        *PendingSignup.key(signup_id),
        id=signup_id,
        email=email,
        name=name,
        company_name=company_name,
        password_hash=passwords.hash_password(password),
        created_at=now,
        expires_at=now + VERIFY_SECONDS,
    )
    pending.save()
    EmailPending(*EmailPending.key(email), signup_id=signup_id, expires_at=pending.expires_at).save()
    mailjobs.enqueue("signup", id=signup_id)  # whether the address has an account is the job's business


def deliver_signup(signup_id: str) -> None:
    """The mail a sign-up gets: its verification link, or, when the address already has an account, a note that
    it does (with a way to sign in)."""
    try:
        pending = PendingSignup.get(*PendingSignup.key(signup_id), consistent_read=True)
    except DoesNotExist:
        return
    if email_owner(pending.email) is not None:
        send("account_exists", pending.email, link_to_sign_in=f"{_origin()}/signin")
        return
    token, item = token_item("verify", SIGNUP_TOKEN, pending.id, int(pending.expires_at))
    item.save()
    send("verify_email", pending.email, name=pending.name, link=link("/verify-email", token))


SIGNUP_TOKEN = "signup"  # noqa: S105 - not a secret: a verification token's tenant while the company does not exist yet


def _pending_signup_password(pending: PendingSignup | None, password: str) -> bool:
    """For a sign-in to an address without an account: whether it has a sign-up waiting for verification with
    this password; if so its verification mail is sent again. Costs one password verification either way (an
    unknown address pays it as a decoy), so the answer and its time do not tell the cases apart."""
    from protu.identity import mailjobs, passwords

    if pending is None:
        passwords.burn_verify_time()
        return False
    if pending.expires_at <= time.time() or not passwords.verify_password(pending.password_hash, password):
        return False
    if _may_resend_verification(pending.email):
        mailjobs.enqueue("signup", id=pending.id)
    return True


def _send_verification(user: User) -> None:
    if not _may_resend_verification(user.email):
        return
    token, item = issue_token("verify", user, VERIFY_SECONDS)
    item.save()
    send("verify_email", user.email, name=user.name or "", link=link("/verify-email", token))


VERIFY_RESENDS_PER_HOUR = 3


def _may_resend_verification(email: str) -> bool:
    """Signing in to an unverified sign-up re-sends its link; whoever knows that password (a squatter too) must not
    turn it into a way to flood the address."""
    from protu.security import ratelimit

    return ratelimit.hit("verify-resend", email, limit=VERIFY_RESENDS_PER_HOUR, window_seconds=3600).allowed


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
    item = redeem(token, "verify")
    if item.tenant_id == SIGNUP_TOKEN:
        _create_from_signup(item)
        return
    user = get_user(item.tenant_id, item.user_id)  # an account made before sign-ups waited for verification
    with Transaction(item.tenant_id, actor=user.id) as tx:
        consume(tx, item)
        tx.update(user, [User.email_verified.set(True)], condition=User.pk.exists())
        tx.audit("auth.email_verified", f"user:{user.id}")


def _create_from_signup(item: OneTimeToken) -> None:
    """The verification link of a sign-up: now, and only now, the company and its owner exist."""

    dead = errors.BadRequest("This link is not valid or was already used.", code="invalid_token")
    try:
        pending = PendingSignup.get(*PendingSignup.key(item.user_id), consistent_read=True)
        newest = EmailPending.get(*EmailPending.key(pending.email), consistent_read=True)
    except DoesNotExist:
        raise dead from None
    if newest.signup_id != pending.id:  # a later sign-up for this address replaced this one
        raise errors.BadRequest(
            "This link was replaced by a newer sign-up for this address. Use the newest email.", code="invalid_token"
        )
    if pending.expires_at <= time.time():
        raise errors.BadRequest("This sign-up has expired. Sign up again.", code="token_expired")
    company, user = new_company(
        new_id("c"), pending.company_name, pending.name, pending.email, pending.password_hash, email_verified=True
    )
    try:
        with Transaction(company.id, actor=user.id) as tx:
            save_member(tx, company, user)
            consume(tx, item)
            tx.delete(pending, condition=PendingSignup.pk.exists(), unscoped=True)
            tx.delete(newest, condition=EmailPending.signup_id == pending.id, unscoped=True)
            tx.audit("auth.signup", f"user:{user.id}", details={"company": company.id})
            tx.audit("auth.email_verified", f"user:{user.id}")
    except errors.Conflict:
        raise errors.Conflict(
            "This address already has a Protu account. Sign in instead, or reset your password.", code="email_in_use"
        ) from None
    from protu.identity import invitations

    invitations.decline_all(pending.email, reason="own_company")  # one address, one company: the inviters are told


# ------------------------------------------------------------------------------------------------ sign-in
def _start_session(
    tx: Transaction, user: User, company: Company, ip: str, user_agent: str, *, touch_user: bool = True
) -> SignedIn:
    session, refresh = sessions.new_session(user, company, ip=ip, user_agent=user_agent)
    tx.save(session, condition=Session.pk.does_not_exist())
    from protu.security import login_guard

    device = sessions.device_id(user_agent, ip)
    known = list(user.known_devices or [])
    remembered = ([device] + [d for d in known if d != device])[:KNOWN_DEVICES]
    network = login_guard.network_id(ip)
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


def _second_step_or_session(
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
    from protu.security import login_guard

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
    if user.mfa_enabled and not (_mfa_capped(user) and not mailbox_proved):
        token, item = issue_token("mfa", user, MFA_STEP_SECONDS)
        with Transaction(user.tenant_id, actor=user.id) as tx:
            if extra is not None:
                consume(tx, extra)
            tx.save(item, unscoped=True)
            tx.audit("auth.first_factor", f"user:{user.id}", details={"method": method})
        return MfaRequired(token)
    if (step_up or user.mfa_enabled) and not mailbox_proved:
        return _email_step_up(user, method, "mfa_cap" if user.mfa_enabled else "step_up")
    with Transaction(user.tenant_id, actor=user.id) as tx:
        if extra is not None:
            consume(tx, extra)
        signed_in = _start_session(tx, user, company, ip, user_agent)
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
    from protu.security import ratelimit

    return ratelimit.count("mfa-account", user.id, window_seconds=MFA_ACCOUNT_WINDOW) >= MFA_ACCOUNT_LIMIT


def _mfa_cap_reset(user: User) -> None:
    from protu.security import ratelimit

    ratelimit.reset("mfa-account", user.id, window_seconds=MFA_ACCOUNT_WINDOW)


def login(email: str, password: str, *, ip: str, user_agent: str) -> SignedIn | MfaRequired | StepUpRequired:
    """Sign in with a password. A wrong one costs the same reads, the same password verification and the same
    writes for every address; what depends on the account (its audit event, the holder's mail) is a mail job."""
    from protu.identity import mailjobs, passwords
    from protu.security import login_guard, signals

    verdict = login_guard.check(email, ip)
    user, company, pending = _sign_in_records(email)
    if user is None or user.status != "active" or not user.password_hash:
        ok = _pending_signup_password(pending, password)
        if ok:  # an unverified sign-up: the same answer as a wrong password, and a fresh verification mail
            metrics.count("SignInFailures")
            raise errors.Unauthorized("The email or password is not correct.", code="invalid_credentials")
    else:
        ok = passwords.verify_password(user.password_hash, password)
        if ok and not user.email_verified:  # an account from before sign-ups waited for verification
            _send_verification(user)
            metrics.count("SignInFailures")
            raise errors.Unauthorized("The email or password is not correct.", code="invalid_credentials")
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
        raise errors.Unauthorized("The email or password is not correct.", code="invalid_credentials")
    login_guard.record_success(email, ip, subject=f"{user.tenant_id}:{user.id}")
    if passwords.needs_rehash(user.password_hash):
        user.update(actions=[User.password_hash.set(passwords.hash_password(password))])
    return _second_step_or_session(user, company, "password", ip, user_agent, step_up=verdict.step_up)


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
    from protu import audit
    from protu.security import signals

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
    from protu.identity import mfa
    from protu.security import login_guard, ratelimit, signals

    item = redeem(mfa_token, "mfa")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    if not mfa.verify_second_factor(user, code):
        metrics.count("SignInFailures")
        attempts = item.attempts + 1
        from protu import audit

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
        raise errors.Unauthorized("The code is not correct.", code="invalid_code")
    with Transaction(user.tenant_id, actor=user.id) as tx:
        consume(tx, item)
        signed_in = _start_session(tx, user, company, ip, user_agent)
        tx.audit("auth.login", f"user:{user.id}", details={"method": "mfa", "session": signed_in.session.id})
    login_guard.step_up_done(user.email)  # the second factor is the step-up
    metrics.count("SignIns")
    _alert_new_device(signed_in, ip, user_agent)
    return signed_in


def request_magic_link(email: str, ip: str = "") -> None:
    found = find_account(email)
    if found is None or found[0].status != "active":
        _remind_invitations(email)
        return
    user, _ = found
    if not email_link_allowed("magic-link", user, ip):
        return
    token, item = issue_token("magic", user, MAGIC_SECONDS)
    with Transaction(user.tenant_id, actor="anonymous") as tx:
        tx.save(item, unscoped=True)
        tx.audit("auth.magic_link_sent", f"user:{user.id}")
    send("magic_link", user.email, link=link("/magic", token), minutes=MAGIC_SECONDS // 60)


def _remind_invitations(email: str) -> None:
    """An address with no account asks for a sign-in or reset link: if it has pending invitations, the mail it gets
    is those invitations again (with fresh links), so its holder learns how to get in. At most once a day per
    address: a stranger asking for links must not turn it into a flood, nor spend the inviters' daily budgets."""
    from protu.identity import invitations
    from protu.security import ratelimit

    if ratelimit.hit("invite-remind", normalise_email(email), limit=1, window_seconds=24 * 3600).allowed:
        invitations.remind(email)


EMAIL_LINKS_PER_HOUR = 5  # per account, for requests from anywhere
EMAIL_LINKS_RESERVE = 5  # per account, more, only for requests from a network the account signed in from
EMAIL_LINKS_PER_PAIR = 3  # per account and requesting address


def email_link_allowed(kind: str, user: User, ip: str) -> bool:
    """Whether to send another email link of ``kind`` (magic link, reset) to ``user`` for a request from ``ip``.

    A stranger must not be able to use up the holder's way in (ASVS 5.0 6.3.1, without denial of service): sends
    are counted per account-and-address (one address cannot use them all) and per account; when the account's
    hourly quota is used up, a reserve is left that only a request from a network the account has signed in from
    can use. The holder at their usual place therefore always gets their link."""
    from protu.security import login_guard, ratelimit

    pair = f"{user.email}|{login_guard.address_key(ip)}"
    if not ratelimit.hit(f"{kind}-pair", pair, limit=EMAIL_LINKS_PER_PAIR, window_seconds=3600).allowed:
        return False
    if ratelimit.hit(kind, user.email, limit=EMAIL_LINKS_PER_HOUR, window_seconds=3600).allowed:
        return True
    if login_guard.network_id(ip) not in (user.known_networks or []):
        return False
    return ratelimit.hit(f"{kind}-reserve", user.email, limit=EMAIL_LINKS_RESERVE, window_seconds=3600).allowed


def verify_magic_link(token: str, *, ip: str, user_agent: str) -> SignedIn | MfaRequired:
    """A magic link proves the mailbox: it lifts a lock or a step-up at once, and never skips two-factor."""
    item = redeem(token, "magic")
    user = get_user(item.tenant_id, item.user_id)
    company = get_company(item.tenant_id)
    if not user.email_verified:
        user.update(actions=[User.email_verified.set(True)])
    return _second_step_or_session(user, company, "magic_link", ip, user_agent, extra=item, mailbox_proved=True)


# ------------------------------------------------------------------------------------------------ passwords
def forgot_password(email: str, ip: str = "") -> None:
    found = find_account(email)
    if found is None or found[0].status != "active":
        _remind_invitations(email)
        return
    user, _ = found
    if not email_link_allowed("reset", user, ip):
        return
    token, item = issue_token("reset", user, RESET_SECONDS)
    with Transaction(user.tenant_id, actor="anonymous") as tx:
        tx.save(item, unscoped=True)
        tx.audit("auth.password_reset_requested", f"user:{user.id}")
    send("password_reset", user.email, link=link("/reset-password", token), minutes=RESET_SECONDS // 60)


def reset_password(token: str, password: str) -> None:
    """Set a new password and end every session of the account. Two-factor still applies at the next sign-in."""
    from protu.identity import passwords

    item = redeem(token, "reset")
    user = get_user(item.tenant_id, item.user_id)
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


def confirm_identity(
    principal: sessions.Principal, *, password: str | None, code: str | None, source_ip: str, action: str
) -> User:
    """The signed-in caller's password or second-factor code, before a sensitive step (re-authentication, turning
    two-factor off). A stolen session must not become a password oracle (ASVS 5.0 6.3.1): every wrong answer
    counts towards the account's sign-in failures (so five put it under step-up, as five wrong sign-ins do), and
    ``REAUTH_FAILURES_PER_SESSION`` wrong answers in one session sign it out as suspicious."""
    from protu.identity import mfa, passwords

    user = get_user(principal.tenant_id, principal.user_id)
    if password is not None:
        ok = bool(user.password_hash) and passwords.verify_password(user.password_hash, password)
    elif code is not None:
        ok = bool(user.mfa_enabled) and mfa.verify_second_factor(user, code)
    else:
        raise errors.ValidationFailed("Give your password or a code.", code="password_or_code_required")
    if not ok:
        from protu import audit

        audit.record(user.tenant_id, action, f"user:{user.id}", outcome="failure")
        _wrong_answer(principal, user, source_ip, "mfa.failed_burst" if password is None else "reauth.failed_burst")
        raise errors.Forbidden("That is not correct.", code="invalid_password")
    return user


def reauthenticate(
    principal: sessions.Principal, *, password: str | None, code: str | None, source_ip: str = ""
) -> None:
    user = confirm_identity(principal, password=password, code=code, source_ip=source_ip, action="auth.reauthenticate")
    session = sessions.load(principal.tenant_id, principal.user_id, principal.session_id)
    if session is None:
        raise errors.Unauthorized("Sign in again.", code="session_revoked")
    with Transaction(user.tenant_id) as tx:
        tx.update(session, [Session.auth_time.set(int(time.time()))], condition=Session.revoked_at.does_not_exist())
        tx.audit("auth.reauthenticate", f"user:{user.id}")


REAUTH_FAILURES_PER_SESSION = 5


def _wrong_answer(principal: sessions.Principal, user: User, source_ip: str, reason: str) -> None:
    """A wrong password or code inside a session: counted for the account, and a burst signs the session out."""
    from protu.security import login_guard, ratelimit

    login_guard.record_failure(user.email, source_ip)
    decision = ratelimit.hit("reauth-fail", principal.session_id, limit=REAUTH_FAILURES_PER_SESSION, window_seconds=900)
    if decision.count >= REAUTH_FAILURES_PER_SESSION:
        session = sessions.load(principal.tenant_id, principal.user_id, principal.session_id)
        if session is not None:
            sign_out_suspicious(session, reason=reason, source_ip=source_ip)
        raise errors.Unauthorized("Too many wrong answers: this session was signed out.", code="session_revoked")


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
        send("suspicious_activity", user.email, reason=_REASONS.get(reason, "unusual activity on your account"))


_REASONS = {
    "mfa.failed_burst": "several wrong two-factor codes were entered in your session",
    "reauth.failed_burst": "several wrong passwords were entered in your session to confirm a change",
    "refresh.reused": "a sign-in token of your session was used twice, which suggests it was copied",
    "session.fingerprint_changed": "your session was used from another browser or network",
}
