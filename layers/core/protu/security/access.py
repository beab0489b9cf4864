"""Unusual data access: one user opening far more sensitive records (assessment responses) than anyone needs to.

Each read of sensitive records counts towards a per-user window (``ratelimit``, weighted by the records opened).
Crossing ``READS_LIMIT`` within ``WINDOW_SECONDS`` raises the ``access.unusual`` signal once per window; the read
itself is still answered (it is audited either way) — containing a suspicious user is the incident workflow's
decision, not a read path's.
"""

from __future__ import annotations

from typing import Any

READS_LIMIT = 200
WINDOW_SECONDS = 600


def opened(principal: Any, entity: str, count: int) -> bool:
    """Count ``count`` sensitive records opened by the caller; True when this read crossed the limit."""
    from protu.security import ratelimit, signals

    key = f"{principal.tenant_id}:{principal.user_id}"
    decision = ratelimit.hit("reads", key, limit=READS_LIMIT, window_seconds=WINDOW_SECONDS, weight=count)
    crossed = decision.count > READS_LIMIT >= decision.count - count
    if crossed:
        signals.raise_signal(
            "access.unusual",
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            details={"entity": entity, "opened": decision.count, "window_seconds": WINDOW_SECONDS},
        )
    return crossed
