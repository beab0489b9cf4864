"""The daily restore test: prove the newest backup can be restored and read.

1. The newest complete run (one with a manifest, ``protu.ops.backup``).
2. Each export file's bytes match the manifest (count and SHA-256): a changed or truncated file is a mismatch.
3. The items are written into a scratch table with the live table's key schema, read back, and encoded again:
   the same bytes must come out (what DynamoDB would hold after a restore is exactly what was backed up).
4. A sample of sealed fields is decrypted with the live keys (``protu.crypto``), proving the keys still open what
   the backup holds. A field whose company or person was erased (``KeyDestroyed``) is counted as shredded, which
   is the expected outcome of an erasure, not a failure.
5. The scratch table is deleted; the result is written next to the run (``restore-test.json``) and logged; any
   mismatch raises the ``backup.restore_failed`` security signal.

In the cloud the same steps run from the export (a DynamoDB point-in-time or on-demand restore of a whole table
takes longer than a function may run; the runbook in ``docs/restore.md`` covers that path).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from protu import aws
from protu.logging import get_logger
from protu.ops import backup, status
from protu.settings import settings

SAMPLE = 25
log = get_logger(__name__)


def run(*, rid: str | None = None, sample: int = SAMPLE, progress: Any = None) -> dict[str, Any]:
    try:
        result = _run(rid=rid, sample=sample, progress=progress)
    except Exception as error:
        status.record("restore-test", ok=False, run_id=rid, detail=type(error).__name__)
        raise
    problems = len(result["problems"])
    detail = None if result["ok"] else f"{problems} problem{'s' if problems != 1 else ''}"
    status.record("restore-test", ok=bool(result["ok"]), run_id=result["run_id"], detail=detail)
    return result


def _run(*, rid: str | None, sample: int, progress: Any) -> dict[str, Any]:
    started = time.monotonic()
    rid = rid or backup.newest_run()
    result: dict[str, Any] = {"run_id": rid, "ok": False, "problems": [], "tables": {}}
    if rid is None:
        result["problems"].append("no complete backup found")
        return _finish(result, started)
    manifest = json.loads(backup.read(f"{backup.PREFIX}/{rid}/manifest.json"))
    for short, companies in manifest["tables"].items():
        result["tables"][short] = _check_table(rid, short, companies, result["problems"], progress)
    result["decryption"] = _decrypt_sample(rid, manifest, sample, result["problems"])
    result["ok"] = not result["problems"]
    return _finish(result, started)


def _check_table(rid: str, short: str, companies: dict[str, dict], problems: list[str], progress: Any) -> dict:
    live = backup.tables()[short]
    client = aws.client("dynamodb")
    schema = client.describe_table(TableName=live)["Table"]
    scratch = f"{live}-restore-test-{secrets.token_hex(4)}"[:255]
    attributes = {k["AttributeName"] for k in schema["KeySchema"]}
    client.create_table(
        TableName=scratch,
        KeySchema=schema["KeySchema"],
        AttributeDefinitions=[a for a in schema["AttributeDefinitions"] if a["AttributeName"] in attributes],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        restored = load(scratch, rid, short, companies, problems, progress)
        read_back: dict[str, list[dict]] = defaultdict(list)
        for page in backup.pages(scratch):
            for item in page:
                read_back[backup.company_of(item["pk"]["S"])].append(item)
        for company, expected in companies.items():
            body = backup.encode(read_back.get(company, []))
            if hashlib.sha256(body).hexdigest() != expected["sha256"]:
                problems.append(f"{short}/{company}: the restored items differ from the backup")
        return {"companies": len(companies), "items": restored}
    finally:
        client.delete_table(TableName=scratch)


def load(table: str, rid: str, short: str, companies: dict[str, dict], problems: list[str], progress: Any) -> int:
    """Write each company's export of ``short`` (run ``rid``) into ``table``, after checking it against its
    manifest entry (count and SHA-256; a mismatch is a problem, not written). Answers the items written."""
    client = aws.client("dynamodb")
    restored = 0
    for company, expected in companies.items():
        body = backup.read(f"{backup.PREFIX}/{rid}/{short}/{company}.jsonl")
        items = [backup.decode(line) for line in body.splitlines() if line.strip()]
        if len(items) != expected["items"] or hashlib.sha256(body).hexdigest() != expected["sha256"]:
            problems.append(f"{short}/{company}: the export does not match its manifest")
            continue
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending = {table: batch}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        restored += len(items)
        if progress is not None:
            progress(len(items))
    return restored


def _decrypt_sample(rid: str, manifest: dict, sample: int, problems: list[str]) -> dict[str, int]:
    """Open up to ``sample`` sealed records of the data export with the live keys."""

    def exported():
        for company in manifest["tables"].get("data", {}):
            if company != backup.UNSCOPED:
                body = backup.read(f"{backup.PREFIX}/{rid}/data/{company}.jsonl")
                yield from ((company, backup.decode(line)) for line in body.splitlines())

    return open_sample(exported(), sample, problems)


def open_sample(items: Iterable[tuple[str, dict]], sample: int, problems: list[str]) -> dict[str, int]:
    """Open the sealed fields of up to ``sample`` records among ``items`` (``(company, DynamoDB item)``) with the
    keys the settings name, as the directory service opens them: counts of opened, shredded (the company or person
    was erased: ``KeyDestroyed``, the expected outcome) and failed ones (each also a problem)."""
    # cold start: loaded on first use
    from protu import crypto, errors
    from protu.directory import service
    from protu.directory.kinds import KINDS

    by_prefix = {kind.prefix: kind for kind in KINDS.values() if kind.sensitive}
    counts = {"opened": 0, "shredded": 0, "failed": 0}
    for company, item in items:
        kind = by_prefix.get(item.get("kind", {}).get("S", ""))
        if kind is None or "sealed" not in item:
            continue
        try:
            data = {k: next(iter(v.values())) for k, v in item.get("data", {}).get("M", {}).items()}
            subject = service.subject_of(kind, item["id"]["S"], data)
            crypto.decrypt_fields(
                company, kind.entity, item["id"]["S"], item["sealed"]["B"], kind.sensitive, subject=subject
            )
            counts["opened"] += 1
        except errors.KeyDestroyed:
            counts["shredded"] += 1
        except errors.DecryptionFailed:
            counts["failed"] += 1
            problems.append(f"data/{company}: a sealed record of the backup does not decrypt")
        if sum(counts.values()) >= sample:
            break
    return counts


def _finish(result: dict[str, Any], started: float) -> dict[str, Any]:
    # cold start: loaded on first use
    from protu.security import signals

    result["seconds"] = round(time.monotonic() - started, 3)
    if result["run_id"]:
        body = json.dumps(result, sort_keys=True, indent=1).encode()
        aws.client("s3").put_object(
            Bucket=settings().backup_bucket,
            Key=f"{backup.PREFIX}/{result['run_id']}/restore-test.json",
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=settings().kms_key_id,
            ContentType="application/json",
        )
    if result["ok"]:
        log.info("restore test passed", extra={k: v for k, v in result.items() if k != "tables"})
    else:
        log.error("restore test failed", extra={"run_id": result["run_id"], "problems": result["problems"][:10]})
        signals.raise_signal(
            "backup.restore_failed", details={"run_id": result["run_id"], "problems": result["problems"][:10]}
        )
    return result
