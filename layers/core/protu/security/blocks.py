"""Blocking a source address for a while: an incident's containment (``protu.security.incidents``).

A block is an item beside the rate-limit counters (``RL#block#<hash of the address>``: no address is stored in
clear, and the prefix is one every sign-in path may read before it knows a company). It expires by itself
(``expires_at``, TTL); ``check`` refuses sign-in attempts from a blocked address (``login_guard.check`` calls it).
IPv6 addresses are blocked by their /64, as the rate limits count them.
"""

from __future__ import annotations

import time

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from protu import errors
from protu.security import ratelimit
from protu.security.addresses import address_key
from protu.store.dynamo import condition_failed
from protu.store.items import DataItem

BLOCK_SECONDS = 24 * 3600
MESSAGE = "Sign-in from your network is paused after suspicious activity. Try again later."


class AddressBlock(DataItem):
    sk = UnicodeAttribute(range_key=True, default="BLOCK")
    until = NumberAttribute()
    reason = UnicodeAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(address: str) -> tuple[str, str]:
        return f"RL#block#{ratelimit.key_hash(address_key(address))}", "BLOCK"


def block(address: str, *, reason: str, seconds: int = BLOCK_SECONDS, now: float | None = None) -> int:
    """Block ``address`` until ``now + seconds`` (a longer block already there is kept); answers the end."""
    now = time.time() if now is None else now
    until = int(now + seconds)
    item = AddressBlock(*AddressBlock.key(address), until=until, reason=reason[:100], expires_at=until + 3600)
    try:
        item.save(condition=AddressBlock.pk.does_not_exist() | (AddressBlock.until < until))
    except Exception as error:  # noqa: BLE001 - a longer block is already in place
        if not condition_failed(error):
            raise
    return until


def unblock(address: str) -> bool:
    """Lift a block early (an operator, after a false alarm); answers whether there was one."""
    try:
        AddressBlock.get(*AddressBlock.key(address), consistent_read=True).delete()
    except AddressBlock.DoesNotExist:
        return False
    return True


def blocked_until(address: str, *, now: float | None = None) -> int | None:
    now = time.time() if now is None else now
    try:
        item = AddressBlock.get(*AddressBlock.key(address), consistent_read=True)
    except AddressBlock.DoesNotExist:
        return None
    return int(item.until) if item.until > now else None


def check(address: str, *, now: float | None = None) -> None:
    """Refuse (429 ``address_blocked`` with ``Retry-After``) while the address is blocked."""
    if not address:
        return
    until = blocked_until(address, now=now)
    if until is not None:
        now = time.time() if now is None else now
        wait = max(1, int(until - now))
        raise errors.RateLimited(MESSAGE, code="address_blocked", headers={"Retry-After": str(wait)})
