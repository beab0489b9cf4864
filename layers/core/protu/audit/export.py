"""A company's audit log for a time range, as evidence an auditor verifies without trusting Protu: JSON Lines of
the events, the signed digests covering them and the public key (``docs/audit.md`` describes the format for
auditors; ``tools/verify_audit_export.py`` checks it with ``cryptography`` alone).

The file holds whole signed segments (a digest's ``first_seq..last_seq``): from the segment holding the last event
before ``since`` to the segment holding the first event after ``until``. So every event in it is signed, and the
events on either side of the range, in it too, show that nothing of the range was left out. Events written since
the newest digest (the export job asks for a fresh one first, ``protu.ops.audit_exports``) are included as they
are and a verifier calls them not proven.

Finding the range reads at most ~2·log2(chain length) events (a binary search on ``time``, which grows with
``seq``) and then the events it exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from protu import aws
from protu.audit import digests
from protu.audit.chain import HEAD_SK, event_sk
from protu.audit.models import AuditEvent, AuditHead, chain_pk
from protu.settings import settings

FORMAT = "protu-audit-export"
VERSION = 1


def segments(tenant_id: str) -> list[tuple[int, int, str]]:
    """The company's digests as ``(first_seq, last_seq, object key)``, oldest first, from their keys alone."""
    s3 = aws.client("s3")
    keys = sorted(
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=settings().audit_bucket, Prefix=f"{digests.PREFIX}{tenant_id}/"
        )
        for item in page.get("Contents") or ()
    )
    found, first = [], 1
    for key in keys:
        name = key.rsplit("/", 1)[-1].removesuffix(".json")
        if not (name.isdigit() and len(name) == 12):
            continue
        last = int(name)
        found.append((first, last, key))
        first = last + 1
    return found


def signed_after(tenant_id: str, until: str) -> bool:
    """Whether the newest digest signs an event later than ``until`` (a stored time)."""
    signed = segments(tenant_id)
    if not signed:
        return False
    time = _time_of(tenant_id, signed[-1][1])
    return time is not None and time > until


def span(tenant_id: str, since: str | None, until: str) -> tuple[int, int, int]:
    """``(first, last, head)``: the seqs an export of ``since..until`` (stored times) holds, and the chain's head."""
    head = _head_seq(tenant_id)
    if head == 0:
        return 0, 0, 0
    before = _first_at_or_after(tenant_id, since, head, strictly=False) - 1 if since else 0  # 0: none before
    after = _first_at_or_after(tenant_id, until, head, strictly=True)  # head + 1: none after
    first, last = max(before, 1), min(after, head)
    signed = segments(tenant_id)
    for start, end, _ in signed:
        if start <= first <= end:
            first = start
        if start <= last <= end:
            last = end
    return first, last, head


def lines(
    tenant_id: str, *, since: str | None, until: str, export_id: str, created_at: float
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The export, line by line: ``(kind, document)`` with kind ``header``, ``event`` or ``digest``."""
    first, last, _ = span(tenant_id, since, until)
    chosen = [(start, end, key) for start, end, key in segments(tenant_id) if first and start <= last and end >= first]
    yield (
        "header",
        {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "tenant": tenant_id,
            "export_id": export_id,
            "created_at": datetime.fromtimestamp(created_at, UTC).isoformat(timespec="seconds"),
            "since": since,
            "until": until,
            "first_seq": first,
            "last_seq": last,
            "public_key": digests.public_key(),
        },
    )
    if first:
        query = AuditEvent.query(
            chain_pk(tenant_id), AuditEvent.sk.between(event_sk(first), event_sk(last)), consistent_read=True
        )
        for event in query:
            yield "event", {"type": "event", "event": event.to_document()}
    s3 = aws.client("s3")
    for _, _, key in chosen:
        body = s3.get_object(Bucket=settings().audit_bucket, Key=key)["Body"].read()
        try:
            digest = json.loads(body)
        except ValueError:
            digest = {}
        yield "digest", {"type": "digest", "digest": digest}


def _head_seq(tenant_id: str) -> int:
    try:
        return int(AuditHead.get(chain_pk(tenant_id), HEAD_SK, consistent_read=True).seq)
    except AuditHead.DoesNotExist:
        return 0


def _first_at_or_after(tenant_id: str, moment: str, head: int, *, strictly: bool) -> int:
    """The smallest seq whose time is at or after ``moment`` (after it, when ``strictly``); ``head + 1`` if none.
    A binary search: events' times grow with their seq (each is sealed when it joins the chain)."""
    low, high = 1, head + 1
    while low < high:
        middle = (low + high) // 2
        time = _time_of(tenant_id, middle)
        if time is None or (time > moment if strictly else time >= moment):
            high = middle
        else:
            low = middle + 1
    return low


def _time_of(tenant_id: str, seq: int) -> str | None:
    try:
        found = AuditEvent.get(chain_pk(tenant_id), event_sk(seq), attributes_to_get=["time"], consistent_read=True)
    except AuditEvent.DoesNotExist:
        return None  # a missing event: the search goes on below it; the verifier names the gap
    return found.time
