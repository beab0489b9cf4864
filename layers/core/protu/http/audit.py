"""The owner's audit log: ``/api/audit-events`` (permission ``audit``: owners only).

The company is always the caller's own (``call.principal.tenant_id``): nothing in the request names a tenant, and
the cursor is only a position inside the caller's chain. Events are the documents the chain hashes, so an owner
can re-verify an exported page with ``hashlib`` (see ``protu.audit.chain``); ``/verify`` walks the whole chain.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from protu import audit, errors
from protu.audit.chain import stored_time
from protu.http.routing import PUBLIC, Call, Refusal, Router
from protu.schemas import END, Strict, documented

if TYPE_CHECKING:  # imported where used: only the export routes need them
    from protu.ops import audit_exports

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


class AuditPage(msgspec.Struct, omit_defaults=True):
    items: list[AuditEventOut]
    next_cursor: str | None
    # the names of the people and records the page's ids are, when read (the events keep the ids)
    names: dict[str, str] = msgspec.field(default_factory=dict)


class ActionsOut(msgspec.Struct):
    items: list[str]


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
    """Your company's audit events, newest first (filters: actor, action, target, since, until), with the names of
    the people and records they name as they are now (``names``; the events keep ids). Each page read is audited."""
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
    filters = {name: value for name in ("actor", "action", "target") if (value := getattr(query, name)) is not None}
    filters |= {name: stored_time(value) for name, value in (("since", since), ("until", until)) if value is not None}
    seqs = [int(document["seq"]) for document in found]
    audit.record_read(  # reading the log is on the record too, one event a page
        call.principal.tenant_id,
        "audit.read",
        "audit:log",
        [],
        actor=call.principal.user_id,
        details={"count": len(seqs), "seqs": [min(seqs), max(seqs)] if seqs else [], "filters": filters},
    )
    from protu.directory import names  # cold start: this route only

    named = names.resolve(call.principal.tenant_id, names.ids_in(found)) if found else {}
    return AuditPage([_out(document) for document in found], next_cursor, named)


@router.get("/api/audit-events/actions", permission="audit")
def list_actions(call: Call) -> ActionsOut:
    """Every kind of event your company's log holds (for the action filter), sorted."""
    return ActionsOut(audit.log_actions(call.principal.tenant_id))


@router.get("/api/audit-events/verify", permission="audit")
def verify_chain(call: Call) -> VerifyOut:
    """Check your company's audit chain end to end and name the first event that does not verify."""
    result = audit.verify(call.principal.tenant_id)
    audit.record_read(
        call.principal.tenant_id,
        "audit.read",
        "audit:log",
        [],
        actor=call.principal.user_id,
        details={"verify": {"ok": result.ok, "checked": result.checked}},
    )
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


# ------------------------------------------------------------------------------------------------ exports
AUDIT_EXPORT_ID = re.compile(r"aex-[0-9a-f]{20}")


class AuditExportIn(Strict):
    since: When | None = None
    until: (
        Annotated[
            datetime,
            msgspec.Meta(
                tz=True, description="An RFC 3339 date and time with its offset; inclusive. Now when absent or later."
            ),
        ]
        | None
    ) = None


class AuditExportOut(msgspec.Struct, omit_defaults=True):
    id: str
    status: str  # pending | running | ready | failed
    since: str | None
    until: str
    requested_at: int
    requested_by: str
    expires_at: int
    completed_at: int | None = None
    size_bytes: int | None = None
    events: int | None = None
    digests: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    signed_through: int | None = None
    download_url: str | None = None
    download_expires_at: int | None = None


class AuditExportsOut(msgspec.Struct):
    items: list[AuditExportOut]


def _export_out(item: audit_exports.AuditExportRequest) -> AuditExportOut:
    counts = item.counts.as_dict() if item.counts else {}

    def number(value: Any) -> int | None:
        return int(value) if value is not None else None

    return AuditExportOut(
        id=item.id,
        status=item.status,
        since=item.since,
        until=item.until,
        requested_at=int(item.requested_at),
        requested_by=item.requested_by,
        expires_at=int(item.expires_at),
        completed_at=number(item.completed_at),
        size_bytes=number(item.size_bytes),
        events=number(counts.get("events")),
        digests=number(counts.get("digests")),
        first_seq=number(item.first_seq),
        last_seq=number(item.last_seq),
        signed_through=number(item.signed_through),
    )


@router.post(
    "/api/audit-events/exports",
    permission="audit",
    body=AuditExportIn,
    status=202,
    response=AuditExportOut,
    example={"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
    errors=(
        Refusal(422, "validation_failed", "Until is before since.", "until"),
        *(Refusal(422, "validation_failed", OUT_OF_RANGE, name) for name in ("since", "until")),
    ),
)
def request_export(call: Call) -> AuditExportOut:
    """Export your company's audit log for a time range, with the signed digests covering it and the public key,
    for an auditor to verify offline (docs/audit.md); ask its status with GET /api/audit-events/exports/{id}."""
    from protu.ops import audit_exports  # cold start: the export routes only

    body: AuditExportIn = call.body
    now = datetime.now(UTC)
    since, until = _checked_time(body.since, "since"), _checked_time(body.until, "until")
    until = now if until is None or until > now else until
    if since is not None and until < since:
        raise errors.ValidationFailed("Until must not be before since.", details={"field": "until"})
    item = audit_exports.request(
        call.principal.tenant_id,
        call.principal.user_id,
        since=stored_time(since) if since is not None else None,
        until=stored_time(until),
        now=time.time(),
    )
    return _export_out(item)


@router.get("/api/audit-events/exports", permission="audit", response=AuditExportsOut)
def list_exports(call: Call) -> AuditExportsOut:
    """Your company's recent audit exports (kept 7 days), newest first."""
    from protu.ops import audit_exports  # cold start: the export routes only

    return AuditExportsOut([_export_out(item) for item in audit_exports.recent(call.principal.tenant_id)])


@router.get("/api/audit-events/exports/{id}", permission="audit", response=AuditExportOut)
def read_export(call: Call) -> AuditExportOut:
    """One audit export's status; once ready, a download URL valid for 5 minutes (each one issued is audited)."""
    from protu.ops import audit_exports  # cold start: the export routes only

    export_id = call.params.get("id", "")
    if not AUDIT_EXPORT_ID.fullmatch(export_id):
        raise errors.NotFound("No such export.")
    item = audit_exports.get(call.principal.tenant_id, export_id)
    found = _export_out(item)
    if item.status == audit_exports.READY and item.object_key:
        found.download_url, found.download_expires_at = audit_exports.download_url(item, call.principal.user_id)
    return found
