"""Scheduled and stream-driven job handlers (one module, several Lambda functions).

Thin: each handler parses its event, calls the core, shapes the answer. Each imports its core where it runs, so a
function pays at cold start only for the handler it is configured with.
"""

from __future__ import annotations

from typing import Any


def mirror_audit(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """DynamoDB Streams (audit table) -> Object-Lock bucket. Raising makes Lambda redeliver the batch."""
    from protu.audit.mirror import mirror_records

    return {"mirrored": mirror_records(event.get("Records") or [])}
