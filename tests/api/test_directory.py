"""Company records through the API: job roles and candidates (the kinds declared in ``protu.directory.kinds``).

Lists page with an opaque cursor and filter; references are checked and counted (a role in use cannot be deleted);
a stale version is refused; another company's ids are 404 exactly like missing ones; every change is audited in the
same transaction; a candidate's notes are sealed with the company's key before they reach DynamoDB.
"""

from __future__ import annotations

from datetime import datetime

import boto3
import jobs
import pytest
from protu import audit, crypto, errors
from protu.settings import settings

from infra.streams import StreamPump
from tests.api.people import invite, sign_up


def tenant(account) -> str:
    return account.me["company"]["id"]


def error(reply) -> tuple[int, str]:
    return reply.status, reply.json()["error"]["code"]


def raw_item(tenant_id: str, prefix: str, record_id: str) -> dict:
    table = boto3.client("dynamodb", region_name="eu-central-1")
    return table.get_item(
        TableName=settings().data_table, Key={"pk": {"S": f"T#{tenant_id}#{prefix}"}, "sk": {"S": record_id}}
    ).get("Item")


def test_an_admin_creates_reads_changes_and_deletes_a_role(admin):
    b = admin.browser
    created = b.post("/api/roles", {"title": "Data analyst", "department": "Finance", "level": "Mid"})
    assert created.status == 201
    role = created.json()
    assert (role["title"], role["department"], role["level"], role["description"], role["version"]) == (
        "Data analyst",
        "Finance",
        "Mid",
        "",
        1,
    )
    assert b.get(f"/api/roles/{role['id']}").json() == role
    changed = b.patch(f"/api/roles/{role['id']}", {"version": 1, "description": "Reports and dashboards"}).json()
    assert (changed["description"], changed["version"], changed["title"]) == (
        "Reports and dashboards",
        2,
        "Data analyst",
    )
    assert b.delete(f"/api/roles/{role['id']}").status == 204
    assert error(b.get(f"/api/roles/{role['id']}")) == (404, "not_found")

    actions = [e["action"] for e in audit.events(tenant(admin), limit=20)[0]]
    assert {"role.created", "role.updated", "role.deleted"} <= set(actions)


def test_a_change_without_real_changes_keeps_the_version(owner):
    role = owner.browser.post("/api/roles", {"title": "Designer"}).json()
    again = owner.browser.patch(f"/api/roles/{role['id']}", {"version": 1, "title": "Designer"}).json()
    assert again["version"] == 1


def test_a_stale_version_is_a_409_and_changes_nothing(owner):
    b = owner.browser
    role = b.post("/api/roles", {"title": "Recruiter"}).json()
    assert b.patch(f"/api/roles/{role['id']}", {"version": 1, "level": "Lead"}).status == 200
    stale = b.patch(f"/api/roles/{role['id']}", {"version": 1, "level": "Junior"})
    assert error(stale) == (409, "version_conflict") and stale.json()["error"]["details"] == {"version": 2}
    assert b.get(f"/api/roles/{role['id']}").json()["level"] == "Lead"


def test_lists_page_with_an_opaque_cursor_without_repeats_or_gaps(owner):
    b = owner.browser
    made = {b.post("/api/candidates", {"name": f"Pat {i}", "stage": "interview"}).json()["id"] for i in range(7)}
    seen, cursor, pages = [], None, 0
    while True:
        query = "/api/candidates?stage=interview&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = b.get(query).json()
        assert len(page["items"]) <= 3
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(seen) >= made and len(seen) == len(set(seen)) and pages >= 3


def test_candidates_filter_by_stage_and_role(owner):
    b = owner.browser
    role = b.post("/api/roles", {"title": "Nurse"}).json()
    hired = b.post("/api/candidates", {"name": "Ana", "stage": "hired", "job_role_id": role["id"]}).json()
    b.post("/api/candidates", {"name": "Ben", "stage": "offer", "job_role_id": role["id"]})
    by_both = b.get(f"/api/candidates?stage=hired&job_role_id={role['id']}").json()["items"]
    assert [c["id"] for c in by_both] == [hired["id"]]
    assert len(b.get(f"/api/candidates?job_role_id={role['id']}").json()["items"]) == 2
    assert error(b.get("/api/candidates?stage=celebrating")) == (422, "validation_failed")


