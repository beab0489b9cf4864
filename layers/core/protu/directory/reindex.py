"""Bring every company record's filter index entries (``directory.store``: ``f<n>pk``) in line with its fields: once
after deploying the filter indexes (records written before them have none), and whenever a kind's ``indexed``
fields change. Derived data, so no audit event: the records' fields do not change. ``protu-ops reindex``.
"""

from __future__ import annotations

from typing import Any

from protu.directory import kinds
from protu.directory.store import Record, Records


def run(tenant_id: str | None = None) -> dict[str, Any]:
    """Scan the company records (of one company, or all) and fix the entries that differ; answers the counts."""
    by_prefix = {kind.prefix: kind for kind in kinds.KINDS.values()}
    checked = fixed = 0
    condition = Record.kind.exists()
    if tenant_id is not None:
        condition &= Record.pk.startswith(f"T#{tenant_id}#")
    for record in Record.scan(condition):
        kind = by_prefix.get(record.kind)
        parts = record.pk.split("#")
        if kind is None or len(parts) != 3 or parts[2] != kind.prefix:
            continue
        checked += 1
        records = Records(parts[1], kind.prefix, kind.indexed)
        data = record.data.as_dict() if hasattr(record.data, "as_dict") else dict(record.data or {})
        wanted = records.index_values(data)
        stale = [
            name for slot, name in enumerate(("f1pk", "f2pk", "f3pk"), 1) if getattr(record, name) != wanted.get(name)
        ]
        if stale:
            record.update(actions=records.index_actions(data) + _unused(len(kind.indexed), record))
            fixed += 1
    return {"records": checked, "fixed": fixed}


def _unused(used: int, record: Record) -> list[Any]:
    """Slots past the kind's indexed fields that still hold an entry (a field no longer indexed)."""
    return [getattr(Record, f"f{slot}pk").remove() for slot in range(used + 1, 4) if getattr(record, f"f{slot}pk")]
