"""The daily backup and restore test against the local cloud, with realistic data: several companies, thousands of
items, sealed fields made by the real service. Through the job handlers and the operator CLI.

The module runs on one worker (``xdist_group``): backups are per day and per cloud, so its tests take turns.
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import jobs
import pytest
from protu import audit, crypto, errors
from protu.audit import context as audit_context
from protu.directory import kinds, service
from protu.identity import accounts
from protu.ops import backup, restore_test
from protu.principal import Principal
from protu.security import signals
from protu.settings import settings

from infra import ops
from infra.seed import add_company

pytestmark = pytest.mark.xdist_group("backups")
BULK = 1000  # plain items per company, on top of its people, records and audit events


def s3():
    return boto3.client("s3", region_name=settings().region)


def ddb():
    return boto3.client("dynamodb", region_name=settings().region)


@pytest.fixture(scope="module")
def companies(own_cloud) -> list[str]:
    """Three companies, each with an owner, five candidates with sealed notes (through the service) and ``BULK``
    more items in a partition of their own."""
    made = []
    for n in range(3):
        tenant = accounts.new_id("c")
        owner = add_company(
            tenant, f"Backup Co {n}", [("owner", "Olga", f"o-{uuid.uuid4().hex[:8]}@example.com")], "x" * 20
        )[0]
        principal = Principal(tenant, owner.id, "s-test", "owner", int(time.time()))
        with audit_context.bound(actor=owner.id):
            for i in range(5):
                service.create(
                    principal, kinds.CANDIDATES, kinds.CandidateIn(name=f"Person {i}", notes=f"private note {i}")
                )
        items = [{"pk": {"S": f"T#{tenant}#BULK"}, "sk": {"S": f"{i:06d}"}, "n": {"N": str(i)}} for i in range(BULK)]
        for start in range(0, len(items), 25):
            ddb().batch_write_item(
                RequestItems={settings().data_table: [{"PutRequest": {"Item": it}} for it in items[start : start + 25]]}
            )
        made.append(tenant)
    return made


def manifest() -> dict:
    rid = backup.newest_run()
    return json.loads(backup.read(f"backups/{rid}/manifest.json"))


def test_a_backup_exports_every_company_and_its_restore_test_passes(companies):
    summary = jobs.backup({}, None)
    assert summary["complete"] is True and summary["items"] >= 3 * BULK
    exported = manifest()["tables"]
    for tenant in companies:
        assert exported["data"][tenant]["items"] >= BULK + 5 + 1  # bulk, candidates, the company...
        assert exported["audit"][tenant]["items"] >= 6  # the seed event, five creations (and the chain head)
    body = backup.read(f"backups/{summary['run_id']}/data/{companies[0]}.jsonl")
    assert b"private note" not in body and b"sealed" in body  # sealed fields stay sealed in the export
    names = [b["BackupName"] for b in ddb().list_backups(TableName=settings().data_table)["BackupSummaries"]]
    assert f"protu-{settings().data_table}-{summary['run_id']}" in names

    result = jobs.restore_test({}, None)
    assert result["ok"] is True, result["problems"]
    assert result["decryption"]["opened"] > 0 and result["decryption"]["failed"] == 0
    assert result["tables"]["data"]["items"] == sum(c["items"] for c in exported["data"].values())
    recorded = json.loads(backup.read(f"backups/{summary['run_id']}/restore-test.json"))
    assert recorded["ok"] is True
    tables = ddb().list_tables()["TableNames"]
    assert not [t for t in tables if "-restore-test-" in t]  # the scratch tables are gone


def test_a_rerun_the_same_day_changes_nothing(companies):
    first = jobs.backup({}, None)
    before = manifest()["tables"]
    second = jobs.backup({}, None)
    after = manifest()["tables"]
    assert first["run_id"] == second["run_id"]
    assert {t: after["data"][t] for t in companies} == {t: before["data"][t] for t in companies}
    names = [b["BackupName"] for b in ddb().list_backups(TableName=settings().data_table)["BackupSummaries"]]
    assert len(names) == len(set(names))  # one DynamoDB backup a day per table


def test_a_corrupted_export_fails_the_restore_test_and_raises_a_signal(companies):
    jobs.backup({}, None)
    rid = backup.newest_run()
    key = f"backups/{rid}/data/{companies[1]}.jsonl"
    original = backup.read(key)
    s3().put_object(Bucket=settings().backup_bucket, Key=key, Body=original.replace(b'"N":"7"', b'"N":"8"'))
    try:
        result = restore_test.run()
        assert result["ok"] is False
        assert any(companies[1] in problem for problem in result["problems"])
        raised = signals.list_global(time.strftime("%Y-%m-%d", time.gmtime()))
        assert any(s["kind"] == "backup.restore_failed" and s["details"]["run_id"] == rid for s in raised)
    finally:
        s3().put_object(Bucket=settings().backup_bucket, Key=key, Body=original)
    assert restore_test.run()["ok"] is True


def test_backups_older_than_180_days_are_deleted(companies):
    jobs.backup({}, None)
    deleted = backup.delete_old(now=time.time() + 181 * 86400)
    assert deleted and all(name.startswith("protu-") for name in deleted)
    assert ddb().list_backups(TableName=settings().data_table)["BackupSummaries"] == []


def test_the_operator_cli_runs_the_jobs_and_verifies_an_audit_chain(companies, capsys):
    assert ops.main(["backup"]) == 0
    assert "backup " in capsys.readouterr().out
    assert ops.main(["restore-test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert ops.main(["verify-audit", "--tenant", companies[2]]) == 0
    assert "intact" in capsys.readouterr().out
    events = audit.events(companies[2], limit=1)[0]
    table = boto3.resource("dynamodb", region_name=settings().region).Table(settings().audit_table)
    key = {"pk": f"T#{companies[2]}", "sk": f"E#{events[0]['seq']:012d}"}
    table.update_item(Key=key, UpdateExpression="SET actor = :a", ExpressionAttributeValues={":a": "someone-else"})
    assert ops.main(["verify-audit", "--tenant", companies[2]]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_an_erased_persons_fields_cannot_be_decrypted_from_a_backup_taken_before(companies):
    tenant = companies[0]
    candidate = next(
        json.loads(line)
        for line in backup.read(f"backups/{jobs.backup({}, None)['run_id']}/data/{tenant}.jsonl").splitlines()
        if json.loads(line)["pk"]["S"].endswith("#CAND")
    )
    owner = next(u for u in accounts_users(tenant) if u.role == "owner")
    principal = Principal(tenant, owner.id, "s-test", "owner", int(time.time()))
    with audit_context.bound(actor=owner.id):
        service.erase(principal, kinds.CANDIDATES, candidate["id"]["S"])
    result = restore_test.run(sample=100)  # the backup from before the erasure
    assert result["ok"] is True and result["decryption"]["shredded"] >= 1
    item = backup.decode(json.dumps(candidate))
    with pytest.raises(errors.KeyDestroyed):
        crypto.decrypt_fields(
            tenant, "candidate", item["id"]["S"], item["sealed"]["B"], ["notes"], subject=item["id"]["S"]
        )


def accounts_users(tenant: str):
    from protu.identity.users import list_users

    return list_users(tenant)
