"""A company's data-protection export: everything Protu holds for a company, opened, as a ZIP of JSON files.

``POST /api/exports`` (owners) records a request (``T#<company>#REQUESTS``, ``EXPORT#<id>``, status ``pending``)
and answers at once; the request's INSERT on the data table's stream starts the export job
(``functions/jobs/jobs.py`` ``company_requests``; locally the background pump of ``make run``, or a test's pump).
The job writes ``exports/<company>/<id>.zip`` to the backup bucket (SSE-KMS; the bucket's lifecycle removes
``exports/`` after ``KEEP_DAYS``) and marks the request ``ready`` (or ``failed``). ``GET /api/exports/{id}`` then
gives a download URL valid ``URL_SECONDS``; issuing one is audited, as the archive holds everything in clear.

The archive, one file per part:

    company.json          the company's settings and plan
    users.json            people who can sign in (no password hashes, no two-factor secrets, no recovery codes)
    <kind>.json           every record of roles, teams, employees, candidates, assessments, responses, opened
    audit-events.jsonl    the company's audit log, oldest first
    manifest.json         when, by whom, and how many items each file holds

The job acts for the company through the company's tenant session (``protu.store.scope``), as a request does. It
is idempotent: a request already ``ready`` is left alone, and a re-run rewrites the same object.
"""

from __future__ import annotations

import io
import json
import secrets
import time
import zipfile
from typing import Any

import msgspec
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute

from protu import audit, aws, errors
from protu.audit.log import events
from protu.directory.store import Records
from protu.logging import get_logger
from protu.principal import Principal
from protu.settings import settings
from protu.store import scope
from protu.store.base import tenant_pk
from protu.store.items import DataItem
from protu.store.tx import Transaction

KEEP_DAYS = 7  # the archive and its request; the bucket's lifecycle rule for exports/ says the same
URL_SECONDS = 300
REQUESTS = "REQUESTS"
PREFIX = "exports"
PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"
STUCK_SECONDS = 3600  # a request pending or running for longer than this no longer blocks a new one
log = get_logger(__name__)


class ExportRequest(DataItem):
    """One requested export of a company's data; the stream of its INSERT starts the job."""

    id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    status = UnicodeAttribute()
    requested_by = UnicodeAttribute()
    requested_at = NumberAttribute()
    completed_at = NumberAttribute(null=True)
    object_key = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(null=True)
    counts = MapAttribute(null=True)
    expires_at = NumberAttribute()  # TTL: the request goes with its archive

    @staticmethod
    def partition(tenant_id: str) -> str:
        return tenant_pk(tenant_id, REQUESTS)


# ------------------------------------------------------------------------------------------------ requests
class Requests(msgspec.Struct, frozen=True):
    """One kind of export request (this module's, ``ops.audit_exports``'): its model (``ExportRequest`` or a
    subclass), the sort key's kind (``<KIND>#<id>``), its ids' prefix and the audit target's name."""

    model: type
    kind: str
    id_prefix: str
    target: str

    def new(self, tenant_id: str, user_id: str, now: float | None, action: str, fields: dict[str, Any]) -> Any:
        """A new request, audited as ``action`` naming ``fields`` (its own attributes); while one of the company's
        is pending or running, that one instead."""
        now = int(time.time() if now is None else now)
        for found in self.recent(tenant_id, 5):
            if found.status in (PENDING, RUNNING) and now - int(found.requested_at) < STUCK_SECONDS:
                return found
        export_id = self.id_prefix + secrets.token_hex(10)
        item = self.model(
            self.model.partition(tenant_id),
            f"{self.kind}#{export_id}",
            id=export_id,
            tenant_id=tenant_id,
            status=PENDING,
            requested_by=user_id,
            requested_at=now,
            expires_at=now + KEEP_DAYS * 86400,
            **fields,
        )
        with Transaction(tenant_id, actor=user_id) as tx:
            tx.save(item, condition=self.model.pk.does_not_exist())
            tx.audit(action, f"{self.target}:{export_id}", details=fields)
        return item

    def recent(self, tenant_id: str, limit: int = 20) -> list[Any]:
        """The company's requests of this kind still kept, newest first."""
        model = self.model
        found = model.query(model.partition(tenant_id), model.sk.startswith(f"{self.kind}#"), consistent_read=True)
        return sorted(found, key=lambda item: -int(item.requested_at))[:limit]

    def get(self, tenant_id: str, export_id: str) -> Any:
        """One of the company's requests; 404 alike for another company's id and for none."""
        if not export_id.startswith(self.id_prefix) or len(export_id) > 40:
            raise errors.NotFound("No such export.")
        try:
            return self.model.get(self.model.partition(tenant_id), f"{self.kind}#{export_id}", consistent_read=True)
        except self.model.DoesNotExist:
            raise errors.NotFound("No such export.") from None


