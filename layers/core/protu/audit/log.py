"""Recording events without a data write, and reading a tenant's events back.

``record`` is for what changes no company data but must be on the record (a failed login, a denied request): it
is the same transaction as ``store.tx.Transaction``, holding only the event and the chain head, so it is
serialised with every other append to the tenant's chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from protu import errors
from protu.audit.chain import HEAD_SK, event_sk, stored_time
from protu.audit.models import AuditEvent, AuditHead, chain_pk
from protu.store.tx import Transaction

MAX_PAGE = 100
MAX_SCANNED = 2000  # events one call reads at most, whatever the filters


def record(
    tenant_id: str,
    action: str,
    target: str,
    *,
    actor: str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    source_ip: str | None = None,
) -> dict[str, Any]:
    """Append one event to the tenant's chain; returns the committed event document (with seq and hash).

    ``actor``, ``request_id`` and ``source_ip`` default to the ones bound for the request (``audit.bound``).
    """

    tx = Transaction(tenant_id, actor=actor, request_id=request_id, source_ip=source_ip)
    tx.audit(action, target, details=details, outcome=outcome)
    return tx.commit()[0]


SUBJECTS_PER_EVENT = 100  # ids an event's 4 KiB of details hold with room to spare


def record_read(
    tenant_id: str,
    action: str,
    target: str,
    subjects: list[str],
    *,
    actor: str,
    details: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A read of personal data on the record: one event naming the ``subjects`` read (a list page: all of its
    people), spread over several events only past ``SUBJECTS_PER_EVENT``, committed as one write. The unusual-access
    watch counts it from the audit stream (``protu.security.access.watch``)."""
    tx = Transaction(tenant_id, actor=actor)
    chunks = [subjects[i : i + SUBJECTS_PER_EVENT] for i in range(0, len(subjects), SUBJECTS_PER_EVENT)] or [[]]
    for chunk in chunks:
        tx.audit(action, target, details={**(details or {}), **({"subjects": chunk} if chunk else {})})
    return tx.commit()


def events(
    tenant_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the tenant's events, newest first, and the cursor of the next page (None at the end).

    Filters are exact matches; ``since``/``until`` are inclusive bounds on ``time``. The cursor is the seq to
    continue below; it is only a position within the caller's own tenant chain, so it cannot reach another
    tenant's events. One call reads at most ``MAX_SCANNED`` events of the chain: with a sparse filter a page may
    hold fewer events than asked (even none) and still name a next cursor, so no request reads a whole chain.
    """
    limit = max(1, min(int(limit), MAX_PAGE))
    top = _cursor_seq(cursor) - 1 if cursor is not None else _head_seq(tenant_id)
    if top < 1:
        return [], None
    bottom = max(1, top - MAX_SCANNED + 1)
    conditions = [
        getattr(AuditEvent, name) == value
        for name, value in (("actor", actor), ("action", action), ("target", target))
        if value is not None
    ]
    if since is not None:
        conditions.append(AuditEvent.time >= stored_time(since))
    if until is not None:
        conditions.append(AuditEvent.time <= stored_time(until))
    filter_condition = None
    for condition in conditions:
        filter_condition = condition if filter_condition is None else filter_condition & condition
    found = list(
        AuditEvent.query(
            chain_pk(tenant_id),
            AuditEvent.sk.between(event_sk(bottom), event_sk(top)),
            filter_condition=filter_condition,
            scan_index_forward=False,
            limit=limit + 1,  # one more than asked tells whether another page exists
            page_size=limit + 1 if filter_condition is None else min(MAX_SCANNED, 500),
        )
    )
    page = [event.to_document() for event in found[:limit]]
    if len(found) > limit:
        return page, str(page[-1]["seq"])
    return page, (str(bottom) if bottom > 1 else None)


def log_actions(tenant_id: str) -> list[str]:
    """Every action the tenant's chain holds (kept on the head by each append), sorted."""
    try:
        head = AuditHead.get(chain_pk(tenant_id), HEAD_SK, consistent_read=True)
    except AuditHead.DoesNotExist:
        return []
    return sorted(head.actions or ())


def _head_seq(tenant_id: str) -> int:
    """The newest event's seq (0 for an empty chain)."""
    try:
        return int(AuditHead.get(chain_pk(tenant_id), HEAD_SK, consistent_read=True).seq)
    except AuditHead.DoesNotExist:
        return 0


def _cursor_seq(cursor: str) -> int:
    if not (isinstance(cursor, str) and cursor.isascii() and cursor.isdigit() and 0 < len(cursor) <= 12):
        raise errors.BadRequest("The cursor is not valid.", code="invalid_cursor")
    return int(cursor)
