"""An owner's verifiable audit export: ``POST /api/audit-events/exports`` with a time range.

As the company export (``protu.ops.exports``): a request item (``T#<company>#REQUESTS``, ``AUDITEXPORT#<id>``)
whose INSERT on the data table's stream starts the job (``jobs.company_requests``); the job writes
``exports/<company>/<id>.jsonl`` to the backup bucket (SSE-KMS, removed with ``exports/`` after ``KEEP_DAYS``) and
marks the request ready; ``GET /api/audit-events/exports/{id}`` then gives a download URL valid ``URL_SECONDS``
(each one issued is audited). Before reading, the job asks the digest function for a digest of the company's
newest events (only that function may sign), so the export is signed up to the moment it was made.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from protu import aws, errors
from protu.audit import export
from protu.logging import get_logger
from protu.ops import exports
from protu.ops.exports import (
    FAILED,
    PREFIX,
    READY,
    RUNNING,
    ExportRequest,
)
from protu.settings import settings
from protu.store import scope
from protu.store.tx import Transaction

KIND = "AUDITEXPORT"
SIGN_ATTEMPTS = 4  # digests asked for before exporting what is signed so far
SIGN_PAUSE_SECONDS = 2.0  # times the attempt (2, 4, 6 s): the mirror copies new events within seconds
ID_PREFIX = "aex-"
log = get_logger(__name__)


class AuditExportRequest(ExportRequest):
    """One requested audit export; ``since`` is None for "from the first event"."""

    since = UnicodeAttribute(null=True)
    until = UnicodeAttribute()
    first_seq = NumberAttribute(null=True)
    last_seq = NumberAttribute(null=True)
    signed_through = NumberAttribute(null=True)  # the last seq a digest in the file signs


AUDIT_EXPORTS = exports.Requests(AuditExportRequest, KIND, ID_PREFIX, "audit_export")


def request(tenant_id: str, user_id: str, *, since: str | None, until: str, now: float | None = None):
    """Record a request (audited); while one is pending or running, that one is answered instead."""
    return AUDIT_EXPORTS.new(tenant_id, user_id, now, "audit.export_requested", {"since": since, "until": until})


def recent(tenant_id: str, limit: int = 20) -> list[AuditExportRequest]:
    """The company's audit exports still kept, newest first."""
    return AUDIT_EXPORTS.recent(tenant_id, limit)


def get(tenant_id: str, export_id: str) -> AuditExportRequest:
    return AUDIT_EXPORTS.get(tenant_id, export_id)


def download_url(item: AuditExportRequest, user_id: str) -> tuple[str, int]:
    """A short-lived URL of a ready export (audited)."""
    name = f"protu-audit-{item.tenant_id}-{time.strftime('%Y%m%d', time.gmtime(int(item.requested_at)))}.jsonl"
    return exports.signed_link(
        item, user_id, name, "application/x-ndjson", "audit.export_downloaded", f"audit_export:{item.id}"
    )


# ------------------------------------------------------------------------------------------------ the job
def run(tenant_id: str, export_id: str) -> dict[str, Any]:
    """Build one requested export; answers its summary. A request already done (or gone) is left alone."""
    with scope.acting_for(tenant_id):
        try:
            item = get(tenant_id, export_id)
        except errors.NotFound:
            return {"export_id": export_id, "status": "gone"}
        if item.status in (READY, FAILED):
            return {"export_id": export_id, "status": item.status}
        item.update(actions=[AuditExportRequest.status.set(RUNNING)])
        try:
            signed_past_until(tenant_id, item.until)
            body, summary = build(item)
            key = f"{PREFIX}/{tenant_id}/{export_id}.jsonl"
            exports.store(key, body, "application/x-ndjson")
        except Exception as error:
            log.exception("audit export failed", extra={"export_id": export_id, "error_type": type(error).__name__})
            _finish(item, FAILED, {}, outcome="failure")
            return {"export_id": export_id, "status": FAILED}
        _finish(item, READY, summary, key=key, size=len(body))
    return {"export_id": export_id, "status": READY, **summary}


def signed_past_until(tenant_id: str, until: str) -> bool:
    """Ask for digests until one signs an event after ``until`` (the export's own request is one), which proves the
    end of the range complete; a digest signs only events the mirror has copied, seconds after they are written.
    False after ``SIGN_ATTEMPTS``: the export then says which events are not signed yet."""
    for attempt in range(SIGN_ATTEMPTS):
        fresh_digest(tenant_id)
        if export.signed_after(tenant_id, until):
            return True
        if attempt + 1 < SIGN_ATTEMPTS:
            time.sleep(SIGN_PAUSE_SECONDS * (attempt + 1))
    log.warning("audit export: the end of its range is not signed yet", extra={"tenant": tenant_id})
    return False


def fresh_digest(tenant_id: str) -> bool:
    """Ask the digest function (the only one allowed to sign) for a digest of the company's newest events. A
    failure is logged, not raised: the export then says which events are not signed yet."""
    name = settings().audit_digest_function
    if not name:
        return False
    try:
        answer = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"tenant": tenant_id}).encode())
        failed = "FunctionError" in answer or json.loads(answer["Payload"].read() or b"{}").get("failed")
    except Exception:  # noqa: BLE001 - the export goes on; its unsigned events are named in it
        log.warning("fresh audit digest failed", exc_info=True)
        return False
    if failed:
        log.warning("fresh audit digest failed", extra={"tenant": tenant_id})
    return not failed


def build(item: AuditExportRequest) -> tuple[bytes, dict[str, Any]]:
    """The export's bytes and its summary (events, digests, the seqs and the last signed one)."""
    out, summary = [], {"events": 0, "digests": 0, "first_seq": 0, "last_seq": 0, "signed_through": 0}
    for kind, document in export.lines(
        item.tenant_id, since=item.since, until=item.until, export_id=item.id, created_at=time.time()
    ):
        out.append(json.dumps(document, sort_keys=True, ensure_ascii=False) + "\n")
        if kind == "header":
            summary["first_seq"], summary["last_seq"] = document["first_seq"], document["last_seq"]
        elif kind == "event":
            summary["events"] += 1
        else:
            summary["digests"] += 1
            summary["signed_through"] = int(document["digest"].get("last_seq") or 0)
    return "".join(out).encode("utf-8"), summary


def _finish(
    item: AuditExportRequest, status: str, summary: dict[str, Any], *, key: str = "", size: int = 0, outcome="success"
) -> None:
    actions = [AuditExportRequest.status.set(status), AuditExportRequest.completed_at.set(int(time.time()))]
    if key:
        actions += [
            AuditExportRequest.object_key.set(key),
            AuditExportRequest.size_bytes.set(size),
            AuditExportRequest.counts.set({"events": summary["events"], "digests": summary["digests"]}),
            AuditExportRequest.first_seq.set(summary["first_seq"]),
            AuditExportRequest.last_seq.set(summary["last_seq"]),
            AuditExportRequest.signed_through.set(summary["signed_through"]),
        ]
    with Transaction(item.tenant_id, actor=item.requested_by) as tx:
        tx.update(item, actions)
        details = {"events": summary["events"], "digests": summary["digests"]} if key else {}
        tx.audit("audit.exported", f"audit_export:{item.id}", details=details, outcome=outcome)
