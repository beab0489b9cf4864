"""Fixed-window rate counters in the data table, one atomic UpdateItem per hit.

A counter is found before any tenant is known (a source address, an email at sign-in), so it lives under its own
prefix, outside company data, and is touched only by the security code::

    pk "RL#<scope>#<sha256(key)[:32]>"   sk "W#<window start, epoch seconds>"
    hits        how many times ``hit`` was called in the window
    last_at     epoch seconds of the latest hit (what a growing delay is measured from)
    expires_at  epoch seconds; DynamoDB's TTL deletes the item shortly after its window ends

Why these choices:

* Fixed windows aligned to the epoch: one item per (scope, key, window), one ``UpdateItem`` (``ADD hits 1, SET
  expires_at``) per hit, no read-modify-write, so concurrent hits from many Lambdas get distinct counts. The cost
  is the known burst at a boundary (up to twice the limit across two adjacent windows), accepted for its
  simplicity.
* Keys are hashed, so emails and addresses are not stored in clear. The hash is unkeyed: it hides a key from a
  casual reader of the table or a backup, not from someone who guesses candidates (the IPv4 space is small).
* TTL deletion is lazy (AWS may take a day or two); nothing reads an old window, so a late deletion is harmless.
* These are not company data and change nothing a person did: no audit event, no transaction.
"""

from __future__ import annotations

import hashlib
import re
import time

import msgspec
from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import DoesNotExist

from protu.store.items import DataItem

EXPIRY_GRACE_SECONDS = 60  # items outlive their window a little, so a hit at the window's last second still counts
_SCOPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,47}$")  # no "#": a scope cannot forge another key's prefix


class RateCounter(DataItem):
    """One counter window (see the module doc for the layout)."""

    hits = NumberAttribute(default=0)
    last_at = NumberAttribute(null=True)
    expires_at = NumberAttribute()


class Decision(msgspec.Struct, frozen=True):
    """The outcome of one ``hit``: ``count`` includes this hit; ``retry_after`` is 0 when allowed, otherwise the
    whole seconds until the window ends (what a ``Retry-After`` header says)."""

    allowed: bool
    count: int
    limit: int
    retry_after: int


def hit(
    scope: str, key: str, *, limit: int, window_seconds: int, now: float | None = None, weight: int = 1
) -> Decision:
    """Count one event (``weight`` events: a page of records read) for ``key`` in the current window and say
    whether the total is within ``limit``.

    Every hit counts, refused ones included, so a client that keeps trying is still over the limit; the counter
    simply restarts with the next window.
    """
    if limit < 1 or weight < 1:
        raise ValueError("limit and weight must be at least 1")
    start, end = _window(window_seconds, now)
    counter = RateCounter(_pk(scope, key), _sk(start))
    moment = int(time.time() if now is None else now)
    counter.update(
        actions=[
            RateCounter.hits.add(weight),
            RateCounter.last_at.set(moment),
            RateCounter.expires_at.set(end + EXPIRY_GRACE_SECONDS),
        ],
    )
    count = int(counter.hits)
    allowed = count <= limit
    return Decision(allowed, count, limit, 0 if allowed else retry_after(window_seconds, now))


def count(scope: str, key: str, *, window_seconds: int, now: float | None = None) -> int:
    """The hits so far in the current window, without counting one (a consistent read: a hit that was just
    acknowledged is seen)."""
    return peek(scope, key, window_seconds=window_seconds, now=now)[0]


def peek(scope: str, key: str, *, window_seconds: int, now: float | None = None) -> tuple[int, int]:
    """The hits so far in the current window and when the latest one was (0, 0 when none), without counting."""
    start, _ = _window(window_seconds, now)
    try:
        counter = RateCounter.get(_pk(scope, key), _sk(start), consistent_read=True)
    except DoesNotExist:
        return 0, 0
    return int(counter.hits), int(counter.last_at or 0)


def reset(scope: str, key: str, *, window_seconds: int, now: float | None = None) -> None:
    """Forget the current window's hits for ``key`` (e.g. an account's failures after a successful sign-in)."""
    start, _ = _window(window_seconds, now)
    RateCounter(_pk(scope, key), _sk(start)).delete()


def retry_after(window_seconds: int, now: float | None = None) -> int:
    """Whole seconds until the current window ends, at least 1."""
    _, end = _window(window_seconds, now)
    current = time.time() if now is None else now
    return max(1, int(end - current + 0.999))


def key_hash(key: str) -> str:
    """How a key appears in the table: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _pk(scope: str, key: str) -> str:
    if not _SCOPE.match(scope or ""):
        raise ValueError(f"invalid rate-limit scope {scope!r}")
    if not isinstance(key, str) or not key:
        raise ValueError("a rate-limit key must be a non-empty string")
    return f"RL#{scope}#{key_hash(key)}"


def _sk(start: int) -> str:
    return f"W#{start}"


def _window(window_seconds: int, now: float | None) -> tuple[int, int]:
    """The current window's start and end, epoch seconds."""
    if window_seconds < 1:
        raise ValueError("window_seconds must be at least 1")
    current = int(time.time() if now is None else now)
    start = current - current % window_seconds
    return start, start + window_seconds
