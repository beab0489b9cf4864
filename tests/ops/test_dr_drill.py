"""The disaster-recovery drill on the local cloud, through the operator CLI: a company's sealed notes written through
the API, the daily backup, replication to the DR region (``infra.replication``, what S3 and the global table do on
their own), then ``protu-ops dr-drill``: a restore in eu-west-1 from what is there alone, a second API signed in to
over HTTP, the sealed notes read back, the recovery time and point printed. A company erased after the backup stays
unreadable in the restore: its key is gone from the DR region too."""

from __future__ import annotations

import json
import re
import time
import uuid

import boto3
import jobs
import pytest
from protu import caches
from protu.security import signals
from protu.settings import settings

from infra import ops
from infra.replication import Replication
from infra.seed import add_company
from tests.api.people import Browser

pytestmark = pytest.mark.xdist_group("backups")
PASSWORD = "copper lantern meadow 7"  # noqa: S105 - a test owner's
NOTE = "asked for a quiet desk"


def company_with_a_sealed_note(api) -> tuple[str, str]:
    """A company and its owner; a candidate with sealed notes written through the API. Answers (company, email)."""
    tenant, email = f"c-{uuid.uuid4().hex[:12]}", f"owner-{uuid.uuid4().hex[:8]}@example.com"
    add_company(tenant, f"Drill Co {tenant[-4:]}", [("owner", "Olga Owner", email)], PASSWORD)
    browser = Browser(api)
    assert browser.login(email, PASSWORD).status == 200
    created = browser.post("/api/candidates", {"name": "Dana Drill", "notes": NOTE})
    assert created.status == 201, created.body
    return tenant, email


@pytest.fixture(scope="module")
def drilled(own_cloud, api, monkeypatch_module) -> dict:
    """Two companies with sealed notes, a backup, the second company erased, replication, then the drill."""
    kept, owner = company_with_a_sealed_note(api)
    erased, _ = company_with_a_sealed_note(api)
    assert jobs.backup({}, None)["complete"] is True
    assert ops.main(["erase", "--tenant", erased, "--yes"]) == 0
    Replication(own_cloud).pump()
    monkeypatch_module.setenv("PROTU_DRILL_PASSWORD", PASSWORD)
    return {"cloud": own_cloud, "kept": kept, "erased": erased, "owner": owner}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def dr(service: str):
    return boto3.client(service, region_name=settings().dr_region)


def test_the_drill_restores_in_the_dr_region_reads_sealed_data_back_and_prints_rto_and_rpo(drilled, capsys):
    assert ops.main(["dr-drill", "--owner", drilled["owner"]]) == 0
    printed = capsys.readouterr().out
    assert "passed" in printed and "second API: signed in as the owner" in printed
    recovery_time = float(re.search(r"recovery time: ([0-9.]+) s", printed).group(1))
    recovery_point = float(re.search(r"recovery point: ([0-9.]+) s", printed).group(1))
    assert 0 < recovery_time < 60 and 0 <= recovery_point < 600

    # The result next to the backup in the DR bucket: the owner's sealed note came back through the second API.
    bucket = settings().dr_backup_bucket
    # This drill's, by the backup it names (another test's failed drill may be as new, to the second of S3's time).
    day = re.search(r"dr drill \S+ of backup (\S+) in ", printed).group(1)
    result = json.loads(dr("s3").get_object(Bucket=bucket, Key=f"backups/{day}/dr-drill.json")["Body"].read())
    assert result["ok"] is True and result["region"] == "eu-west-1"
    assert result["check"]["signed_in"] is True and result["check"]["sealed_read"] >= 1
    assert NOTE not in json.dumps(result)  # counts only, never the data
    # Fresh tables in the DR region, deleted afterwards (no --keep).
    assert all(name.startswith((settings().data_table, settings().audit_table)) for name in result["table_names"])
    assert not set(result["table_names"]) & set(dr("dynamodb").list_tables()["TableNames"])


def test_a_company_erased_before_the_drill_stays_unreadable_in_the_dr_restore(drilled, capsys):
    assert ops.main(["dr-drill", "--owner", drilled["owner"], "--keep", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    try:
        assert result["sealed"]["shredded"] >= 1 and result["sealed"]["failed"] == 0  # the erased company's note
        assert result["sealed"]["opened"] >= 1  # the other company's
        data_table = result["table_names"][0]
        restored = dr("dynamodb").scan(TableName=data_table, FilterExpression="attribute_exists(sealed)")["Items"]
        assert any(item["pk"]["S"].startswith(f"T#{drilled['erased']}#") for item in restored)  # its items came back
        keys = dr("dynamodb").query(
            TableName=settings().key_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"T#{drilled['erased']}"}},
        )["Items"]
        assert [k for k in keys if k.get("wrapped")] == []  # ...but not its key: the DR region has none to open them
    finally:
        for table in result["table_names"]:
            dr("dynamodb").delete_table(TableName=table)


def test_the_monthly_function_restores_and_opens_sealed_data_without_a_second_api(drilled):
    result = jobs.dr_drill({}, None)
    assert result["ok"] is True and "check" not in result
    assert result["sealed"]["opened"] >= 1 and result["sealed"]["shredded"] >= 1 and result["sealed"]["failed"] == 0
    assert result["recovery_time_seconds"] > 0 and result["recovery_point_seconds"] >= 0
    assert result["dropped"] == result["table_names"]


def test_health_shows_the_last_drill(drilled, api):
    assert ops.main(["dr-drill", "--owner", drilled["owner"]]) == 0
    caches.reset()
    check = api.get("/api/health").json()["checks"]["dr_drill"]
    assert check["status"] == "ok" and check["detail"] == "0 h ago"


def test_a_drill_without_a_backup_in_the_dr_region_fails_and_raises_a_signal(drilled, capsys):
    assert ops.main(["dr-drill", "--owner", drilled["owner"], "--run", "2001-01-01"]) == 1
    assert "FAILED" in capsys.readouterr().out
    raised = signals.list_global(time.strftime("%Y-%m-%d", time.gmtime()))
    assert any(s["kind"] == "backup.restore_failed" and s["details"].get("test") == "dr-drill" for s in raised)


def test_a_malformed_day_is_refused(drilled):
    with pytest.raises(SystemExit):
        ops.main(["dr-drill", "--run", "yesterday"])