COMPANY_EXPORTS = Requests(ExportRequest, "EXPORT", "exp-", "export")


def request(tenant_id: str, user_id: str, now: float | None = None) -> ExportRequest:
    """Record an export request (audited). While one is pending or running, that one is answered instead."""
    return COMPANY_EXPORTS.new(tenant_id, user_id, now, "company.export_requested", {})


def recent(tenant_id: str, limit: int = 20) -> list[ExportRequest]:
    """The company's export requests still kept, newest first."""
    return COMPANY_EXPORTS.recent(tenant_id, limit)


def get(tenant_id: str, export_id: str) -> ExportRequest:
    return COMPANY_EXPORTS.get(tenant_id, export_id)


def download_url(item: ExportRequest, user_id: str) -> tuple[str, int]:
    """A short-lived URL of a ready archive (audited: the archive holds everything in clear)."""
    name = f"protu-export-{item.tenant_id}-{time.strftime('%Y%m%d', time.gmtime(int(item.requested_at)))}.zip"
    return signed_link(item, user_id, name, "application/zip", "company.export_downloaded", f"export:{item.id}")


def signed_link(item: ExportRequest, user_id: str, filename: str, content_type: str, action: str, target: str):
    """``(url, expires_at)``: a download URL of a ready export's object valid ``URL_SECONDS``, issued on the record
    (``action`` on ``target``)."""
    url = aws.client("s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": settings().backup_bucket,
            "Key": item.object_key,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
            "ResponseContentType": content_type,
        },
        ExpiresIn=URL_SECONDS,
    )
    audit.record(item.tenant_id, action, target, actor=user_id)
    return url, int(time.time()) + URL_SECONDS


def store(key: str, body: bytes, content_type: str) -> None:
    """An export's object in the backup bucket, encrypted with the data key (``exports/`` expires after
    ``KEEP_DAYS``)."""
    aws.client("s3").put_object(
        Bucket=settings().backup_bucket,
        Key=key,
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=settings().kms_key_id,
        ContentType=content_type,
    )


