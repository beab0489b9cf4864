"""The last result of each daily safety job, kept where ``GET /api/health`` can read it cheaply.

``backups/status/<job>.json`` in the backup bucket (the jobs may already write under ``backups/``), one small
object per job, rewritten at the end of every run, whether it succeeded, failed or raised:
``{"job", "ok", "run_id", "finished_at", "detail"}``. ``detail`` is a short fixed phrase or an exception's class
name: health is public, so nothing names a company, a person or a file. Jobs: ``backup``, ``restore-test``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from protu import aws
from protu.logging import get_logger
from protu.settings import settings

PREFIX = "backups/status"
log = get_logger(__name__)


def key(job: str) -> str:
    return f"{PREFIX}/{job}.json"


def record(job: str, *, ok: bool, run_id: str | None, detail: str | None = None, now: float | None = None) -> None:
    """Write the job's last result. Never raises: a lost status makes health report the job stale, no worse."""
    body = {
        "job": job,
        "ok": ok,
        "run_id": run_id,
        "finished_at": int(time.time() if now is None else now),
        "detail": detail,
    }
    try:
        aws.client("s3").put_object(
            Bucket=settings().backup_bucket,
            Key=key(job),
            Body=json.dumps(body, sort_keys=True).encode(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=settings().kms_key_id,
            ContentType="application/json",
        )
    except Exception as error:  # noqa: BLE001 - see the docstring
        log.warning("job status not recorded", extra={"job": job, "error_type": type(error).__name__})


def read(job: str) -> dict[str, Any] | None:
    """The job's last result, or None when it never ran (raises on any other failure)."""
    client = aws.client("s3")
    try:
        found = client.get_object(Bucket=settings().backup_bucket, Key=key(job))
    except client.exceptions.NoSuchKey:
        return None
    return json.loads(found["Body"].read())
