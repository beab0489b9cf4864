"""Brute-force protection for sign-in (ASVS 6.3.1) that does not reveal whether an account exists (ASVS 6.3.8).

The policy, in one place:

* per account (the normalised email): ``ACCOUNT_LIMIT`` failures in a ``WINDOW_SECONDS`` window lock sign-in to
  that account for the rest of the window;
* per source address: ``ADDRESS_LIMIT`` failures in a window refuse every further attempt from that address for
  the rest of the window (credential stuffing spreads over many accounts, so the account limit alone misses it).

How a sign-in uses it::

    login_guard.check(email, ip)                 # before verifying anything: raises RateLimited when over a limit
    if not verified:                             # unknown account or wrong password: the SAME call
        outcome = login_guard.record_failure(email, ip)
        if outcome.locked_now:                   # True once per lockout: email the user, raise "login.locked"
            ...
        raise errors.Unauthorized(...)
    login_guard.record_success(email, ip)

No enumeration: counters are keyed by the email as typed (normalised), never by a user record, so an unknown email
is counted, locked and answered exactly like a known one. Callers must record failures for unknown emails too,
and ``check`` answers the same ``RateLimited`` whichever limit was hit (both windows have the same length and are
aligned, so even ``Retry-After`` cannot tell them apart).

Trade-offs: a lockout is a denial of service an attacker can cause for a victim's account; it lasts at most one
window, and the address limit caps how many accounts one address can lock. Windows are fixed (see
``ratelimit``), so "the rest of the window" can be short; that is the accepted cost of one write per attempt.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from protu import errors, metrics
from protu.security import ratelimit

WINDOW_SECONDS = 15 * 60
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 30
ACCOUNT_SCOPE = "login-account"
ADDRESS_SCOPE = "login-address"
IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: counting single addresses would be useless

MESSAGE = "Too many sign-in attempts. Try again later."


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """After a failure: ``locked_now`` is True exactly once, for the failure that reached the account limit."""

    locked_now: bool
    account_failures: int
    address_failures: int


def check(email: str, source_ip: str, *, now: float | None = None) -> None:
    """Refuse the attempt (``RateLimited``, code ``too_many_attempts``, ``Retry-After``) when the account is locked
    or the address is over its limit; otherwise return. Reads only: an attempt counts when it fails."""
    from protu.security import blocks

    blocks.check(source_ip, now=now)  # an incident's containment blocked the address
    account = ratelimit.count(ACCOUNT_SCOPE, normalise_email(email), window_seconds=WINDOW_SECONDS, now=now)
    address = ratelimit.count(ADDRESS_SCOPE, address_key(source_ip), window_seconds=WINDOW_SECONDS, now=now)
    if account >= ACCOUNT_LIMIT or address >= ADDRESS_LIMIT:
        wait = ratelimit.retry_after(WINDOW_SECONDS, now)
        raise errors.RateLimited(MESSAGE, code="too_many_attempts", headers={"Retry-After": str(wait)})


def record_failure(email: str, source_ip: str, *, now: float | None = None) -> FailureOutcome:
    """Count a failed attempt against the account and the address (for unknown accounts too)."""
    account = ratelimit.hit(
        ACCOUNT_SCOPE, normalise_email(email), limit=ACCOUNT_LIMIT, window_seconds=WINDOW_SECONDS, now=now
    )
    address = ratelimit.hit(
        ADDRESS_SCOPE, address_key(source_ip), limit=ADDRESS_LIMIT, window_seconds=WINDOW_SECONDS, now=now
    )
    # The counter is atomic, so exactly one failure sees the count equal to the limit.
    locked_now = account.count == ACCOUNT_LIMIT
    if locked_now:
        metrics.count("Lockouts")
    return FailureOutcome(locked_now, account.count, address.count)


def record_success(email: str, source_ip: str, *, now: float | None = None) -> None:
    """Clear the account's failures. The address counter is kept on purpose: otherwise an attacker could sign in
    to an account of their own between guesses to wipe their address's record. ``source_ip`` is taken for
    symmetry with the other calls."""
    ratelimit.reset(ACCOUNT_SCOPE, normalise_email(email), window_seconds=WINDOW_SECONDS, now=now)


def account_id(email: str) -> str:
    """An opaque name of the account an attempt was for (a hash of the normalised email): enough to count
    distinct accounts in a burst (``protu.security.incidents``) without keeping the address."""
    return ratelimit.key_hash("account:" + normalise_email(email))[:16]


def normalise_email(email: str) -> str:
    """The account key: surrounding whitespace removed, case folded (``" Ana@X.com "`` and ``"ana@x.com"`` are one
    account)."""
    key = (email or "").strip().casefold()
    return key or "<empty>"  # an empty login is still a counted attempt


def address_key(source_ip: str) -> str:
    """The address key: an IPv4 address as is (IPv4-mapped IPv6 too), an IPv6 address as its /64 network; text
    that is not an address is counted as it comes."""
    text = (source_ip or "").strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text or "<unknown>"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
