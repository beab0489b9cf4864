"""``GET /api/health`` answers the checks the alarms watch: the tables, the key, the incident workflow, and whether
the daily backup and restore test ran and passed (``protu.ops.status``). Health is public: nothing it says names a
company, a person or a resource."""

from __future__ import annotations

import time

import msgspec
import pytest
from protu import aws, caches
from protu.http import health
from protu.ops import status
from protu.settings import settings

DAY = 24 * 3600


@pytest.fixture
def job_status(cloud):
    """Write the jobs' last results for a test; the stack has none again afterwards (a young cloud: pending)."""
    caches.reset()

    def put(job: str, *, ok: bool, hours_ago: float = 1, detail: str | None = None) -> None:
        status.record(job, ok=ok, run_id="2026-01-01", detail=detail, now=time.time() - hours_ago * 3600)
        caches.reset()

    yield put
    for job in ("backup", "restore-test"):
        aws.client("s3").delete_object(Bucket=settings().backup_bucket, Key=status.key(job))
    caches.reset()


def checks(api, expect: int) -> dict:
    reply = api.get("/api/health")
    assert reply.status == expect, reply.body
    body = reply.json()
    assert body["status"] == ("ok" if expect == 200 else "degraded")
    return body["checks"]


def test_a_young_cloud_without_backups_is_healthy_and_says_they_are_pending(api, job_status):
    found = checks(api, 200)
    assert found["backup"] == {"status": "pending", "detail": "not run yet"}
    assert found["restore_test"] == {"status": "pending", "detail": "not run yet"}
    assert found["incident_workflow"] == {"status": "ok", "detail": None}
    assert found["audit_table"] == {"status": "ok", "detail": None}


def test_a_cloud_older_than_a_day_without_a_backup_is_degraded(cloud):  # the jobs' status is read from its bucket
    old = time.time() - 2 * DAY
    assert health._job("backup", old, time.time()) == health.Check("error", "never ran")
    assert health._job("backup", None, time.time()) == health.Check("error", "never ran")


def test_recent_successful_jobs_are_ok(api, job_status):
    job_status("backup", ok=True, hours_ago=3)
    job_status("restore-test", ok=True, hours_ago=1)
    found = checks(api, 200)
    assert found["backup"] == {"status": "ok", "detail": "3 h ago"}
    assert found["restore_test"] == {"status": "ok", "detail": "1 h ago"}


def test_a_failed_backup_degrades_health(api, job_status):
    job_status("backup", ok=False, hours_ago=2, detail="stopped at deadline")
    job_status("restore-test", ok=True)
    found = checks(api, 503)
    assert found["backup"] == {"status": "error", "detail": "failed 2 h ago: stopped at deadline"}
    assert found["restore_test"]["status"] == "ok"
    assert found["table"]["status"] == "ok"  # one failure does not hide the others' state


def test_a_failed_restore_test_degrades_health(api, job_status):
    job_status("backup", ok=True)
    job_status("restore-test", ok=False, detail="2 problems")
    assert checks(api, 503)["restore_test"] == {"status": "error", "detail": "failed 1 h ago: 2 problems"}


def test_a_backup_older_than_26_hours_degrades_health(api, job_status):
    job_status("backup", ok=True, hours_ago=health.JOB_MAX_AGE_HOURS + 1)
    job_status("restore-test", ok=True, hours_ago=2)
    assert checks(api, 503)["backup"] == {"status": "error", "detail": "last ran 27 h ago"}


def test_a_missing_incident_workflow_degrades_health(api, job_status, monkeypatch):
    config = settings()
    missing = config.incident_state_machine.rsplit(":", 1)[0] + ":protu-missing"
    monkeypatch.setattr(health, "settings", lambda: msgspec.structs.replace(config, incident_state_machine=missing))
    found = checks(api, 503)
    assert found["incident_workflow"]["status"] == "error"
    assert found["incident_workflow"]["detail"] in ("StateMachineDoesNotExist", "ClientError")
    monkeypatch.setattr(health, "settings", lambda: msgspec.structs.replace(config, incident_state_machine=""))
    caches.reset()
    assert checks(api, 503)["incident_workflow"] == {"status": "error", "detail": "not configured"}


def test_the_job_checks_are_cached_briefly_per_stack(api, job_status):
    job_status("backup", ok=True)
    assert checks(api, 200)["backup"]["status"] == "ok"
    status.record("backup", ok=False, run_id="2026-01-01")  # without clearing the cache
    assert checks(api, 200)["backup"]["status"] == "ok"
    caches.reset()
    assert checks(api, 503)["backup"]["status"] == "error"


def test_health_names_no_resource(api, job_status):
    job_status("backup", ok=False, detail="ClientError")
    body = api.get("/api/health").body
    text = body if isinstance(body, str) else body.decode()
    config = settings()
    for name in (config.data_table, config.backup_bucket, config.kms_key_id, config.incident_state_machine):
        assert name not in text
