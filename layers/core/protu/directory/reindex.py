"""Bring every company record's index entries (``directory.store``: the filter slots ``f<n>pk`` and the search words)
in line with its fields: once after deploying the indexes (records written before them have none), and whenever
``INDEX_VERSION`` or a kind's indexed or searched fields change. Derived data, so no audit event: the records' fields
do not change. ``protu-ops reindex``.
"""

from __future__ import annotations

from typing import Any

from protu.directory import kinds
from protu.directory.store import INDEX_SLOTS, INDEX_VERSION, Record, Records, Search


def run(tenant_id: str | None = None) -> dict[str, Any]:
    """Scan the company records (of one company, or all) and fix those behind; answers the counts."""
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
        if _fix(Records(parts[1], kind.prefix, kind.indexed), kind, record):
            fixed += 1
    return {"records": checked, "fixed": fixed}


def _fix(records: Records, kind: kinds.Kind, record: Record) -> bool:
    data = record.data.as_dict() if hasattr(record.data, "as_dict") else dict(record.data or {})
    wanted = records.index_values(data)
    slots = [f"f{slot}pk" for slot in range(1, INDEX_SLOTS + 1)]
    behind = record.index_version != INDEX_VERSION or any(getattr(record, n) != wanted.get(n) for n in slots)
    if not behind:
        return False
    for entry in Search(records, kind.search).entries(record.id, data):
        entry.save()  # a word already there is written again, unchanged
    unused = [getattr(Record, name).remove() for name in slots if name not in wanted and getattr(record, name)]
    record.update(actions=records.index_actions(data) + unused)
    return True