# ------------------------------------------------------------------------------------------------ the job
def run(tenant_id: str, export_id: str) -> dict[str, Any]:
    """Build one requested archive; answers its summary. A request already done (or gone) is left alone."""

    started = time.monotonic()
    with scope.acting_for(tenant_id):
        try:
            item = get(tenant_id, export_id)
        except errors.NotFound:
            return {"export_id": export_id, "status": "gone"}
        if item.status in (READY, FAILED):
            return {"export_id": export_id, "status": item.status}
        item.update(actions=[ExportRequest.status.set(RUNNING)])
        try:
            body, counts = archive(tenant_id, item.requested_by, export_id)
            key = f"{PREFIX}/{tenant_id}/{export_id}.zip"
            store(key, body, "application/zip")
        except Exception as error:
            log.exception("export failed", extra={"export_id": export_id, "error_type": type(error).__name__})
            _finish(item, FAILED, outcome="failure")
            return {"export_id": export_id, "status": FAILED}
        _finish(item, READY, key=key, size=len(body), counts=counts)
    summary = {
        "export_id": export_id,
        "status": READY,
        "bytes": len(body),
        "counts": counts,
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("export done", extra=summary)
    return summary


def _finish(
    item: ExportRequest,
    status: str,
    *,
    key: str | None = None,
    size: int = 0,
    counts: dict | None = None,
    outcome: str = "success",
) -> None:
    actions = [ExportRequest.status.set(status), ExportRequest.completed_at.set(int(time.time()))]
    if key:
        actions += [
            ExportRequest.object_key.set(key),
            ExportRequest.size_bytes.set(size),
            ExportRequest.counts.set(counts or {}),
        ]
    with Transaction(item.tenant_id, actor=item.requested_by) as tx:
        tx.update(item, actions)
        details = {"items": sum((counts or {}).values())} if counts else {}
        tx.audit("company.exported", f"export:{item.id}", details=details, outcome=outcome)


def archive(tenant_id: str, requested_by: str, export_id: str = "") -> tuple[bytes, dict[str, int]]:
    """The archive's bytes and the number of items in each of its files."""
    parts: dict[str, Any] = {"company.json": _company(tenant_id), "users.json": _users(tenant_id)}
    parts.update({f"{name}.json": records for name, records in _records(tenant_id, requested_by).items()})
    events = _audit_events(tenant_id)
    counts = {name: (len(value) if isinstance(value, list) else 1) for name, value in parts.items()}
    counts["audit-events.jsonl"] = len(events)
    manifest = {
        "company_id": tenant_id,
        "export_id": export_id,
        "requested_by": requested_by,
        "created_at": int(time.time()),
        "format": "Protu data export 1: one JSON document per file, audit events one JSON object a line",
        "files": counts,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        for name, value in parts.items():
            zipped.writestr(name, json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False))
        zipped.writestr("audit-events.jsonl", "".join(json.dumps(e, sort_keys=True) + "\n" for e in events))
    return buffer.getvalue(), counts


def _company(tenant_id: str) -> dict[str, Any]:
    # cold start: loaded on first use
    from protu.billing import service as billing
    from protu.identity import company_settings

    company = company_settings.get(tenant_id)
    state = billing.state(tenant_id)
    return {
        "id": tenant_id,
        "created_at": int(company.created_at),
        "settings": company_settings.values(company),
        "billing": {"plan": state.plan or "free", "status": state.status, "customer_id": state.customer_id},
    }


def _users(tenant_id: str) -> list[dict[str, Any]]:
    # cold start: loaded on first use
    from protu.identity.users import list_users

    fields = ("id", "email", "name", "role", "status", "created_at", "last_sign_in_at", "mfa_enabled")
    return [{name: getattr(user, name) for name in fields} for user in list_users(tenant_id)]


def _records(tenant_id: str, requested_by: str) -> dict[str, list[Any]]:
    # cold start: loaded on first use
    import msgspec

    # cold start: loaded on first use
    from protu.directory import kinds, service

    principal = Principal.system(tenant_id, requested_by)
    found: dict[str, list[Any]] = {}
    for kind in kinds.KINDS.values():
        records, cursor = [], None
        while True:
            page, cursor = Records(tenant_id, kind.prefix).page(limit=100, cursor=cursor)
            records += [msgspec.to_builtins(service.out(principal, kind, record)) for record in page]
            if cursor is None:
                break
        found[kind.name] = records
    return found


def _audit_events(tenant_id: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        page, cursor = events(tenant_id, limit=100, cursor=cursor)
        found += page
        if cursor is None:
            break
    return found[::-1]


# ------------------------------------------------------------------------------------------------ stream
def requests_in(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(kind, company, id) of each request an event's stream records insert: ``export``, ``erasure`` or
    ``auditexport`` (``EXPORT#``, ``ERASURE#``, ``AUDITEXPORT#``)."""
    found = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        keys = (record.get("dynamodb") or {}).get("Keys") or {}
        pk, sk = (keys.get("pk") or {}).get("S", ""), (keys.get("sk") or {}).get("S", "")
        if not (pk.startswith("T#") and pk.endswith(f"#{REQUESTS}")):
            continue
        kind, _, request_id = sk.partition("#")
        if kind in ("EXPORT", "ERASURE", "AUDITEXPORT") and request_id:
            found.append((kind.lower(), pk.split("#", 2)[1], request_id))
    return found
