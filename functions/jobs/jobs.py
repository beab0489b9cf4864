"""Scheduled and stream-driven job handlers (one module, several Lambda functions).

Thin: each handler parses its event, calls the core, shapes the answer. Each imports its core where it runs, so a
function pays at cold start only for the handler it is configured with. Each counts its run (``metrics.job``:
``JobRuns`` and ``JobFailures`` by ``Job``, service ``jobs``): a backup that did not complete, a restore test that
found a problem and a company request that failed count as failures, as does any exception.
"""

from __future__ import annotations

from typing import Any

from protu import metrics
from protu.observability import init_sentry

init_sentry("jobs")


def _incomplete(summary: dict[str, Any]) -> bool:
    return not summary.get("complete")


def _not_ok(result: dict[str, Any]) -> bool:
    return not result.get("ok")


def _any_failed(answer: dict[str, Any]) -> bool:
    return any(done.get("status") == "failed" for done in answer.get("results") or [])


@metrics.job("mirror-audit")
def mirror_audit(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """DynamoDB Streams (audit table) -> Object-Lock bucket; then the reads among the new events count towards the
    unusual-access watch (``protu.security.access.watch``). Raising makes Lambda redeliver the batch: only the
    mirror raises (its writes are idempotent); a failed watch is logged and leaves the copies alone."""
    # cold start: loaded on first use
    from protu.audit.mirror import mirror_records
    from protu.logging import get_logger
    from protu.security import access

    records = event.get("Records") or []
    mirrored = mirror_records(records)
    try:
        watched = access.watch(records)
    except Exception:  # noqa: BLE001 - the copies are written; a watch that failed is logged for on-call
        get_logger("jobs").exception("the read watch failed on a batch")
        watched = -1
    return {"mirrored": mirrored, "reads_watched": watched}


@metrics.job("audit-digests", failed=lambda answer: bool(answer.get("failed")))
def audit_digests(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """Hourly (EventBridge Scheduler): a signed digest of each company's new audit events (``protu.audit.digests``);
    invoked with ``{"tenant": <company>}`` by an audit export, that company's digest now."""
    from protu.audit import digests  # cold start: this job's module only

    tenant = (event or {}).get("tenant")  # an audit export asks for its company's digest now
    if tenant is not None and not (isinstance(tenant, str) and 0 < len(tenant) <= 64 and tenant.isprintable()):
        raise ValueError("tenant must be a company id")
    return digests.write_all(tenant_id=tenant)


@metrics.job("mail", failed=lambda answer: bool(answer.get("batchItemFailures")))
def mail(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """SQS (MailQueue) -> identity mail jobs (``protu.identity.mailworker``); the jobs that failed are reported back
    (``ReportBatchItemFailures``) and tried again."""
    # cold start: loaded on first use
    from protu.identity import mailworker

    return mailworker.handle(event)


def _deadline(context: Any, margin_seconds: float = 60.0) -> float | None:
    """A ``time.monotonic()`` by which to stop, leaving ``margin_seconds`` of the invocation's time."""
    # cold start: loaded on first use
    import time

    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return time.monotonic() + remaining() / 1000 - margin_seconds if remaining else None


@metrics.job("backup", failed=_incomplete)
def backup(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """EventBridge Scheduler, daily: DynamoDB backups and per-company exports (``protu.ops.backup``)."""
    # cold start: loaded on first use
    from protu.ops import backup as job

    return job.run(deadline=_deadline(context))


@metrics.job("restore-test", failed=_not_ok)
def restore_test(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """EventBridge Scheduler, daily after the backup: restore the newest one and check it
    (``protu.ops.restore_test``)."""
    # cold start: loaded on first use
    from protu.ops import restore_test as job

    return job.run()


@metrics.job("dr-drill", failed=_not_ok)
def dr_drill(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """EventBridge Scheduler, monthly: restore the newest backup in the DR region from what exists there and open
    its sealed data (``protu.ops.dr_drill``)."""
    # cold start: loaded on first use
    from protu.ops import dr_drill as job

    return job.run()


@metrics.job("retention")
def retention(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """EventBridge Scheduler, daily: remove what expired and TTL has not removed yet (``protu.ops.retention``)."""
    # cold start: loaded on first use
    from protu.ops import retention as job

    return job.run(dry_run=bool((event or {}).get("dry_run")), deadline=_deadline(context))


@metrics.job("company-requests", failed=_any_failed)
def company_requests(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """DynamoDB Streams (data table, INSERTs of ``T#<company>#REQUESTS`` items): a company's data export
    (``protu.ops.exports``), an audit export (``protu.ops.audit_exports``) or the deletion that finishes a company's
    erasure (``protu.ops.erasure``). Other records are ignored (the event source mapping filters them out in the cloud
    already). Raising makes Lambda redeliver the batch; each request is idempotent."""
    # cold start: loaded on first use
    from protu.ops import exports

    done = []
    for kind, tenant_id, request_id in exports.requests_in(event.get("Records") or []):
        if kind == "export":
            done.append(exports.run(tenant_id, request_id))
        elif kind == "auditexport":
            # cold start: loaded on first use
            from protu.ops import audit_exports

            done.append(audit_exports.run(tenant_id, request_id))
        else:
            # cold start: loaded on first use
            from protu.ops import erasure

            done.append(erasure.purge(tenant_id, request_id))
    return {"requests": len(done), "results": done}


@metrics.job("key-rotation", failed=lambda answer: bool(answer.get("failed")) or not answer.get("complete"))
def rotate_keys(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """EventBridge Scheduler, daily: a new data key for each company whose key is older than ``KEY_ROTATION_DAYS``
    (``protu.ops.key_rotation``)."""
    # cold start: this job's module only
    from protu.ops import key_rotation

    return key_rotation.run(deadline=_deadline(context))


@metrics.job("signing-key-rotation")
def rotate_signing_keys(event: dict[str, Any], context: Any = None) -> dict[str, str]:
    """Secrets Manager's rotation of the access tokens' signing keys, one step per call
    (``protu.identity.signing_keys``). Raising tells Secrets Manager the step failed; it retries the rotation."""
    # cold start: this job's module only
    from protu.identity import signing_keys

    return signing_keys.handle(event)


def _errors(answer: dict[str, Any]) -> bool:
    return bool(answer.get("errors"))


@metrics.job("audit-stream", failed=_errors)
def audit_stream(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """DynamoDB Streams (audit table, INSERTs of events) -> each company's active audit-stream endpoints
    (``protu.ops.audit_streams.delivery``). An endpoint that is down never makes this raise (the audit write is
    committed; the endpoint retries on its own backoff); our own storage failing does, so Lambda redelivers the
    batch (runs are idempotent)."""
    # cold start: this job's module only
    from protu.ops.audit_streams import delivery

    return delivery.on_new_events(event.get("Records") or [], deadline=_deadline(context, 30.0))


@metrics.job("audit-stream-retry", failed=_errors)
def audit_stream_retry(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """EventBridge Scheduler, every 5 minutes: audit-stream endpoints whose retry is due, and the runs left over
    (``protu.ops.audit_streams.delivery``)."""
    # cold start: this job's module only
    from protu.ops.audit_streams import delivery

    return delivery.retry_due(deadline=_deadline(context, 30.0))
