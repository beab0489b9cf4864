"""The daily backup: DynamoDB's own backups of the data and audit tables, and an export of every company's items
to the backup bucket (SSE-KMS, 180-day lifecycle, replicated to a second EU region in the cloud).

One run is one UTC day (``run_id`` ``yyyy-mm-dd``), written under ``backups/<run_id>/``:

    backups/<run_id>/<table>/<company>.jsonl   the company's items of that table, one DynamoDB-JSON item a line,
                                               sorted by key (items of no company: ``_unscoped``)
    backups/<run_id>/manifest.json             per table and company: item count and SHA-256 of the file; per
                                               table its keys and indexes (``schemas``)

The key table is never exported: a company's (or a person's) key destroyed on erasure leaves their sealed fields in
every export unreadable (crypto-shredding). Items hold the sealed fields as written, never in clear.

Idempotent: DynamoDB backups are named ``protu-<table>-<run_id>`` and made once a day; a re-run rewrites the same
export objects with the same content. Bounded: the export scans in pages; ``deadline`` stops it between pages
and the next run of the same day starts again (a complete export takes one pass). Backups older than
``KEEP_DAYS`` are deleted, each deletion logged; the bucket's lifecycle rule expires old exports.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from protu import aws
from protu.logging import get_logger
from protu.ops import status
from protu.settings import settings

KEEP_DAYS = 180
_RUN_ID = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PREFIX = "backups"
UNSCOPED = "_unscoped"
log = get_logger(__name__)


def run_id(now: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m-%d")


def company_of(pk: str) -> str:
    """The company a partition key belongs to (``T#<company>...``), or ``_unscoped``."""
    if pk.startswith("T#"):
        return pk.split("#", 2)[1]
    return UNSCOPED


def tables() -> dict[str, str]:
    """The tables a backup covers, by their short name (the key table is left out on purpose: see the module)."""
    current = settings()
    return {"data": current.data_table, "audit": current.audit_table}


def run(*, now: float | None = None, deadline: float | None = None, progress: Any = None) -> dict[str, Any]:
    """One backup run; answers its summary (also logged). Its result is recorded for health (``ops.status``): ok
    when the export completed, not when it stopped at its deadline or raised."""

    try:
        summary = _run(now=now, deadline=deadline, progress=progress)
    except Exception as error:
        status.record("backup", ok=False, run_id=run_id(now), detail=type(error).__name__)
        raise
    complete = bool(summary.get("complete"))
    status.record("backup", ok=complete, run_id=summary["run_id"], detail=None if complete else "stopped at deadline")
    return summary


def _run(*, now: float | None, deadline: float | None, progress: Any) -> dict[str, Any]:
    started = time.monotonic()
    rid = run_id(now)
    summary: dict[str, Any] = {"run_id": rid, "dynamodb_backups": [], "tables": {}, "deleted_backups": []}
    for short, table in tables().items():
        summary["dynamodb_backups"].append(_dynamodb_backup(table, rid))
        exported = _export(short, table, rid, deadline=deadline, progress=progress)
        if exported is None:
            summary["complete"] = False
            summary["seconds"] = round(time.monotonic() - started, 3)
            log.warning("backup stopped at its deadline", extra={"run_id": rid})
            return summary
        summary["tables"][short] = exported
    schemas = {short: schema(table) for short, table in tables().items()}
    manifest = {"run_id": rid, "created_at": int(time.time()), "tables": summary["tables"], "schemas": schemas}
    _put(f"{PREFIX}/{rid}/manifest.json", json.dumps(manifest, sort_keys=True, indent=1).encode())
    summary["deleted_backups"] = delete_old(now=now)
    summary["complete"] = True
    summary["items"] = sum(c["items"] for t in summary["tables"].values() for c in t.values())
    summary["seconds"] = round(time.monotonic() - started, 3)
    log.info("backup done", extra={k: v for k, v in summary.items() if k != "tables"})
    return summary


def schema(table: str) -> dict[str, Any]:
    """What recreating ``table`` elsewhere needs: its keys and indexes, kept in the manifest, so that a restore in
    another region (``protu.ops.dr_drill``) reads nothing of this one."""
    found = aws.client("dynamodb").describe_table(TableName=table)["Table"]
    indexes = [
        {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
        for i in found.get("GlobalSecondaryIndexes", [])
    ]
    return {"KeySchema": found["KeySchema"], "AttributeDefinitions": found["AttributeDefinitions"], "indexes": indexes}


def _dynamodb_backup(table: str, rid: str) -> str:
    client = aws.client("dynamodb")
    name = f"protu-{table}-{rid}"[:255]
    existing = client.list_backups(TableName=table, BackupType="USER").get("BackupSummaries", [])
    for found in existing:
        if found["BackupName"] == name:
            return found["BackupArn"]
    return client.create_backup(TableName=table, BackupName=name)["BackupDetails"]["BackupArn"]


def _export(short: str, table: str, rid: str, *, deadline: float | None, progress: Any) -> dict[str, dict] | None:
    """Every item of ``table`` grouped by company into one object each; None when the deadline came first."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for page in pages(table):
        if deadline is not None and time.monotonic() > deadline:
            return None
        for item in page:
            grouped[company_of(item["pk"]["S"])].append(item)
        if progress is not None:
            progress(len(page))
    result = {}
    for company, items in sorted(grouped.items()):
        body = encode(items)
        _put(f"{PREFIX}/{rid}/{short}/{company}.jsonl", body)
        result[company] = {"items": len(items), "sha256": hashlib.sha256(body).hexdigest()}
    return result


def pages(table: str, **scan: Any) -> Iterator[list[dict]]:
    """Every item of ``table`` (or what ``scan``'s filter and projection keep), a scan page at a time."""
    client = aws.client("dynamodb")
    start = None
    while True:
        page = client.scan(
            TableName=table, ConsistentRead=True, **scan, **({"ExclusiveStartKey": start} if start else {})
        )
        yield page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def encode(items: list[dict]) -> bytes:
    """The export format: one DynamoDB-JSON item a line (binary values in base64, as DynamoDB's own JSON has them),
    sorted by (pk, sk), so equal data gives equal bytes."""

    def line(item: dict) -> bytes:
        return json.dumps(item, sort_keys=True, separators=(",", ":"), default=_base64).encode() + b"\n"

    ordered = sorted(items, key=lambda item: (item["pk"]["S"], json.dumps(item.get("sk"), sort_keys=True)))
    return b"".join(line(item) for item in ordered)


def decode(line: bytes | str) -> dict:
    """One exported item as boto3 writes it (base64 binary values back to bytes)."""
    return _binary(json.loads(line))


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot export {type(value).__name__}")


def _binary(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"B"}:
            return {"B": base64.b64decode(value["B"])}
        if set(value) == {"BS"}:
            return {"BS": [base64.b64decode(v) for v in value["BS"]]}
        return {k: _binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_binary(v) for v in value]
    return value


def _put(key: str, body: bytes) -> None:
    aws.client("s3").put_object(
        Bucket=settings().backup_bucket,
        Key=key,
        Body=body,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=settings().kms_key_id,
        ContentType="application/json",
    )


def delete_old(*, now: float | None = None) -> list[str]:
    """Delete the DynamoDB backups made more than ``KEEP_DAYS`` days ago (the exports expire by lifecycle)."""
    client = aws.client("dynamodb")
    cutoff = datetime.fromtimestamp(time.time() if now is None else now, UTC) - timedelta(days=KEEP_DAYS)
    deleted = []
    for table in tables().values():
        old = client.list_backups(TableName=table, BackupType="USER", TimeRangeUpperBound=cutoff)
        for found in old.get("BackupSummaries", []):
            if found["BackupCreationDateTime"] >= cutoff:  # the bound is checked here too (moto ignores it)
                continue
            client.delete_backup(BackupArn=found["BackupArn"])
            log.info("old backup deleted", extra={"backup": found["BackupName"], "table": table})
            deleted.append(found["BackupName"])
    return deleted


def newest_run() -> str | None:
    """The newest run with a manifest (a complete export)."""
    client = aws.client("s3")
    runs = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings().backup_bucket, Prefix=f"{PREFIX}/", Delimiter="/"):
        runs += [p["Prefix"].split("/")[1] for p in page.get("CommonPrefixes", [])]
    for rid in sorted((r for r in runs if _RUN_ID.fullmatch(r)), reverse=True):  # not backups/status/
        try:
            client.head_object(Bucket=settings().backup_bucket, Key=f"{PREFIX}/{rid}/manifest.json")
            return rid
        except client.exceptions.ClientError:
            continue
    return None


def read(key: str) -> bytes:
    return aws.client("s3").get_object(Bucket=settings().backup_bucket, Key=key)["Body"].read()
