"""``GET /api/health``: is everything the product promises usable, and did the daily safety jobs run?

The checks are the ones the alarms in ``template.yaml`` watch, so a developer running ``make run`` (or an operator
with a browser) sees what on-call would be paged for:

* ``table``, ``key_store``, ``audit_table`` — the data, key and audit tables are ACTIVE (``DescribeTable``);
* ``kms_key`` — the customer-managed key is enabled (``DescribeKey``);
* ``backup`` — the last backup run (``protu.ops.status``, written by every run) completed, less than
  ``JOB_MAX_AGE_HOURS`` ago;
* ``restore_test`` — the last restore test passed, less than ``JOB_MAX_AGE_HOURS`` ago;
* ``dr_drill`` — with a DR region configured: the last monthly disaster-recovery drill (``protu.ops.dr_drill``)
  passed, less than ``DRILL_MAX_AGE_HOURS`` ago;
* ``incident_workflow`` — the incident state machine exists and is ACTIVE (``DescribeStateMachine``).

Each check is ``ok``, ``pending`` or ``error``; any ``error`` makes the answer 503 ``degraded``. ``pending`` is
a daily job that has never run on a cloud younger than ``JOB_MAX_AGE_HOURS`` (judged by the data table's creation
time): a fresh stack, or a fresh ``make run``, is healthy before its first 02:00 backup, and stops being so if
the job still has not run a day later. Health is public: details are fixed phrases, ages in hours and AWS error
class names, never a company, a person or a resource name. The job checks change once a day, so they are kept
``OPS_CACHE_SECONDS`` per process and stack (a registered cache, ``protu.caches``); the others are asked every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import msgspec

from protu import aws, caches
from protu.http.routing import PUBLIC, Call, Router
from protu.observability import release
from protu.settings import settings

router = Router("health")

JOB_MAX_AGE_HOURS = 26  # a daily job, with two hours of slack (the alarms use the same window)
DRILL_MAX_AGE_HOURS = 32 * 24  # the monthly DR drill, with a day of slack after the longest month
OPS_CACHE_SECONDS = 60.0
_ops_cache: tuple[float, tuple[str, str], dict[str, Check]] | None = None


class Check(msgspec.Struct):
    status: str
    detail: str | None = None


class Health(msgspec.Struct):
    status: str
    checks: dict[str, Check]
    region: str
    version: str


@caches.register
def _forget() -> None:
    global _ops_cache
    _ops_cache = None


def _table(name: str, created: list[float] | None = None) -> Check:
    table = aws.client("dynamodb").describe_table(TableName=name)["Table"]
    if created is not None and isinstance(table.get("CreationDateTime"), datetime):
        created.append(table["CreationDateTime"].timestamp())
    state = table["TableStatus"]
    return Check("ok") if state == "ACTIVE" else Check("error", f"table is {state.lower()}")


def _kms_key() -> Check:
    meta = aws.client("kms").describe_key(KeyId=settings().kms_key_id)["KeyMetadata"]
    return Check("ok") if meta.get("Enabled") else Check("error", f"key is {meta.get('KeyState', 'unknown').lower()}")


def _job(job: str, cloud_created: float | None, now: float, max_age_hours: int = JOB_MAX_AGE_HOURS) -> Check:
    # cold start: loaded on first use
    from protu.ops import status

    found = status.read(job)
    limit = max_age_hours * 3600
    if found is None:
        if cloud_created is not None and now - cloud_created < limit:
            return Check("pending", "not run yet")
        return Check("error", "never ran")
    age_hours = max(0, int((now - float(found.get("finished_at") or 0)) // 3600))
    if not found.get("ok"):
        detail = found.get("detail")
        return Check("error", f"failed {age_hours} h ago" + (f": {detail}" if isinstance(detail, str) else ""))
    if now - float(found["finished_at"]) > limit:
        return Check("error", f"last ran {age_hours} h ago")
    return Check("ok", f"{age_hours} h ago")


def _incident_workflow() -> Check:
    arn = settings().incident_state_machine
    if not arn:
        return Check("error", "not configured")
    state = aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn).get("status", "ACTIVE")
    return Check("ok") if state == "ACTIVE" else Check("error", f"state machine is {state.lower()}")


def _probe(probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as error:  # noqa: BLE001 - a health check reports failures, it does not raise them
        return Check("error", type(error).__name__)


def _run(probes: dict[str, Callable[[], Check]]) -> dict[str, Check]:
    """The probes at once, each in a thread of its own: each is an AWS call (botocore's clients are thread-safe),
    so the answer takes about as long as the slowest instead of all of them one after the other."""
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        running = {name: pool.submit(_probe, probe) for name, probe in probes.items()}
    return {name: found.result() for name, found in running.items()}


def checks(*, now: float | None = None) -> dict[str, Check]:
    """Each dependency checked on its own, so one failure does not hide the others' state."""
    global _ops_cache
    now = time.time() if now is None else now
    created: list[float] = []
    config = settings()
    results = _run(
        {
            "table": lambda: _table(config.data_table, created),
            "key_store": lambda: _table(config.key_table),
            "audit_table": lambda: _table(config.audit_table),
            "kms_key": _kms_key,
        }
    )
    where = (config.backup_bucket, config.incident_state_machine)
    if _ops_cache is not None and _ops_cache[1] == where and time.monotonic() - _ops_cache[0] < OPS_CACHE_SECONDS:
        ops = _ops_cache[2]
    else:
        born = created[0] if created else None
        jobs = {
            "backup": lambda: _job("backup", born, now),
            "restore_test": lambda: _job("restore-test", born, now),
            "incident_workflow": _incident_workflow,
        }
        if config.dr_region:
            jobs["dr_drill"] = lambda: _job("dr-drill", born, now, DRILL_MAX_AGE_HOURS)
        ops = _run(jobs)
        _ops_cache = (time.monotonic(), where, ops)
    return {**results, **ops}


@router.get("/api/health", permission=PUBLIC, response=Health)
def health(call: Call) -> Health:
    """The state of the API's dependencies and of the daily safety jobs: 200 when nothing is in error, 503
    otherwise (see the module doc)."""
    found = checks()
    ok = all(check.status != "error" for check in found.values())
    if not ok:
        call.status = 503
    return Health(status="ok" if ok else "degraded", checks=found, region=settings().region, version=release())