def test_references_are_checked_counted_and_protect_what_they_point_at(owner, stranger):
    b = owner.browser
    role = b.post("/api/roles", {"title": "Chef"}).json()
    theirs = stranger.browser.post("/api/roles", {"title": "Their role"}).json()
    refused = b.post("/api/candidates", {"name": "Eve", "job_role_id": theirs["id"]})
    assert error(refused) == (422, "invalid_reference") and refused.json()["error"]["details"] == {
        "field": "job_role_id"
    }

    cand = b.post("/api/candidates", {"name": "Eve", "job_role_id": role["id"]}).json()
    in_use = b.delete(f"/api/roles/{role['id']}")
    assert error(in_use) == (409, "in_use")
    assert b.patch(f"/api/candidates/{cand['id']}", {"version": 1, "job_role_id": None}).status == 200
    assert b.delete(f"/api/roles/{role['id']}").status == 204
    gone = b.patch(f"/api/candidates/{cand['id']}", {"version": 2, "job_role_id": role["id"]})
    assert error(gone) == (422, "invalid_reference")


def test_another_companys_records_are_404_exactly_like_missing_ones(owner, stranger):
    theirs = stranger.browser.post("/api/candidates", {"name": "Private person", "notes": "theirs"}).json()
    missing = "cand-00000000000000000000"
    for method, body in (("GET", None), ("PATCH", {"version": 1, "name": "x"}), ("DELETE", None)):
        mine = owner.browser.request(method, f"/api/candidates/{theirs['id']}", json=body)
        absent = owner.browser.request(method, f"/api/candidates/{missing}", json=body)
        assert mine.status == absent.status == 404 and mine.json() == absent.json()
    listed = owner.browser.get("/api/candidates?limit=100").json()["items"]
    assert theirs["id"] not in {c["id"] for c in listed}
    assert stranger.browser.get(f"/api/candidates/{theirs['id']}").json()["name"] == "Private person"


def test_candidate_notes_are_sealed_before_they_reach_dynamodb(owner, stranger):
    secret = "Asked for flexible hours for a medical reason"
    cand = owner.browser.post("/api/candidates", {"name": "Noor", "notes": secret}).json()
    item = raw_item(tenant(owner), "CAND", cand["id"])
    assert secret not in str(item) and "notes" not in item["data"]["M"]
    sealed = item["sealed"]["B"]
    opened = crypto.decrypt_fields(tenant(owner), "candidate", cand["id"], sealed, ["notes"], subject=cand["id"])
    assert opened == {"notes": secret}  # under the candidate's own key (erasing them destroys it)
    with pytest.raises(errors.DecryptionFailed):
        crypto.decrypt_fields(tenant(stranger), "candidate", cand["id"], sealed, ["notes"], subject=cand["id"])
    with pytest.raises(errors.DecryptionFailed):
        crypto.decrypt_fields(tenant(owner), "candidate", "cand-11111111111111111111", sealed, ["notes"])
    with pytest.raises(errors.DecryptionFailed):  # the context names the person: without it, it does not open
        crypto.decrypt_fields(tenant(owner), "candidate", cand["id"], sealed, ["notes"])
    assert owner.browser.get(f"/api/candidates/{cand['id']}").json()["notes"] == secret


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "A", "shoe_size": 44}, "shoe_size"),
        ({"name": 7}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "A", "notes": "n" * 10001}, "notes"),
        ({"name": "A", "job_role_id": "role-not-an-id"}, "job_role_id"),
        ({"name": "A", "stage": "celebrating"}, "stage"),
        ({}, "name"),
    ],
)
def test_bad_candidates_are_422_naming_the_field_and_write_nothing(owner, body, field):
    before = len(owner.browser.get("/api/candidates?limit=100").json()["items"])
    reply = owner.browser.post("/api/candidates", body)
    assert error(reply) == (422, "validation_failed") and reply.json()["error"]["details"]["field"] == field
    assert len(owner.browser.get("/api/candidates?limit=100").json()["items"]) == before


@pytest.mark.parametrize(
    "query, code",
    [
        ("limit=0", "validation_failed"),
        ("limit=101", "validation_failed"),
        ("cursor=%25%25", "invalid_cursor"),
        ("cursor=bm90LWFuLWlk", "invalid_cursor"),
        ("colour=red", "validation_failed"),
    ],
)
def test_bad_list_queries_are_422(owner, query, code):
    assert error(owner.browser.get(f"/api/roles?{query}")) == (422, code)


