"""The disaster-recovery drill: restore the newest backup in the DR region from what exists there alone, and prove
that the restored data opens.

The DR region (``DR_REGION``, template.yaml's ``DrRegion``) holds, copied continuously and without any call to
eu-central-1 at restore time:

- the backups (``DR_BACKUP_BUCKET``: S3 replication of ``backups/``); each manifest names its tables' schemas;
- the key table's replica (a DynamoDB global table: the same name; a key destroyed at home is deleted there too,
  so an erased company stays unreadable, and the key table is still never in a backup);
- the data key's replica (a multi-Region KMS key: the same key id), which unwraps the tenant keys;
- the signing keys' replica (Secrets Manager): the API signs access tokens with it.

A drill (``run``):

1. points this process's settings at the DR region (``in_dr``): the data and audit tables ``<table>-dr-<drill>``,
   the replica bucket, the key's replica, the key table's replica (same name);
2. finds the newest complete backup there and loads it into those fresh tables (``restore``), each export checked
   against its manifest;
3. opens one sealed record of each company as the directory service does (``restore_test.open_sample``): an erased
   company's records stay shut (``KeyDestroyed``, counted as shredded: expected), any other failure fails the
   drill; the operators' CLI adds its own ``check`` (a second API on these tables, signed in to over HTTP);
4. measures the recovery time (seconds from the start to the successful read) and the recovery point (the age, at
   the start, of the newest data restored: the newest audit event);
5. writes the result next to the backup in the DR bucket (``dr-drill.json``), records it for health in the home
   region (``protu.ops.status``, job ``dr-drill``), raises ``backup.restore_failed`` when it failed, and deletes
   the drill's tables unless ``keep``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from protu import aws
from protu.logging import get_logger
from protu.ops import backup, restore_test, status
from protu.settings import reload, settings

JOB = "dr-drill"
SCRATCH = "-dr-"  # the drill's tables: <live table>-dr-<drill id> (the function's IAM reaches only these)
log = get_logger(__name__)


class NotConfigured(Exception):
    """No DR region (``DR_REGION``/``DR_BACKUP_BUCKET`` unset): nothing to drill."""


def in_region(arn: str, region: str) -> str:
    """The same multi-Region resource's ARN in ``region`` (a KMS multi-Region key or a replicated secret keeps its
    id and name across regions); anything that is not an ARN as it is."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return arn
    parts[3] = region
    return ":".join(parts)


def environment(drill: str) -> dict[str, str]:
    """The variables that point the code at the DR region for drill ``drill``."""
    current = settings()
    if not current.dr_region or not current.dr_backup_bucket:
        raise NotConfigured("DR_REGION and DR_BACKUP_BUCKET are not set")
    return {
        "AWS_REGION": current.dr_region,
        "AWS_DEFAULT_REGION": current.dr_region,
        "DATA_TABLE": f"{current.data_table}{SCRATCH}{drill}",
        "AUDIT_TABLE": f"{current.audit_table}{SCRATCH}{drill}",
        "KEY_TABLE": current.key_table,  # the global table's replica there has the same name
        "BACKUP_BUCKET": current.dr_backup_bucket,
        "KMS_KEY_ID": in_region(current.kms_key_id, current.dr_region),
        "SIGNING_SECRET_ID": in_region(current.signing_secret_id, current.dr_region),
        "MAIL_QUEUE_URL": "",  # no mail from a drill: the home region's mail worker would act on what it queued
        "DR_REGION": "",  # inside, nothing points further
        "DR_BACKUP_BUCKET": "",
    }


@contextmanager
def in_dr(drill: str) -> Iterator[dict[str, str]]:
    """This process's settings pointed at the DR region while the block runs (every per-process cache forgotten on
    the way in and out: no key or client of the home region is used inside)."""
    variables = environment(drill)
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    reload()
    try:
        yield variables
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reload()


def restore(*, rid: str | None = None, progress: Any = None) -> dict[str, Any]:
    """Inside ``in_dr``: the newest complete backup of the DR bucket (or ``rid``) into fresh tables named by the
    settings, created from the manifest's schemas and encrypted with the key's replica. Answers the run, the items
    per table, the newest data's time and the problems found."""
    result: dict[str, Any] = {"run_id": rid or backup.newest_run(), "tables": {}, "problems": []}
    if result["run_id"] is None:
        result["problems"].append("no complete backup in the DR bucket")
        return result
    client = aws.client("s3")
    try:
        manifest = json.loads(backup.read(f"{backup.PREFIX}/{result['run_id']}/manifest.json"))
    except client.exceptions.NoSuchKey:
        result["problems"].append(f"no complete backup {result['run_id']} in the DR bucket")
        return result
    result["backup_created_at"] = manifest.get("created_at")
    schemas = manifest.get("schemas") or {}
    for short, companies in manifest["tables"].items():
        if short not in schemas:
            result["problems"].append(f"{short}: the manifest has no schema (a backup older than the DR drill)")
            continue
        table = backup.tables()[short]
        _create(table, schemas[short])
        items = restore_test.load(table, result["run_id"], short, companies, result["problems"], progress)
        result["tables"][short] = {"companies": len(companies), "items": items}
    result["newest_data_at"] = _newest_event() or result.get("backup_created_at")
    return result


