"""The owner's audit log: ``/api/audit-events`` (permission ``audit``: owners only).

The company is always the caller's own (``call.principal.tenant_id``): nothing in the request names a tenant, and
the cursor is only a position inside the caller's chain. Events are the documents the chain hashes, so an owner
can re-verify an exported page with ``hashlib`` (see ``protu.audit.chain``); ``/verify`` walks the whole chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from protu import audit, errors
from protu.audit.chain import stored_time
from protu.http.routing import PUBLIC, Call, Refusal, Router
from protu.schemas import END, Strict, documented

router = Router("audit")

Filter = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="An exact match.")]
When = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="An ISO-8601 (RFC 3339) date and time with its offset, such as 2024-05-01T00:00:00Z. Inclusive.",
    ),
]
_MAX_CURSOR_DIGITS = 12  # what protu.audit.log accepts: a seq
OUT_OF_RANGE = "A time so close to the years 1 or 9999 that its offset takes it out of range."


class EventsQuery(Strict):
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50
    cursor: (
        Annotated[
            str,
            msgspec.Meta(max_length=200, description="next_cursor of the previous page."),
            documented(pattern=f"^(?=[0-9]{{1,{_MAX_CURSOR_DIGITS}}}{END})0*[1-9][0-9]*{END}"),  # else invalid_cursor
        ]
        | None
    ) = None
    actor: Filter | None = None
    action: Filter | None = None
    target: Filter | None = None
    since: When | None = None
    until: When | None = None


class AuditEventOut(msgspec.Struct):
    seq: int
    time: str
    actor: str
    action: str
    target: str
    outcome: str
    request_id: str | None
    source_ip: str | None
    details: dict[str, Any]
    hash: str
    prev_hash: str


class AuditPage(msgspec.Struct):
    items: list[AuditEventOut]
    next_cursor: str | None


class VerifyOut(msgspec.Struct):
    ok: bool
    checked: int
    first_broken: int | None
    reason: str | None


def _out(document: dict[str, Any]) -> AuditEventOut:
    return AuditEventOut(
        int(document["seq"]),
        document["time"],
        document["actor"],
        document["action"],
        document["target"],
        document["outcome"],
        document.get("request_id"),
        document.get("source_ip"),
        document.get("details") or {},
        document["hash"],
        document["prev_hash"],
    )


def _bad_cursor() -> errors.ValidationFailed:
    return errors.ValidationFailed(
        "This cursor is not valid; start from the first page.", code="invalid_cursor", details={"field": "cursor"}
    )


def _cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= _MAX_CURSOR_DIGITS and int(cursor) > 0):
        raise _bad_cursor()
    return cursor


def _checked_time(value: datetime | None, name: str) -> datetime | None:
    """``value`` if the audit log can compare it (``audit.chain.stored_time``), else a 422 naming the field."""
    if value is not None:
        try:
            stored_time(value)
        except (OverflowError, ValueError):  # 0001-01-01T00:00:00+01:00 is before the first representable instant
            raise errors.ValidationFailed(f"{name.capitalize()} is out of range.", details={"field": name}) from None
    return value


@router.get(
    "/api/audit-events",
    permission="audit",
    query=EventsQuery,
    errors=(
        Refusal(422, "validation_failed", "Until is before since.", "until"),
        *(Refusal(422, "validation_failed", OUT_OF_RANGE, name) for name in ("since", "until")),
    ),
)
def list_events(call: Call) -> AuditPage:
    """Your company's audit events, newest first (filters: actor, action, target, since, until)."""
    query: EventsQuery = call.query
    since, until = _checked_time(query.since, "since"), _checked_time(query.until, "until")
    if since is not None and until is not None and until < since:
        raise errors.ValidationFailed("Until must not be before since.", details={"field": "until"})
    try:
        found, next_cursor = audit.events(
            call.principal.tenant_id,
            limit=query.limit,
            cursor=_cursor(query.cursor),
            actor=query.actor,
            action=query.action,
            target=query.target,
            since=since,
            until=until,
        )
    except errors.BadRequest as error:  # audit.log answers a cursor it cannot read with a 400
        if error.code == "invalid_cursor":
            raise _bad_cursor() from None
        raise
    return AuditPage([_out(document) for document in found], next_cursor)


@router.get("/api/audit-events/verify", permission="audit")
def verify_chain(call: Call) -> VerifyOut:
    """Check your company's audit chain end to end and name the first event that does not verify."""
    result = audit.verify(call.principal.tenant_id)
    return VerifyOut(result.ok, result.checked, result.first_broken, result.reason)


class PublicKeyOut(msgspec.Struct):
    key_id: str
    algorithm: str
    public_key_pem: str


@router.get("/api/audit-events/public-key", permission=PUBLIC)
def public_key(call: Call) -> PublicKeyOut:
    """The public key the audit log's digests are signed with (ECDSA P-256, SHA-256): anyone can verify a digest
    with it, without an AWS account (docs/ARCHITECTURE.md, "Audit")."""
    from protu.audit import digests  # cold start: only this route and the digest job

    return PublicKeyOut(**digests.public_key())