def test_a_patch_needs_the_version(owner):
    role = owner.browser.post("/api/roles", {"title": "Porter"}).json()
    reply = owner.browser.patch(f"/api/roles/{role['id']}", {"title": "Head porter"})
    assert error(reply) == (422, "validation_failed") and reply.json()["error"]["details"] == {"field": "version"}


# ------------------------------------------------------------------------------------------------ teams and employees
def test_team_membership_is_one_fact_seen_from_both_sides(owner):
    b = owner.browser
    ana = b.post("/api/employees", {"name": "Ana", "start_date": "2023-01-09"}).json()
    ben = b.post("/api/employees", {"name": "Ben"}).json()
    team = b.post("/api/teams", {"name": "Platform", "lead_employee_id": ana["id"], "member_ids": [ana["id"]]})
    assert team.status == 201, team.body
    team = team.json()
    assert b.get(f"/api/employees/{ana['id']}").json()["team_ids"] == [team["id"]]

    # joining from the employee's side shows on the team
    ben_now = b.get(f"/api/employees/{ben['id']}").json()
    joined = b.patch(f"/api/employees/{ben['id']}", {"version": ben_now["version"], "team_ids": [team["id"]]})
    assert joined.status == 200, joined.body
    assert b.get(f"/api/teams/{team['id']}").json()["member_ids"] == [ana["id"], ben["id"]]
    in_team = b.get(f"/api/employees?team_id={team['id']}").json()["items"]
    assert {e["id"] for e in in_team} == {ana["id"], ben["id"]}

    # leaving from the team's side shows on the employee
    current = b.get(f"/api/teams/{team['id']}").json()
    left = b.patch(f"/api/teams/{team['id']}", {"version": current["version"], "member_ids": [ana["id"]]})
    assert left.status == 200, left.body
    assert b.get(f"/api/employees/{ben['id']}").json()["team_ids"] == []

    # the lead cannot be deleted while leading; deleting the team frees everyone
    assert error(b.delete(f"/api/employees/{ana['id']}")) == (409, "in_use")
    assert b.delete(f"/api/teams/{team['id']}").status == 204
    assert b.get(f"/api/employees/{ana['id']}").json()["team_ids"] == []
    assert b.delete(f"/api/employees/{ana['id']}").status == 204


def test_deleting_a_member_takes_them_out_of_their_teams(owner):
    b = owner.browser
    cy = b.post("/api/employees", {"name": "Cy"}).json()
    team = b.post("/api/teams", {"name": "Ops", "member_ids": [cy["id"], cy["id"]]}).json()
    assert team["member_ids"] == [cy["id"]]  # repeats are dropped
    assert b.delete(f"/api/employees/{cy['id']}").status == 204
    assert b.get(f"/api/teams/{team['id']}").json()["member_ids"] == []


def test_team_references_must_be_employees_of_the_same_company(owner, stranger):
    theirs = stranger.browser.post("/api/employees", {"name": "Not yours"}).json()
    for body, field in (
        ({"name": "T", "lead_employee_id": theirs["id"]}, "lead_employee_id"),
        ({"name": "T", "member_ids": [theirs["id"]]}, "member_ids"),
        ({"name": "T", "member_ids": ["emp-00000000000000000000"]}, "member_ids"),
    ):
        reply = owner.browser.post("/api/teams", body)
        assert error(reply) == (422, "invalid_reference") and reply.json()["error"]["details"] == {"field": field}
    assert stranger.browser.get(f"/api/employees/{theirs['id']}").json()["team_ids"] == []


def test_employees_filter_by_role_and_status_and_refuse_bad_dates(owner):
    b = owner.browser
    role = b.post("/api/roles", {"title": "Welder"}).json()
    left = b.post("/api/employees", {"name": "Dee", "job_role_id": role["id"], "status": "left"}).json()
    b.post("/api/employees", {"name": "Eli", "job_role_id": role["id"]})
    found = b.get(f"/api/employees?job_role_id={role['id']}&status=left").json()["items"]
    assert [e["id"] for e in found] == [left["id"]]
    for day in ("2024-13-01", "01/02/2024", "2024-02-30x"):
        reply = b.post("/api/employees", {"name": "Fay", "start_date": day})
        assert error(reply) == (422, "validation_failed") and reply.json()["error"]["details"] == {
            "field": "start_date"
        }
    assert error(b.delete(f"/api/roles/{role['id']}")) == (409, "in_use")


# ------------------------------------------------------------------------------------------------ assessments
@pytest.fixture(scope="module")
def assessment(owner):
    questions = [
        {"id": "q1", "text": "Tell us about a hard decision."},
        {"id": "q2", "text": "Rate teamwork", "kind": "scale"},
    ]
    return owner.browser.post("/api/assessments", {"title": "Interview", "questions": questions}).json()


