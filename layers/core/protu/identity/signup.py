"""Sign-up and email verification. Nothing is created until the verification link is followed: a sign-up is
only a ``SIGNUP#`` item and the address's newest one (``EMAIL#<email>``/``PENDING``); the link creates the company,
its owner and ``EMAIL#<email>``/``ACCOUNT`` in one transaction (pre-account hijacking, issue 15 attack 4).
"""

from __future__ import annotations

import time

from protu import errors
from protu.identity.accounts import (
    VERIFY_SECONDS,
    consume,
    email_owner,
    get_user,
    issue_token,
    link,
    new_company,
    new_id,
    normalise_email,
    redeem,
    save_member,
    send,
    token_item,
)
from protu.identity.models import EmailPending, OneTimeToken, PendingSignup, User
from protu.logging import get_logger
from protu.schemas import check_name
from protu.security import ratelimit
from protu.settings import settings
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist

log = get_logger(__name__)

TERMS_VERSION = "2026-12-01"
"""The version of the terms of service and privacy notice a sign-up accepts (the SPA's ``/terms`` and ``/privacy``
pages state the same): kept with the sign-up, then on its company with the time and in its ``auth.signup`` event."""


def signup(company_name: str, name: str, email: str, password: str, *, accepted_terms: bool) -> None:
    """Record a sign-up and email the verification link. Nothing is created until the link is followed
    (``verify_email``): an address cannot be claimed by someone who cannot read its mail (ASVS 5.0 6.4.x,
    pre-account hijacking). A sign-up for an address whose sign-up is still unverified starts over: new details,
    and the earlier links stop working. An address that already has an account gets the same outward answer; its
    holder is told by email instead. ``accepted_terms``: the terms and privacy notice of ``TERMS_VERSION`` were
    accepted (nothing is recorded otherwise)."""
    # cold start: loaded on first use
    from protu.identity import mailjobs, passwords

    if accepted_terms is not True:
        raise errors.ValidationFailed(
            "Accept the terms of service and the privacy notice to create an account.",
            code="terms_not_accepted",
            details={"field": "accept_terms"},
        )
    email = normalise_email(email)
    check_name(name)
    check_name(company_name, "company_name")
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
        terms_version=TERMS_VERSION,
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


def pending_signup_password(pending: PendingSignup | None, password: str) -> bool:
    """For a sign-in to an address without an account: whether it has a sign-up waiting for verification with
    this password; if so its verification mail is sent again. Costs one password verification either way (an
    unknown address pays it as a decoy), so the answer and its time do not tell the cases apart."""
    # cold start: loaded on first use
    from protu.identity import mailjobs, passwords

    if pending is None:
        passwords.burn_verify_time()
        return False
    if pending.expires_at <= time.time() or not passwords.verify_password(pending.password_hash, password):
        return False
    if _may_resend_verification(pending.email):
        mailjobs.enqueue("signup", id=pending.id)
    return True


def send_verification(user: User) -> None:
    if not _may_resend_verification(user.email):
        return
    token, item = issue_token("verify", user, VERIFY_SECONDS)
    item.save()
    send("verify_email", user.email, name=user.name or "", link=link("/verify-email", token))


VERIFY_RESENDS_PER_HOUR = 3


def _may_resend_verification(email: str) -> bool:
    """Signing in to an unverified sign-up re-sends its link; whoever knows that password (a squatter too) must not
    turn it into a way to flood the address."""

    return ratelimit.hit("verify-resend", email, limit=VERIFY_RESENDS_PER_HOUR, window_seconds=3600).allowed


def _origin() -> str:
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
    terms = {}  # what the owner agreed to, and when (a sign-up from before it was asked has none)
    if pending.terms_version:
        terms = {"terms_version": pending.terms_version, "terms_accepted_at": int(pending.created_at)}
        company.terms_version, company.terms_accepted_at = pending.terms_version, int(pending.created_at)
        company.terms_accepted_by = user.id
    try:
        with Transaction(company.id, actor=user.id) as tx:
            save_member(tx, company, user)
            consume(tx, item)
            tx.delete(pending, condition=PendingSignup.pk.exists(), unscoped=True)
            tx.delete(newest, condition=EmailPending.signup_id == pending.id, unscoped=True)
            tx.audit("auth.signup", f"user:{user.id}", details={"company": company.id, **terms})
            tx.audit("auth.email_verified", f"user:{user.id}")
    except errors.Conflict:
        raise errors.Conflict(
            "This address already has a Protu account. Sign in instead, or reset your password.", code="email_in_use"
        ) from None
    # cold start: loaded on first use
    from protu.identity import invitations

    invitations.decline_all(pending.email, reason="own_company")  # one address, one company: the inviters are told
