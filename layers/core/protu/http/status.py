"""``GET /api/status`` (public): what the status page tells anybody beside the health checks, today the planned
maintenance (``protu.ops.maintenance``): each scheduled window that has not ended, soonest first, with its start,
end and summary and nothing else (no id, no history, no one's data).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from protu.http.routing import PUBLIC, Call, Router
from protu.ops import maintenance

router = Router("status")


class WindowOut(msgspec.Struct):
    start: Annotated[str, msgspec.Meta(description="When it starts (ISO 8601, UTC).")]
    end: Annotated[str, msgspec.Meta(description="When it ends (ISO 8601, UTC).")]
    summary: str


class StatusOut(msgspec.Struct):
    maintenance: list[WindowOut]


@router.get("/api/status", permission=PUBLIC, response=StatusOut)
def status(call: Call) -> StatusOut:
    """Planned maintenance: the windows announced that have not ended, soonest first."""
    return StatusOut([WindowOut(**window.public()) for window in maintenance.announced()])
