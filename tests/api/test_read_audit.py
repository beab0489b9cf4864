"""Every read of personal data is on the record (issue 17): a candidate, an employee, a response, the users list,
another user's sessions, the settings, a person's export and the audit log itself (``tests/api/test_audit_api.py``)
are audit events naming whom they read; a list page is one event naming everyone on it. An audited read costs its
request one DynamoDB write (the event), and the unusual-access watch counts these reads from the audit stream.
"""

from __future__ import annotations

import jobs
import pytest
from protu.settings import settings

from infra.streams import StreamPump
from tests.api.people import invite, sign_up
from tests.conftest import aws_calls

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@pytest.fixture(scope="module")
def company(api, module_mailgun):
    """An owner, an admin, two candidates, an employee, an assessment and a response about the first candidate."""
    owner = sign_up(api, module_mailgun)
    owner.admin = invite(owner, module_mailgun, "admin")
    b = owner.browser
    owner.candidates = [b.post("/api/candidates", {"name": f"Cand {n}", "notes": "sealed"}).json() for n in (1, 2)]
    owner.employee = b.post("/api/employees", {"name": "Emma", "email": "emma@example.com"}).json()
    owner.role = b.post("/api/roles", {"title": "Analyst"}).json()
    assessment = b.post("/api/assessments", {"title": "Fit", "questions": [{"id": "q1", "text": "Why?"}]}).json()
    owner.response = b.post(
        f"/api/assessments/{assessment['id']}/responses",
        {"subject_type": "candidate", "subject_id": owner.candidates[0]["id"], "answers": {"q1": "because"}},
    ).json()
    owner.assessment = assessment
    return owner


def newest(owner, action: str) -> dict:
    """The newest event of an action, as the owner reads the log."""
    reply = owner.browser.get(f"/api/audit-events?action={action}&limit=1")
    assert reply.status == 200, reply.body
    items = reply.json()["items"]
    assert items, f"no {action} event"
    return items[0]


def test_opening_a_person_is_an_event_naming_them(company):
    cand, emp = company.candidates[0], company.employee
    assert company.admin.browser.get(f"/api/candidates/{cand['id']}").status == 200
    read = newest(company, "candidate.read")
    assert (read["actor"], read["target"]) == (company.admin.me["id"], f"candidate:{cand['id']}")
    assert read["details"] == {"subjects": [cand["id"]]}

    assert company.browser.get(f"/api/employees/{emp['id']}").status == 200
    assert newest(company, "employee.read")["details"] == {"subjects": [emp["id"]]}

    response_path = f"/api/assessments/{company.assessment['id']}/responses/{company.response['id']}"
    assert company.browser.get(response_path).status == 200
    read = newest(company, "response.read")
    assert read["details"] == {"records": [company.response["id"]], "subjects": [cand["id"]]}


def test_a_list_page_is_one_event_naming_everyone_on_it(company):
    reply = company.browser.get("/api/candidates?limit=100")
    page, request_id = reply.json()["items"], reply.header("X-Request-Id")
    events = company.browser.get("/api/audit-events?limit=20").json()["items"]
    mine = [e for e in events if e["request_id"] == request_id]
    assert [e["action"] for e in mine] == ["candidate.read"]  # the page, not one event per candidate
    assert mine[0]["target"] == f"candidate:{len(page)} records"
    assert mine[0]["details"] == {"subjects": sorted(c["id"] for c in page)}


def test_the_users_list_sessions_settings_and_exports_are_read_on_the_record(company):
    admin = company.admin
    users = company.browser.get("/api/users").json()
    read = newest(company, "users.read")
    assert sorted(read["details"]["subjects"]) == sorted(u["id"] for u in users) and len(users) == 2

    sessions = company.browser.get(f"/api/users/{admin.me['id']}/sessions")
    assert sessions.status == 200 and len(sessions.json()) >= 1
    assert {"ip", "user_agent", "created_at", "last_seen_at"} <= set(sessions.json()[0])
    read = newest(company, "sessions.read")
    assert (read["target"], read["details"]) == (
        f"user:{admin.me['id']}",
        {"subjects": [admin.me["id"]], "sessions": 1},
    )

    assert company.browser.get("/api/settings").status == 200
    assert newest(company, "settings.read")["target"] == f"company:{company.me['company']['id']}"

    cand = company.candidates[0]
    assert company.browser.post(f"/api/candidates/{cand['id']}/export").status == 200
    exported = newest(company, "candidate.exported")
    assert exported["target"] == f"candidate:{cand['id']}"


def test_another_companys_users_sessions_are_a_404_like_no_ones(api, module_mailgun, company):
    stranger = sign_up(api, module_mailgun)
    theirs = stranger.browser.get(f"/api/users/{company.me['id']}/sessions")
    missing = stranger.browser.get("/api/users/u-00000000000000000000/sessions")
    assert theirs.status == missing.status == 404 and theirs.json() == missing.json()


def writes(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith("dynamodb.") and call.split(".", 1)[1] in WRITES]


@pytest.mark.parametrize(
    "audited",
    [
        "/api/candidates/{cand}",
        "/api/candidates?limit=100",
        "/api/users",
        "/api/settings",
        "/api/employees/{emp}",
        "/api/assessments/{assessment}/responses/{response}",
        "/api/users/{admin}/sessions",
        "/api/audit-events?limit=20",
        "/api/audit-events/verify",
    ],
)
def test_an_audited_read_adds_one_write_to_its_request(company, audited):
    path = audited.format(
        cand=company.candidates[0]["id"],
        emp=company.employee["id"],
        assessment=company.assessment["id"],
        response=company.response["id"],
        admin=company.admin.me["id"],
    )
    plain = f"/api/roles/{company.role['id']}"  # a read of no one: not audited
    company.browser.get(plain)  # the session's activity is recorded at most once a minute: done before counting
    with aws_calls() as unaudited:
        assert company.browser.get(plain).status == 200
    with aws_calls() as calls:
        assert company.browser.get(path).status == 200
    assert writes(unaudited) == []
    assert writes(calls) == ["dynamodb.TransactWriteItems"]  # the event and the chain's head, together


def test_the_bulk_read_watch_counts_list_pages_by_the_people_on_them(api, module_mailgun, monkeypatch):
    from protu.security import access, signals

    monkeypatch.setattr(access, "READS_LIMIT", 5)  # the threshold is configuration; the mechanism is the real one
    owner = sign_up(api, module_mailgun)
    for n in range(6):
        owner.browser.post("/api/candidates", {"name": f"Person {n}"})
    watch = StreamPump(settings().audit_table, jobs.mirror_audit, starting_position="LATEST")
    assert len(owner.browser.get("/api/candidates?limit=100").json()["items"]) == 6  # one request, six people
    found = [s for s in signals.list_signals(owner.me["company"]["id"]) if s["kind"] == "access.unusual"]
    assert found == []  # counted off the request path
    watch.pump()
    found = [s for s in signals.list_signals(owner.me["company"]["id"]) if s["kind"] == "access.unusual"]
    assert len(found) == 1 and found[0]["user"] == owner.me["id"]
    assert found[0]["details"]["entity"] == "candidate" and found[0]["details"]["opened"] == 6
