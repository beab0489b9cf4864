"""Brute-force protection for sign-in (ASVS 5.0 6.3.1) that does not reveal whether an account exists (6.3.8),
and that a stranger cannot turn against the account holder (6.3.1's "without enabling denial of service").

The policy, in one place:

* per source address: ``ADDRESS_LIMIT`` failures in a ``WINDOW_SECONDS`` window refuse every further attempt from
  that address for the rest of the window (credential stuffing spreads over many accounts);
* per account *and* address: after ``PAIR_FREE`` failures, each further attempt of that pair waits a delay that
  doubles with every failure (``delay``), up to ``MAX_DELAY_SECONDS``. Only the guessing address slows down: the
  account holder at their own address is never made to wait by someone else's guesses;
* per account (the normalised email, from any address): ``ACCOUNT_LIMIT`` failures in a window do NOT shut the
  door. They put the account under **step-up** for ``STEP_UP_SECONDS``: the right password alone no longer signs
  in; the holder also proves their mailbox (an email link) or their second factor. Five guesses from five
  addresses therefore cost the attacker everything and the holder one email.

How a sign-in uses it::

    verdict = login_guard.check(email, ip)       # before verifying anything: raises RateLimited when refused
    if not verified:                             # unknown account or wrong password: the SAME call
        outcome = login_guard.record_failure(email, ip)
        raise errors.Unauthorized(...)
    login_guard.record_success(email, ip)
    if verdict.step_up: ...                      # ask for the second factor or an email link

No enumeration: counters and the step-up marker are keyed by the email as typed (normalised), never by a user
record, so an unknown email is counted, delayed and marked exactly like a known one, and ``check`` answers the
same ``RateLimited`` whichever limit was hit. Step-up shows only after the right password, which an enumerating
stranger does not have.
"""

from __future__ import annotations

import time

import msgspec
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from protu import emails, errors, metrics
from protu.security import ratelimit
from protu.security.addresses import address_key
from protu.store.dynamo import condition_failed
from protu.store.items import DataItem

WINDOW_SECONDS = 15 * 60
ACCOUNT_LIMIT = 5  # failures of one account from anywhere in a window: step-up, never a lockout
ADDRESS_LIMIT = 30  # failures from one address in a window: that address is refused for the rest of it
PAIR_FREE = 3  # failures of one account from one address before that pair's delays start
PAIR_WINDOW_SECONDS = 3600
BASE_DELAY_SECONDS = 2
MAX_DELAY_SECONDS = 15 * 60
STEP_UP_SECONDS = 24 * 3600
ACCOUNT_SCOPE = "login-account"
ADDRESS_SCOPE = "login-address"
PAIR_SCOPE = "login-pair"

MESSAGE = "Too many sign-in attempts. Try again later."


class StepUp(DataItem):
    """An account whose next sign-in needs more than a password (``RL#stepup#<hash of the email>``; expires)."""

    sk = UnicodeAttribute(range_key=True, default="STEPUP")
    reason = UnicodeAttribute()  # failures | incident | mfa_cap
    until = NumberAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(email: str) -> tuple[str, str]:
        return f"RL#stepup#{ratelimit.key_hash('account:' + normalise_email(email))}", "STEPUP"


SUCCESS_WINDOW_SECONDS = 3600


class Successes(DataItem):
    """The accounts one address signed in to with a password, per hour (``RL#login-ok#<hash>``; expires)."""

    subjects = UnicodeSetAttribute(null=True)
    expires_at = NumberAttribute()

    @staticmethod
    def key(source_ip: str, window: int) -> tuple[str, str]:
        return f"RL#login-ok#{ratelimit.key_hash(address_key(source_ip))}", f"W#{window}"


class Verdict(msgspec.Struct, frozen=True):
    """What ``check`` found: ``step_up`` when the right password alone must not sign in."""

    step_up: bool


class FailureOutcome(msgspec.Struct, frozen=True):
    """After a failure: ``step_up_now`` is True exactly once per step-up, for the failure that put the account under
    it."""

    step_up_now: bool
    account_failures: int
    address_failures: int


def check(email: str, source_ip: str, *, now: float | None = None) -> Verdict:
    """Refuse the attempt (``RateLimited``, code ``too_many_attempts``, ``Retry-After``) when the address is over
    its limit or this account-and-address pair is inside its delay; otherwise say whether a step-up is needed.
    Reads only: an attempt counts when it fails."""
    now = time.time() if now is None else now
    check_address(source_ip, now=now)
    failures, last = ratelimit.peek(PAIR_SCOPE, _pair(email, source_ip), window_seconds=PAIR_WINDOW_SECONDS, now=now)
    wait = last + delay(failures) - now
    if wait > 0:
        _refuse(int(wait + 0.999))
    return Verdict(step_up=step_up_required(email, now=now))


def check_address(source_ip: str, *, now: float | None = None) -> None:
    """The address's part of ``check``, for sign-ins that name no account before they are verified (a passkey):
    refused when the address is blocked or over its limit."""
    # cold start: loaded on first use
    from protu.security import blocks

    now = time.time() if now is None else now
    blocks.check(source_ip, now=now)  # an incident's containment blocked the address
    address = ratelimit.count(ADDRESS_SCOPE, address_key(source_ip), window_seconds=WINDOW_SECONDS, now=now)
    if address >= ADDRESS_LIMIT:
        _refuse(ratelimit.retry_after(WINDOW_SECONDS, now))


