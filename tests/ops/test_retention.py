"""The daily retention job: it removes exactly what expired (and TTL has not removed yet), never company records or
the audit log, reports candidates past their company's retention, and a re-run finds nothing more."""

from __future__ import annotations

import time
import uuid

import boto3
import jobs
import pytest
from protu import audit
from protu.audit import context as audit_context
from protu.directory import kinds, service
from protu.identity import accounts
from protu.principal import Principal
from protu.settings import settings

from infra import ops
from infra.seed import add_company

pytestmark = pytest.mark.xdist_group("backups")
DAY = 86400


def ddb():
    return boto3.client("dynamodb", region_name=settings().region)


def put(pk: str, sk: str, **attributes) -> dict:
    item = {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"N": str(v)} for k, v in attributes.items()}}
    ddb().put_item(TableName=settings().data_table, Item=item)
    return {"pk": item["pk"], "sk": item["sk"]}


def exists(key: dict) -> bool:
    return "Item" in ddb().get_item(TableName=settings().data_table, Key=key, ConsistentRead=True)


@pytest.fixture
def company(own_cloud) -> tuple[str, Principal]:
    tenant = accounts.new_id("c")
    owner = add_company(tenant, "Retention Co", [("owner", "Olga", f"o-{uuid.uuid4().hex[:8]}@example.com")], "x" * 20)[
        0
    ]
    return tenant, Principal(tenant, owner.id, "s-test", "owner", int(time.time()))


def test_retention_removes_exactly_what_expired(company):
    tenant, principal = company
    now = time.time()
    expired = [
        put(f"T#{tenant}#USER#u-1#SESSIONS", "s-old", expires_at=int(now - 3 * DAY)),
        put(f"TOKEN#{uuid.uuid4().hex}", "TOKEN", expires_at=int(now - 2 * DAY)),
        put(f"RL#login#{uuid.uuid4().hex}", "W#1", expires_at=int(now - DAY)),
        put(f"T#{tenant}#ACCESS_HOURS", "D#2020-01-01#03", expires_at=int(now - 5 * DAY)),
    ]
    kept = [
        put(f"T#{tenant}#USER#u-1#SESSIONS", "s-live", expires_at=int(now + DAY)),
        put(f"TOKEN#{uuid.uuid4().hex}", "TOKEN", expires_at=int(now - 60)),  # within TTL's own grace
        put(f"SUPPRESS#{uuid.uuid4().hex}@example.com", "SUPPRESS"),  # no expiry: kept until lifted
    ]
    with audit_context.bound(actor=principal.user_id):
        candidate = service.create(principal, kinds.CANDIDATES, kinds.CandidateIn(name="Kept Person"))
    chain_before = audit.verify(tenant).checked

    report = jobs.retention({"dry_run": True}, None)
    assert report["expired_found"]["sessions"] >= 1 and all(exists(key) for key in expired)

    done = jobs.retention({}, None)
    assert done["complete"] is True and done["expired_removed"]["tokens"] >= 1
    assert not any(exists(key) for key in expired) and all(exists(key) for key in kept)
    assert exists({"pk": {"S": f"T#{tenant}#CAND"}, "sk": {"S": candidate.id}})
    assert audit.verify(tenant).ok and audit.verify(tenant).checked == chain_before  # the audit log untouched

    again = jobs.retention({}, None)
    assert again["expired_removed"].get("sessions", 0) == 0 and again["expired_removed"].get("access_hours", 0) == 0


def test_candidates_past_their_companys_retention_are_erased_with_what_is_about_them(company):
    tenant, principal = company
    with audit_context.bound(actor=principal.user_id):
        old = service.create(principal, kinds.CANDIDATES, kinds.CandidateIn(name="Long Gone", notes="old note"))
        recent = service.create(principal, kinds.CANDIDATES, kinds.CandidateIn(name="Recent"))
        questions = [kinds.Question(id="q1", text="Why?")]
        assessment = service.create(principal, kinds.ASSESSMENTS, kinds.AssessmentIn(title="Fit", questions=questions))
        answer = kinds.ResponseIn(subject_type="candidate", subject_id=old.id, answers={"q1": "because"})
        response = service.create(principal, kinds.RESPONSES, answer, parent_id=assessment.id)
    two_years_ago = int(time.time() - 25 * 30.5 * DAY)
    ddb().update_item(
        TableName=settings().data_table,
        Key={"pk": {"S": f"T#{tenant}#CAND"}, "sk": {"S": old.id}},
        UpdateExpression="SET updated_at = :t",
        ExpressionAttributeValues={":t": {"N": str(two_years_ago)}},
    )
    assert jobs.retention({"dry_run": True}, None)["candidates_past_retention"][tenant] == 1
    assert exists({"pk": {"S": f"T#{tenant}#CAND"}, "sk": {"S": old.id}})  # a dry run erases nobody

    done = jobs.retention({}, None)
    assert done["candidates_erased"][tenant] == 1
    assert not exists({"pk": {"S": f"T#{tenant}#CAND"}, "sk": {"S": old.id}})
    assert not exists({"pk": {"S": f"T#{tenant}#RESP"}, "sk": {"S": response.id}})
    assert exists({"pk": {"S": f"T#{tenant}#CAND"}, "sk": {"S": recent.id}})
    erased = next(e for e in audit.events(tenant, limit=10)[0] if e["action"] == "candidate.erased")
    assert erased["actor"] == "system:retention" and erased["target"] == f"candidate:{old.id}"
    assert "Long Gone" not in str(erased) and audit.verify(tenant).ok
    assert tenant not in jobs.retention({}, None)["candidates_erased"]  # a re-run finds nobody more


def test_the_cli_reports_a_dry_run(company, capsys):
    put(f"RL#login#{uuid.uuid4().hex}", "W#1", expires_at=int(time.time() - DAY))
    assert ops.main(["retention", "--dry-run"]) == 0
    assert "would remove" in capsys.readouterr().out
