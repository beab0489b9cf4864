"""Faults at every step of a multi-item write: DynamoDB or KMS failing at the Nth AWS call of the request.

A create that touches several items (a candidate with sealed notes, its role's reference counter, the audit
event and the chain head) is first run once to count its AWS calls; then, for each N, it runs again with the Nth
call failing as AWS fails (a 500 ``InternalServerError`` from botocore, raised where botocore makes the call).
Each time the client gets 503 ``service_unavailable``, nothing of the write is visible (no candidate, the role's
counter unchanged, the audit chain unchanged and valid), and the same request then succeeds. A company's first
sealed write also creates its key (key store read, ``kms.GenerateDataKey``, key store write): each of those
failing is the same clean 503.
"""

from __future__ import annotations

import pytest
from protu import audit
from protu.directory.store import Records

from tests.conftest import aws_calls


def state(owner, role_id: str) -> tuple:
    tenant = owner.me["company"]["id"]
    names = sorted(c.data["name"] for c in Records(tenant, "CAND").page(limit=100, cursor=None)[0])  # not a read
    refs = int(Records(tenant, "ROLE").get(role_id).refs)
    verified = audit.verify(tenant).as_dict()
    assert verified["ok"], verified
    return names, refs, verified["checked"]


def test_a_failure_at_any_step_of_a_write_leaves_nothing_behind_and_a_retry_succeeds(owner):
    role = owner.browser.post("/api/roles", {"title": "Fault-tolerant role"}).json()
    body = {"name": "Faye", "job_role_id": role["id"], "notes": "sealed notes", "stage": "interview"}
    assert owner.browser.post("/api/candidates", {**body, "name": "Warm-up"}).status == 201  # the company's key exists

    with aws_calls() as calls:
        first = owner.browser.post("/api/candidates", body)
    assert first.status == 201, first.body
    steps = list(calls)
    assert "dynamodb.TransactWriteItems" in steps and len(steps) >= 4, steps
    before = state(owner, role["id"])

    for step in range(1, len(steps) + 1):
        attempt = {**body, "name": f"Faye {step}"}
        with aws_calls(fail_at=step):
            reply = owner.browser.post("/api/candidates", attempt)
        assert reply.status == 503, (step, steps[step - 1], reply.body)
        assert reply.json()["error"]["code"] == "service_unavailable"
        assert state(owner, role["id"]) == before, f"a failure at {steps[step - 1]} left a partial write"

    again = owner.browser.post("/api/candidates", {**body, "name": "Faye again"})
    assert again.status == 201
    names, refs, events = state(owner, role["id"])
    assert "Faye again" in names and refs == before[1] + 1 and events == before[2] + 1


@pytest.mark.parametrize(
    "method, body",
    [("PATCH", {"version": 1, "job_role_id": None, "notes": "new notes"}), ("DELETE", None)],
)
def test_a_failure_while_changing_or_deleting_leaves_the_record_as_it_was(owner, method, body):
    role = owner.browser.post("/api/roles", {"title": f"Role for {method}"}).json()
    tenant = owner.me["company"]["id"]

    def candidate() -> dict:
        return owner.browser.post("/api/candidates", {"name": "Gus", "job_role_id": role["id"], "notes": "n"}).json()

    counted = candidate()
    with aws_calls() as calls:
        assert owner.browser.request(method, f"/api/candidates/{counted['id']}", json=body).status in (200, 204)
    steps = list(calls)
    for step in range(1, len(steps) + 1):
        cand = candidate()
        refs = int(Records(tenant, "ROLE").get(role["id"]).refs)
        with aws_calls(fail_at=step):
            reply = owner.browser.request(method, f"/api/candidates/{cand['id']}", json=body)
        assert reply.status == 503, (step, steps[step - 1], reply.body)
        assert owner.browser.get(f"/api/candidates/{cand['id']}").json() == cand, steps[step - 1]
        assert int(Records(tenant, "ROLE").get(role["id"]).refs) == refs, steps[step - 1]
        assert owner.browser.request(method, f"/api/candidates/{cand['id']}", json=body).status in (200, 204)
    assert audit.verify(tenant).as_dict()["ok"]


def test_kms_or_the_key_store_failing_on_a_companys_first_sealed_write_is_a_clean_503(api, module_mailgun):
    from tests.api.people import sign_up

    def first_write(fail_at: int | None):
        company = sign_up(api, module_mailgun)
        with aws_calls(fail_at) as calls:
            reply = company.browser.post("/api/candidates", {"name": "Hal", "notes": "the first sealed field"})
        return company, reply, list(calls)

    _, reply, steps = first_write(None)
    assert reply.status == 201 and "kms.GenerateDataKey" in steps, steps
    for step in range(1, len(steps) + 1):
        company, reply, _ = first_write(step)
        assert (reply.status, reply.json()["error"]["code"]) == (503, "service_unavailable"), steps[step - 1]
        assert company.browser.get("/api/candidates").json()["items"] == [], steps[step - 1]
        retried = company.browser.post("/api/candidates", {"name": "Hal", "notes": "the first sealed field"})
        assert retried.status == 201 and retried.json()["notes"] == "the first sealed field", steps[step - 1]