def respond(account, assessment_id, subject_id, answers, **extra):
    body = {"subject_type": "candidate", "subject_id": subject_id, "answers": answers, **extra}
    return account.browser.post(f"/api/assessments/{assessment_id}/responses", body)


def test_responses_are_sealed_and_every_read_is_an_audit_event(owner, stranger, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Kim"}).json()
    secret = "I once had to let my best friend go from the team."
    created = respond(owner, assessment["id"], cand["id"], {"q1": secret, "q2": "4"}, score=72.5, notes="strong")
    assert created.status == 201, created.body
    response = created.json()
    item = raw_item(tenant(owner), "RESP", response["id"])
    assert secret not in str(item) and "strong" not in str(item)
    assert item["data"]["M"]["score"] == {"N": "72.5"}
    with pytest.raises(errors.DecryptionFailed):
        crypto.decrypt_fields(tenant(stranger), "response", response["id"], item["sealed"]["B"], ["answers", "notes"])

    path = f"/api/assessments/{assessment['id']}/responses"
    assert owner.browser.get(f"{path}/{response['id']}").json()["answers"]["q1"] == secret
    listed = owner.browser.get(f"{path}?subject_id={cand['id']}").json()["items"]
    assert [r["id"] for r in listed] == [response["id"]]
    reads = [e for e in audit.events(tenant(owner), action="response.read", limit=10)[0]]
    assert len(reads) >= 2 and all(cand["id"] in e["details"]["subjects"] for e in reads[:2])
    assert reads[0]["actor"] == owner.me["id"] and secret not in str(reads)


def test_answers_must_be_to_the_assessments_own_questions(owner, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Lou"}).json()
    reply = respond(owner, assessment["id"], cand["id"], {"q1": "ok", "q7": "?"})
    assert error(reply) == (422, "unknown_question") and reply.json()["error"]["details"] == {"field": "answers"}
    wrong_kind = owner.browser.post(
        f"/api/assessments/{assessment['id']}/responses",
        {"subject_type": "employee", "subject_id": cand["id"], "answers": {"q1": "x"}},
    )
    assert error(wrong_kind) == (422, "invalid_reference")


def test_a_subject_or_assessment_with_responses_cannot_be_deleted(owner, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Mo"}).json()
    response = respond(owner, assessment["id"], cand["id"], {"q1": "x"}).json()
    assert error(owner.browser.delete(f"/api/candidates/{cand['id']}")) == (409, "in_use")
    assert error(owner.browser.delete(f"/api/assessments/{assessment['id']}")) == (409, "in_use")
    path = f"/api/assessments/{assessment['id']}/responses/{response['id']}"
    assert owner.browser.delete(path).status == 204
    assert owner.browser.delete(f"/api/candidates/{cand['id']}").status == 204


def test_responses_are_reached_only_through_their_own_assessment_and_company(owner, stranger, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Ned"}).json()
    response = respond(owner, assessment["id"], cand["id"], {"q1": "mine"}).json()
    other = owner.browser.post("/api/assessments", {"title": "Other", "questions": [{"id": "q1", "text": "?"}]}).json()
    assert error(owner.browser.get(f"/api/assessments/{other['id']}/responses/{response['id']}")) == (404, "not_found")
    theirs = stranger.browser.get(f"/api/assessments/{assessment['id']}/responses/{response['id']}")
    missing = stranger.browser.get(f"/api/assessments/asmt-00000000000000000000/responses/{response['id']}")
    assert theirs.status == missing.status == 404 and theirs.json() == missing.json()
    assert error(stranger.browser.get(f"/api/assessments/{assessment['id']}/responses")) == (404, "not_found")


def test_a_persons_page_lists_their_responses_to_every_assessment_and_each_read_is_audited(owner, stranger, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Pia"}).json()
    emp = owner.browser.post("/api/employees", {"name": "Pia"}).json()
    second = owner.browser.post("/api/assessments", {"title": "Second", "questions": [{"id": "q1", "text": "?"}]})
    first = respond(owner, assessment["id"], cand["id"], {"q1": "first answer"}).json()
    later = respond(owner, second.json()["id"], cand["id"], {"q1": "second answer"}).json()
    respond(owner, assessment["id"], emp["id"], {"q1": "an employee's"}, subject_type="employee")

    page = owner.browser.get(f"/api/candidates/{cand['id']}/responses").json()
    assert [r["id"] for r in page["items"]] == [later["id"], first["id"]] and page["next_cursor"] is None
    assert page["items"][1]["answers"] == {"q1": "first answer"}
    one = owner.browser.get(f"/api/candidates/{cand['id']}/responses?limit=1").json()
    rest = owner.browser.get(f"/api/candidates/{cand['id']}/responses?cursor={one['next_cursor']}").json()
    assert [r["id"] for r in one["items"] + rest["items"]] == [later["id"], first["id"]]
    same_id_as_employee = owner.browser.get(f"/api/employees/{emp['id']}/responses").json()["items"]
    assert [r["answers"] for r in same_id_as_employee] == [{"q1": "an employee's"}]

    read = audit.events(tenant(owner), action="response.read", limit=1)[0][0]
    assert read["details"]["subjects"] == [emp["id"]] and read["actor"] == owner.me["id"]
    theirs = stranger.browser.get(f"/api/candidates/{cand['id']}/responses")
    missing = stranger.browser.get("/api/candidates/cand-00000000000000000000/responses")
    assert theirs.status == missing.status == 404 and theirs.json() == missing.json()
    assert error(owner.browser.get(f"/api/employees/{cand['id']}/responses")) == (404, "not_found")


@pytest.fixture
def read_watch(cloud):
    """The audit table's stream into its consumer (the mirror, then the read watch), as the event source mapping
    feeds it: reads are counted off the request path."""
    return StreamPump(settings().audit_table, jobs.mirror_audit, starting_position="LATEST")


def test_reading_far_more_responses_than_usual_raises_a_signal(
    owner, assessment, module_mailgun, monkeypatch, read_watch
):
    from protu.security import access, signals

    monkeypatch.setattr(access, "READS_LIMIT", 3)  # the threshold is configuration; the mechanism is the real one
    reader = invite(owner, module_mailgun, "admin")  # a fresh user: an empty window
    cand = owner.browser.post("/api/candidates", {"name": "Oz"}).json()
    made = [respond(owner, assessment["id"], cand["id"], {"q1": str(i)}).json()["id"] for i in range(2)]
    path = f"/api/assessments/{assessment['id']}/responses?subject_id={cand['id']}"
    before = len([s for s in signals.list_signals(tenant(owner)) if s["kind"] == "access.unusual"])
    for _ in range(3):  # 2 responses opened each time: 6 > 3, crossed once
        assert len(reader.browser.get(path).json()["items"]) == len(made)
    read_watch.pump()
    after = [s for s in signals.list_signals(tenant(owner)) if s["kind"] == "access.unusual"]
    assert len(after) == before + 1 and after[0]["user"] == reader.me["id"]


def test_reading_responses_in_the_companys_quiet_hours_raises_a_signal(api, module_mailgun, monkeypatch, read_watch):
    from protu.security import access, signals

    monkeypatch.setattr(access, "MIN_DAYS", 3)  # how much history makes "usual" is configuration
    monkeypatch.setattr(access, "USUAL_DAYS", 2)
    company = sign_up(api, module_mailgun)  # a fresh company: no history yet
    asmt = company.browser.post("/api/assessments", {"title": "Check", "questions": [{"id": "q1", "text": "?"}]})
    cand = company.browser.post("/api/candidates", {"name": "Quinn"}).json()
    for answer in ("a", "b"):
        respond(company, asmt.json()["id"], cand["id"], {"q1": answer})
    path = f"/api/candidates/{cand['id']}/responses"

    def read_at(moment: str) -> None:
        monkeypatch.setattr(access, "clock", lambda: datetime.fromisoformat(moment).timestamp())
        assert company.browser.get(path).status == 200
        read_watch.pump()  # the watch judges the hour it sees the read in: at once, here

    def off_hours() -> list[dict]:
        return [s for s in signals.list_signals(tenant(company)) if s["kind"] == "access.off_hours"]

    read_at("2026-11-23T10:05:00+00:00")  # Monday morning
    read_at("2026-11-23T05:00:00+00:00")  # one day of history is too little to judge an hour by
    for _ in range(20):
        read_at("2026-11-23T05:30:00+00:00")  # a burst is one day, however many reads it makes
    read_at("2026-11-24T10:10:00+00:00")
    read_at("2026-11-25T10:20:00+00:00")  # three mornings: the company's day is known
    assert off_hours() == []
    read_at("2026-11-26T05:10:00+00:00")  # one earlier day at 05:00 is not usual
    read_at("2026-11-26T03:00:00+00:00")  # the same user in another quiet hour: a new signal
    read_at("2026-11-26T03:20:00+00:00")  # the same hour again: one signal is enough
    read_at("2026-11-26T10:15:00+00:00")  # the usual hour: nothing
    found = off_hours()
    assert [s["details"]["hour_utc"] for s in found] == [3, 5]  # newest first
    assert all(s["user"] == company.me["id"] for s in found)
    assert found[0]["details"]["days_read_in_this_hour"] == 0 and found[1]["details"]["days_read"] == 3


def test_erasing_a_candidate_shreds_their_key_and_removes_everything_about_them(owner, admin, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Erin", "notes": "private note about Erin"}).json()
    answers = [respond(owner, assessment["id"], cand["id"], {"q1": f"answer {i}"}).json() for i in range(2)]
    sealed = raw_item(tenant(owner), "CAND", cand["id"])["sealed"]["B"]  # as a backup taken now holds it
    answer_sealed = raw_item(tenant(owner), "RESP", answers[0]["id"])["sealed"]["B"]
    assert error(owner.browser.delete(f"/api/candidates/{cand['id']}")) == (409, "in_use")  # a plain delete
    assert error(admin.browser.delete(f"/api/candidates/{cand['id']}?erase=true")) == (403, "forbidden")  # owners

    assert owner.browser.delete(f"/api/candidates/{cand['id']}?erase=true").status == 204
    assert error(owner.browser.get(f"/api/candidates/{cand['id']}")) == (404, "not_found")
    path = f"/api/assessments/{assessment['id']}/responses"
    assert error(owner.browser.get(f"{path}/{answers[0]['id']}")) == (404, "not_found")
    with pytest.raises(errors.KeyDestroyed):  # the copy in any backup is unreadable now
        crypto.decrypt_fields(tenant(owner), "candidate", cand["id"], sealed, ["notes"], subject=cand["id"])
    with pytest.raises(errors.KeyDestroyed):
        crypto.decrypt_fields(
            tenant(owner), "response", answers[0]["id"], answer_sealed, ["answers", "notes"], subject=cand["id"]
        )
    erased = audit.events(tenant(owner), action="candidate.erased", limit=1)[0][0]
    assert erased["details"] == {"records_about_them": 2} and "Erin" not in str(erased)
    assert audit.verify(tenant(owner)).ok


def test_erasing_an_employee_takes_them_out_of_their_teams_and_refuses_while_they_lead_one(owner):
    emp = owner.browser.post("/api/employees", {"name": "Eli"}).json()
    team = owner.browser.post("/api/teams", {"name": "Ops", "member_ids": [emp["id"]], "lead_employee_id": emp["id"]})
    assert error(owner.browser.delete(f"/api/employees/{emp['id']}?erase=true")) == (409, "in_use")
    current = owner.browser.get(f"/api/teams/{team.json()['id']}").json()
    owner.browser.patch(f"/api/teams/{current['id']}", {"version": current["version"], "lead_employee_id": None})
    assert owner.browser.delete(f"/api/employees/{emp['id']}?erase=true").status == 204
    assert owner.browser.get(f"/api/teams/{current['id']}").json()["member_ids"] == []
    assert error(owner.browser.delete("/api/roles/role-00000000000000000000?erase=true"))[0] == 422


def test_an_owner_exports_everything_held_about_a_person_and_the_export_is_audited(owner, admin, assessment):
    cand = owner.browser.post("/api/candidates", {"name": "Xia", "notes": "note about Xia"}).json()
    made = respond(owner, assessment["id"], cand["id"], {"q1": "Xia's answer"}).json()
    reply = owner.browser.post(f"/api/candidates/{cand['id']}/export")
    assert reply.status == 200, reply.body
    archive = reply.json()
    assert archive["person"]["notes"] == "note about Xia" and archive["exported_at"] > 0
    assert [r["id"] for r in archive["responses"]] == [made["id"]]
    assert archive["responses"][0]["answers"] == {"q1": "Xia's answer"}
    event = audit.events(tenant(owner), action="candidate.exported", limit=1)[0][0]
    assert event["target"] == f"candidate:{cand['id']}" and "Xia" not in str(event)
    assert error(admin.browser.post(f"/api/candidates/{cand['id']}/export")) == (403, "forbidden")
    assert error(owner.browser.post("/api/employees/emp-00000000000000000000/export")) == (404, "not_found")