def record_address_failure(source_ip: str, *, now: float | None = None) -> None:
    """A failed sign-in that names no account (a passkey that did not verify): counted against the address only,
    so it slows the address and locks out, or steps up, no one."""
    ratelimit.hit(ADDRESS_SCOPE, address_key(source_ip), limit=ADDRESS_LIMIT, window_seconds=WINDOW_SECONDS, now=now)


def delay(failures: int) -> int:
    """Seconds an account-and-address pair waits after ``failures`` failures: none for the first ``PAIR_FREE``,
    then 2, 4, 8... up to ``MAX_DELAY_SECONDS``."""
    if failures < PAIR_FREE:
        return 0
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** min(failures - PAIR_FREE, 20))


def record_failure(email: str, source_ip: str, *, now: float | None = None) -> FailureOutcome:
    """Count a failed attempt against the account, the address and the pair (for unknown accounts too); the
    failure that reaches the account limit puts the account under step-up."""
    account = ratelimit.hit(
        ACCOUNT_SCOPE, normalise_email(email), limit=ACCOUNT_LIMIT, window_seconds=WINDOW_SECONDS, now=now
    )
    address = ratelimit.hit(
        ADDRESS_SCOPE, address_key(source_ip), limit=ADDRESS_LIMIT, window_seconds=WINDOW_SECONDS, now=now
    )
    ratelimit.hit(PAIR_SCOPE, _pair(email, source_ip), limit=1, window_seconds=PAIR_WINDOW_SECONDS, now=now)
    # The counter is atomic, so exactly one failure per window sees the count equal to the limit; the marker's
    # conditional write makes it once per step-up, however many windows a stranger keeps failing in.
    step_up_now = account.count == ACCOUNT_LIMIT and require_step_up(email, reason="failures", now=now)
    if step_up_now:
        metrics.count("Lockouts")
    return FailureOutcome(step_up_now, account.count, address.count)


def record_success(email: str, source_ip: str, *, subject: str = "", now: float | None = None) -> None:
    """Clear this pair's delays, and remember which account (``subject``: ``<company>:<user>``) the address got
    into: if the address turns out to be an attacker's, that account's password is known to them
    (``signed_in_from``). The account's and the address's failure counts are kept on purpose: a success proves the
    password of one account from one address, nothing about the others (an attacker could otherwise sign in to an
    account of their own between guesses to wipe their address's record)."""
    ratelimit.reset(PAIR_SCOPE, _pair(email, source_ip), window_seconds=PAIR_WINDOW_SECONDS, now=now)
    if subject:
        now = time.time() if now is None else now
        start = int(now) - int(now) % SUCCESS_WINDOW_SECONDS
        item = Successes(*Successes.key(source_ip, start))
        item.update(
            actions=[Successes.subjects.add({subject}), Successes.expires_at.set(start + 2 * SUCCESS_WINDOW_SECONDS)]
        )


def signed_in_from(source_ip: str, *, now: float | None = None) -> set[str]:
    """The accounts (``<company>:<user>``) that signed in with their password from ``source_ip``'s network in
    this window and the one before: evidence that an attacking address got into them."""
    now = time.time() if now is None else now
    start = int(now) - int(now) % SUCCESS_WINDOW_SECONDS
    found: set[str] = set()
    for window in (start - SUCCESS_WINDOW_SECONDS, start):
        try:
            found |= set(Successes.get(*Successes.key(source_ip, window), consistent_read=True).subjects or ())
        except Successes.DoesNotExist:
            pass
    return found


def require_step_up(email: str, *, reason: str, seconds: int = STEP_UP_SECONDS, now: float | None = None) -> bool:
    """Put the account under step-up (its next sign-in needs an email link or the second factor). Answers whether
    it was not under step-up already: what follows a new step-up (the holder's mail) happens once, not each time a
    stranger reaches the limit again."""

    now = time.time() if now is None else now
    until = int(now + seconds)
    item = StepUp(*StepUp.key(email), reason=reason, until=until, expires_at=until + 3600)
    try:
        item.save(condition=StepUp.pk.does_not_exist() | (StepUp.until <= int(now)))
    except Exception as error:  # noqa: BLE001 - already under step-up: it stands until its end
        if not condition_failed(error):
            raise
        return False
    return True


def step_up_required(email: str, *, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    try:
        return StepUp.get(*StepUp.key(email), consistent_read=True).until > now
    except StepUp.DoesNotExist:
        return False


def step_up_done(email: str) -> None:
    """The holder proved their mailbox or second factor: the account signs in normally again."""
    StepUp(*StepUp.key(email)).delete()
    ratelimit.reset(ACCOUNT_SCOPE, normalise_email(email), window_seconds=WINDOW_SECONDS)


def _refuse(wait: int) -> None:
    raise errors.RateLimited(MESSAGE, code="too_many_attempts", headers={"Retry-After": str(max(1, wait))})


def _pair(email: str, source_ip: str) -> str:
    return normalise_email(email) + "|" + address_key(source_ip)


def account_id(email: str) -> str:
    """An opaque name of the account an attempt was for (a hash of the normalised email): enough to count
    distinct accounts in a burst (``protu.security.incidents``) without keeping the address."""
    return ratelimit.key_hash("account:" + normalise_email(email))[:16]


def normalise_email(email: str) -> str:
    """The account key (``protu.emails``: surrounding whitespace removed, case folded, so ``" Ana@X.com "`` and
    ``"ana@x.com"`` are one account)."""
    key = emails.normalise(email or "")
    return key or "<empty>"  # an empty login is still a counted attempt
