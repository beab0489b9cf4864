"""The daily jobs count their runs and failures (``JobRuns``/``JobFailures`` by ``Job``, the metrics the backup and
restore-test alarms read), and record their result where ``/api/health`` reads it."""

from __future__ import annotations

import boto3
import jobs
import pytest
from protu import caches
from protu.ops import backup, status
from protu.settings import settings

from infra.seed import add_company
from tests.unit.test_metrics import values

pytestmark = pytest.mark.xdist_group("backups")


@pytest.fixture(scope="module")
def company(own_cloud):
    add_company("c-metrics", "Metrics Co", [("owner", "Olga", "o-metrics@example.com")], "x" * 20)


def test_a_backup_and_a_passing_restore_test_count_runs_without_failures(company, api, capsys):
    capsys.readouterr()
    assert jobs.backup({}, None)["complete"] is True
    assert jobs.restore_test({}, None)["ok"] is True
    out = capsys.readouterr().out
    for job in ("backup", "restore-test"):
        assert values(out, "JobRuns", Service="jobs", Job=job) == [1], job
        assert values(out, "JobFailures", Service="jobs", Job=job) == [0], job
    assert status.read("backup")["ok"] is True and status.read("restore-test")["ok"] is True
    caches.reset()
    reply = api.get("/api/health")
    assert reply.status == 200
    checks = reply.json()["checks"]
    assert checks["backup"] == {"status": "ok", "detail": "0 h ago"}
    assert checks["restore_test"] == {"status": "ok", "detail": "0 h ago"}


def test_a_restore_test_that_finds_a_mismatch_is_a_failure_and_degrades_health(company, api, capsys):
    jobs.backup({}, None)
    s3 = boto3.client("s3", region_name=settings().region)
    key = f"backups/{backup.newest_run()}/data/c-metrics.jsonl"
    original = backup.read(key)
    s3.put_object(Bucket=settings().backup_bucket, Key=key, Body=original + original.splitlines(keepends=True)[0])
    try:
        capsys.readouterr()
        assert jobs.restore_test({}, None)["ok"] is False
        out = capsys.readouterr().out
        assert values(out, "JobRuns", Service="jobs", Job="restore-test") == [1]
        assert values(out, "JobFailures", Service="jobs", Job="restore-test") == [1]
        caches.reset()
        reply = api.get("/api/health")
        assert reply.status == 503
        assert reply.json()["checks"]["restore_test"] == {"status": "error", "detail": "failed 0 h ago: 2 problems"}
        assert values(capsys.readouterr().out, "ErrorsByCode", Service="api", Code="http_503") == [1]
        assert b"c-metrics" not in reply.body
    finally:
        s3.put_object(Bucket=settings().backup_bucket, Key=key, Body=original)
    assert jobs.restore_test({}, None)["ok"] is True


def test_a_backup_that_raises_is_a_failure(company, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no table")

    monkeypatch.setattr(backup, "_dynamodb_backup", broken)
    capsys.readouterr()
    with pytest.raises(RuntimeError):
        jobs.backup({}, None)
    out = capsys.readouterr().out
    assert values(out, "JobFailures", Service="jobs", Job="backup") == [1]
    assert status.read("backup") | {"finished_at": 0} == {
        "job": "backup",
        "ok": False,
        "run_id": backup.run_id(),
        "finished_at": 0,
        "detail": "RuntimeError",
    }