def _create(table: str, schema: dict[str, Any]) -> None:
    client = aws.client("dynamodb")
    args: dict[str, Any] = {
        "TableName": table,
        "KeySchema": schema["KeySchema"],
        "AttributeDefinitions": schema["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": settings().kms_key_id},
    }
    if schema.get("indexes"):
        args["GlobalSecondaryIndexes"] = schema["indexes"]
    client.create_table(**args)
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 150})


def _newest_event() -> float | None:
    """The time of the newest audit event restored (every change writes one): the recovery point's data."""
    newest = None
    for page in backup.pages(
        settings().audit_table, ProjectionExpression="#t", ExpressionAttributeNames={"#t": "time"}
    ):
        for item in page:
            found = item.get("time", {}).get("S")
            if found and (newest is None or found > newest):
                newest = found
    if newest is None:
        return None
    return datetime.fromisoformat(newest.replace("Z", "+00:00")).timestamp()


def open_records(problems: list[str]) -> dict[str, int]:
    """Inside ``in_dr``: one sealed record of each company in the restored data table, opened with the DR region's
    keys as the directory service opens it (counts; a record that does not open is one of ``problems``)."""
    first: dict[str, dict] = {}
    for page in backup.pages(settings().data_table, FilterExpression="attribute_exists(sealed)"):
        for item in page:
            first.setdefault(backup.company_of(item["pk"]["S"]), item)
    first.pop(backup.UNSCOPED, None)
    return restore_test.open_sample(sorted(first.items()), len(first), problems)


def drop_tables() -> list[str]:
    """Inside ``in_dr``: delete the drill's tables (those that exist)."""
    client = aws.client("dynamodb")
    dropped = []
    for table in backup.tables().values():
        try:
            client.delete_table(TableName=table)
            dropped.append(table)
        except client.exceptions.ResourceNotFoundException:
            continue
    return dropped


def run(
    *,
    rid: str | None = None,
    keep: bool = False,
    check: Callable[[], dict[str, Any]] | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """One drill (see the module). ``check`` runs inside the DR settings after the restore (the CLI's second API);
    its answer is kept under ``check`` and its ``problems`` fail the drill. Answers the result."""
    drill = time.strftime("%Y%m%d", time.gmtime()) + "-" + secrets.token_hex(3)
    started, started_at = time.monotonic(), time.time()
    result: dict[str, Any] = {"drill": drill, "ok": False, "problems": [], "tables": {}, "started_at": int(started_at)}
    try:
        with in_dr(drill) as variables:
            result["region"] = variables["AWS_REGION"]
            result["table_names"] = [variables["DATA_TABLE"], variables["AUDIT_TABLE"]]
            try:
                restored = restore(rid=rid, progress=progress)
                result["problems"] += restored.pop("problems")
                result |= restored
                if not result["problems"]:
                    result["sealed"] = open_records(result["problems"])
                if not result["problems"] and check is not None:
                    result["check"] = check()
                    result["problems"] += result["check"].pop("problems", [])
                if not result["problems"]:
                    result["recovery_time_seconds"] = round(time.monotonic() - started, 3)
                    if result.get("newest_data_at"):
                        result["recovery_point_seconds"] = round(started_at - float(result["newest_data_at"]), 3)
                _write(result)
            finally:
                if not keep:
                    result["dropped"] = drop_tables()
    except Exception as error:
        result["problems"].append(f"the drill raised {type(error).__name__}")
        _report(result)
        raise
    result["ok"] = not result["problems"]
    _report(result)
    return result


def _write(result: dict[str, Any]) -> None:
    """Inside ``in_dr``: the result next to the backup it restored, in the DR bucket."""
    day = result.get("run_id") or time.strftime("%Y-%m-%d", time.gmtime())
    result["ok"] = not result["problems"]
    aws.client("s3").put_object(
        Bucket=settings().backup_bucket,
        Key=f"{backup.PREFIX}/{day}/{JOB}.json",
        Body=json.dumps(result, sort_keys=True, indent=1, default=str).encode(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=settings().kms_key_id,
        ContentType="application/json",
    )


def _report(result: dict[str, Any]) -> None:
    """At home: the result for health; a failure raises the backup signal (on-call through the incident rules)."""
    # cold start: loaded on first use
    from protu.security import signals

    ok = not result["problems"]
    problems = len(result["problems"])
    detail = None if ok else f"{problems} problem{'s' if problems != 1 else ''}"
    status.record(JOB, ok=ok, run_id=result.get("run_id"), detail=detail)
    summary = {k: result.get(k) for k in ("drill", "run_id", "recovery_time_seconds", "recovery_point_seconds")}
    if ok:
        log.info("dr drill passed", extra=summary)
        return
    log.error("dr drill failed", extra=summary | {"problems": result["problems"][:10]})
    signals.raise_signal(
        "backup.restore_failed",
        details={"test": JOB, "run_id": result.get("run_id"), "problems": result["problems"][:10]},
    )
