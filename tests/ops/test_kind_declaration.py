"""A kind of company record is one declaration: this module declares one at test time (an interview about a
candidate, with sealed notes), registers it (``kinds.register``) and follows it through everything the built-in
kinds go through, with no line of the generic code knowing it: its routes (made again by ``directory.build``, as the
API makes them at import), lists with filters, its own validation hook, the candidate's page of their interviews,
the candidate's data-protection export, their erasure, the company's export, the daily backup and its restore
test, and the erasure of the whole company.

The API's other routes (sign-up, ``/api/exports``, ``/api/company/erase``) are the API function's own; the
directory's routes made with interviews declared are installed on an app of their own, with the API's authorizer,
and called with the same session. Runs in a stack of its own (``tests/ops/conftest.py``): the backup and the
company's erasure read whole tables.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Annotated, Literal
from urllib.parse import urlsplit

import boto3
import jobs
import msgspec
import pytest
from msgspec import UNSET, UnsetType
from protu import audit, crypto, errors
from protu.directory import kinds
from protu.ops import backup, restore_test
from protu.settings import settings

from infra.streams import StreamPump
from tests.api.people import Browser, sign_up
from tests.conftest import Client

pytestmark = pytest.mark.xdist_group("backups")  # backups are per day and per cloud: one worker takes them

Outcome = Literal["pass", "hold", "fail"]
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class InterviewIn(kinds.Strict):
    candidate_id: kinds.Id
    held_on: Day
    outcome: Outcome = "hold"
    interviewer: Annotated[str, msgspec.Meta(max_length=120)] = ""
    notes: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class InterviewPatch(kinds.Strict):
    version: Annotated[int, msgspec.Meta(ge=1)]
    outcome: Outcome | UnsetType = UNSET
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | UnsetType = UNSET


class InterviewOut(msgspec.Struct):
    id: str
    candidate_id: str
    held_on: str
    outcome: str
    interviewer: str
    notes: str
    version: int
    created_at: int
    updated_at: int


class InterviewQuery(kinds.PageQuery):
    candidate_id: kinds.Id | None = None
    outcome: Outcome | None = None


def a_verdict_says_why(tenant_id: str, values: dict, parent: dict | None) -> None:
    """The kind's own rule (``Kind.validate``), checked on create and on every change: a pass or a fail has notes."""
    if values.get("outcome") != "hold" and not values.get("notes"):
        raise errors.ValidationFailed("Say why in the notes.", code="verdict_without_notes", details={"field": "notes"})


INTERVIEWS = kinds.Kind(
    name="interviews",
    prefix="INTV",
    entity="interview",
    permission="candidates",  # an interview is candidate data: whoever manages candidates manages interviews
    create=InterviewIn,
    patch=InterviewPatch,
    out=InterviewOut,
    query=InterviewQuery,
    refs={"candidate_id": "candidates"},
    sensitive=("notes",),
    filters=("candidate_id", "outcome"),
    subject="candidate_id",  # about a candidate: sealed with their key, theirs to export, erased with them
    audit_reads=True,
    validate=a_verdict_says_why,
    refuses=((422, "verdict_without_notes", "A pass or a fail says why in the notes.", "notes"),),
    example={"candidate_id": "cand-0123456789abcdef0123", "held_on": "2025-03-04", "interviewer": "Ines"},
)


@pytest.fixture(scope="module")
def interviews(api):
    # ``api``: the API function is imported (its routes made from the built-in kinds) before interviews are
    # declared. Were it first imported in this module's scope, its routes would know interviews for the rest of
    # the worker's tests (a random order found it: another module's candidate export then failed).
    kinds.register(INTERVIEWS)
    try:
        yield INTERVIEWS
    finally:
        kinds.unregister(INTERVIEWS)
    assert "interviews" not in kinds.KINDS  # the other modules of this worker see the built-in kinds only


@pytest.fixture(scope="module")
def directory_api(cloud, interviews):
    """The directory's routes made again with interviews declared, installed as the API function installs them."""
    from protu.http import directory
    from protu.http.app import ProtuApp
    from protu.http.authn import authorize
    from protu.http.routing import install

    app = ProtuApp("protu-api")
    install(app, directory.build(), authorize=authorize)
    return Client(app)


@pytest.fixture(scope="module")
def owner(api, module_mailgun):
    return sign_up(api, module_mailgun)


@pytest.fixture(scope="module")
def stranger(api, module_mailgun):
    return sign_up(api, module_mailgun)


@pytest.fixture
def job(cloud):
    """The company requests' job, fed from the data table's stream (as in ``test_company_rights``)."""
    return StreamPump(settings().data_table, jobs.company_requests, starting_position="LATEST")


def on(client: Client, account) -> Browser:
    """The account's browser (same session, user agent and address) calling ``client``."""
    b = account.browser
    return Browser(client, user_agent=b.user_agent, ip=b.ip, access_token=b.access_token)


def tenant(account) -> str:
    return account.me["company"]["id"]


def error(reply) -> tuple[int, str]:
    return reply.status, reply.json()["error"]["code"]


def ids(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [item["id"] for item in reply.json()["items"]]


def interview(browser: Browser, candidate_id: str, **fields) -> dict:
    reply = browser.post("/api/interviews", {"candidate_id": candidate_id, "held_on": "2025-03-04", **fields})
    assert reply.status == 201, reply.body
    return reply.json()


def raw_item(tenant_id: str, prefix: str, record_id: str) -> dict | None:
    table = boto3.client("dynamodb", region_name=settings().region)
    key = {"pk": {"S": f"T#{tenant_id}#{prefix}"}, "sk": {"S": record_id}}
    return table.get_item(TableName=settings().data_table, Key=key).get("Item")


# ------------------------------------------------------------------------------------------------ declaration
def test_a_declaration_is_checked_when_it_is_registered(interviews):
    from msgspec.structs import replace

    with pytest.raises(ValueError, match="already declared"):
        kinds.register(replace(INTERVIEWS))
    with pytest.raises(ValueError, match="permission"):
        kinds.register(replace(INTERVIEWS, name="meetings", prefix="MEET", permission="meetings"))
    with pytest.raises(ValueError, match="not declared"):
        kinds.register(replace(INTERVIEWS, name="meetings", prefix="MEET", refs={"candidate_id": "applicants"}))
    with pytest.raises(ValueError, match="person"):  # a role is not a person: nobody's key could seal the notes
        kinds.register(replace(INTERVIEWS, name="meetings", prefix="MEET", refs={"candidate_id": "roles"}))
    assert "meetings" not in kinds.KINDS
    assert [kind for kind, _, _ in kinds.about(kinds.CANDIDATES)] == [kinds.RESPONSES, INTERVIEWS]
    assert [kind for kind, _, _ in kinds.about(kinds.EMPLOYEES)] == [kinds.RESPONSES]


def test_the_routes_and_the_api_document_follow_the_declaration(directory_api):
    from openapi_spec_validator import validate as validate_openapi
    from protu.http.openapi import document

    doc = document(directory_api.handler.endpoints)
    validate_openapi(doc)
    paths = doc["paths"]
    assert {"/api/interviews", "/api/interviews/{id}", "/api/candidates/{id}/interviews"} <= set(paths)
    assert "/api/employees/{id}/interviews" not in paths  # an interview is about a candidate only
    filters = {p["name"] for p in paths["/api/interviews"]["get"]["parameters"]}
    assert filters == {"limit", "cursor", "candidate_id", "outcome"}
    assert "verdict_without_notes" in json.dumps(paths["/api/interviews"]["post"]["responses"])
    export = doc["components"]["schemas"]["CandidateExport"]["properties"]
    assert set(export) == {"exported_at", "person", "responses", "interviews"}
    assert set(doc["components"]["schemas"]["EmployeeExport"]["properties"]) == {"exported_at", "person", "responses"}


# ------------------------------------------------------------------------------------------------ routes and lists
def test_interviews_are_created_validated_sealed_and_listed_with_filters(api, module_mailgun, stranger, directory_api):
    owner = sign_up(api, module_mailgun)  # a company of its own: its lists hold this test's interviews only
    browser = on(directory_api, owner)
    ana = browser.post("/api/candidates", {"name": "Ana"}).json()
    bo = browser.post("/api/candidates", {"name": "Bo"}).json()
    first = interview(browser, ana["id"], interviewer="Ines")
    passed = interview(browser, ana["id"], outcome="pass", notes="clear thinker, ask about Go")
    failed = interview(browser, bo["id"], outcome="fail", notes="no show")

    item = raw_item(tenant(owner), "INTV", passed["id"])
    assert "clear thinker" not in str(item) and "sealed" in item  # sealed with Ana's key before DynamoDB
    assert item["data"]["M"]["candidate_id"] == {"S": ana["id"]}
    assert browser.get(f"/api/interviews/{passed['id']}").json()["notes"] == "clear thinker, ask about Go"

    assert ids(browser.get(f"/api/interviews?candidate_id={ana['id']}")) == [passed["id"], first["id"]]
    assert ids(browser.get("/api/interviews?outcome=fail")) == [failed["id"]]
    assert ids(browser.get(f"/api/interviews?candidate_id={ana['id']}&outcome=hold")) == [first["id"]]
    one = browser.get("/api/interviews?limit=1").json()
    rest = browser.get(f"/api/interviews?cursor={one['next_cursor']}").json()
    assert [i["id"] for i in one["items"] + rest["items"]] == [failed["id"], passed["id"], first["id"]]
    page = browser.get(f"/api/candidates/{ana['id']}/interviews").json()  # the candidate's page
    assert [i["id"] for i in page["items"]] == [passed["id"], first["id"]] and page["next_cursor"] is None
    read = audit.events(tenant(owner), action="interview.read", limit=1)[0][0]
    assert read["details"]["subjects"] == [ana["id"]] and "clear thinker" not in str(read)
    created = audit.events(tenant(owner), action="interview.created", limit=1)[0][0]
    assert created["details"]["candidate_id"] == bo["id"] and "no show" not in str(created)

    # The kind's own rule, on create and on change; references checked and counted like any kind's.
    verdict = {"candidate_id": ana["id"], "held_on": "2025-03-05", "outcome": "pass"}
    assert error(browser.post("/api/interviews", verdict)) == (422, "verdict_without_notes")
    assert error(browser.patch(f"/api/interviews/{first['id']}", {"version": 1, "outcome": "fail"})) == (
        422,
        "verdict_without_notes",
    )
    changed = browser.patch(f"/api/interviews/{first['id']}", {"version": 1, "outcome": "fail", "notes": "late"})
    assert changed.status == 200 and changed.json()["outcome"] == "fail"
    missing = browser.post("/api/interviews", {"candidate_id": "cand-00000000000000000000", "held_on": "2025-03-05"})
    assert error(missing) == (422, "invalid_reference")
    assert error(browser.delete(f"/api/candidates/{bo['id']}")) == (409, "in_use")
    assert browser.delete(f"/api/interviews/{failed['id']}").status == 204
    assert browser.delete(f"/api/candidates/{bo['id']}").status == 204

    theirs = on(directory_api, stranger)
    assert theirs.get("/api/interviews").json()["items"] == []
    assert error(theirs.get(f"/api/interviews/{passed['id']}")) == (404, "not_found")
    assert error(theirs.get(f"/api/candidates/{ana['id']}/interviews")) == (404, "not_found")
    taken = theirs.post("/api/interviews", {"candidate_id": ana["id"], "held_on": "2025-03-05"})
    assert error(taken) == (422, "invalid_reference")  # another company's candidate is nobody


# ------------------------------------------------------------------------------------------------ a person's rights
def test_a_candidates_export_holds_their_interviews_and_their_responses(owner, directory_api):
    browser = on(directory_api, owner)
    cara = browser.post("/api/candidates", {"name": "Cara", "notes": "about Cara"}).json()
    talk = interview(browser, cara["id"], outcome="pass", notes="Cara's interview notes")
    asmt = browser.post("/api/assessments", {"title": "Fit", "questions": [{"id": "q1", "text": "Why?"}]}).json()
    answer = {"subject_type": "candidate", "subject_id": cara["id"], "answers": {"q1": "Cara's answer"}}
    response = browser.post(f"/api/assessments/{asmt['id']}/responses", answer).json()

    reply = browser.post(f"/api/candidates/{cara['id']}/export")
    assert reply.status == 200, reply.body
    archive = reply.json()
    assert set(archive) == {"exported_at", "person", "responses", "interviews"}
    assert archive["person"]["notes"] == "about Cara"
    assert [(i["id"], i["notes"]) for i in archive["interviews"]] == [(talk["id"], "Cara's interview notes")]
    assert [r["answers"] for r in archive["responses"]] == [{"q1": "Cara's answer"}]
    event = audit.events(tenant(owner), action="candidate.exported", limit=1)[0][0]
    assert event["details"] == {"records_about_them": 2}
    employee = browser.post("/api/employees", {"name": "Emil"}).json()  # no kind of interview is about employees
    assert set(browser.post(f"/api/employees/{employee['id']}/export").json()) == {"exported_at", "person", "responses"}
    assert [r["id"] for r in archive["responses"]] == [response["id"]]


def test_a_companys_export_holds_its_interviews_opened(owner, api, job, directory_api):
    browser = on(directory_api, owner)
    dan = browser.post("/api/candidates", {"name": "Dan"}).json()
    talk = interview(browser, dan["id"], outcome="hold", notes="Dan's notes")
    export = owner.browser.post("/api/exports").json()
    job.pump()
    ready = owner.browser.get(f"/api/exports/{export['id']}").json()
    assert ready["status"] == "ready", ready
    body = backup.read(urlsplit(ready["download_url"]).path.lstrip("/"))
    exported = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("interviews.json"))
    assert {i["id"]: i["notes"] for i in exported}[talk["id"]] == "Dan's notes"
    assert ready["counts"]["interviews.json"] == len(exported)


# ------------------------------------------------------------------------------------------------ erasure, backups
def test_an_erased_candidate_takes_their_interviews_and_their_keys_shred_them_in_the_backup(owner, directory_api):
    browser = on(directory_api, owner)
    eve = browser.post("/api/candidates", {"name": "Eve", "notes": "about Eve"}).json()
    talks = [interview(browser, eve["id"], outcome="fail", notes=f"Eve's notes {n}") for n in range(2)]
    other = browser.post("/api/candidates", {"name": "Finn"}).json()
    kept = interview(browser, other["id"], notes="Finn's notes")

    taken = jobs.backup({}, None)
    assert taken["complete"] is True
    lines = backup.read(f"backups/{taken['run_id']}/data/{tenant(owner)}.jsonl").splitlines()
    saved = {item["id"]["S"]: item for item in map(backup.decode, lines) if item["pk"]["S"].endswith("#INTV")}
    assert {t["id"] for t in talks} | {kept["id"]} <= set(saved)
    assert not any(b"Eve's notes" in line for line in lines)  # sealed in the backup too

    assert browser.delete(f"/api/candidates/{eve['id']}?erase=true").status == 204
    for talk in talks:
        assert error(browser.get(f"/api/interviews/{talk['id']}")) == (404, "not_found")
    assert browser.get(f"/api/interviews/{kept['id']}").json()["notes"] == "Finn's notes"
    erased = audit.events(tenant(owner), action="candidate.erased", limit=1)[0][0]
    assert erased["details"] == {"records_about_them": 2}
    item = saved[talks[0]["id"]]
    with pytest.raises(errors.KeyDestroyed):  # the copy in the backup taken before is unreadable now
        crypto.decrypt_fields(
            tenant(owner), "interview", item["id"]["S"], item["sealed"]["B"], ["notes"], subject=eve["id"]
        )

    # The restore test restores the backup and opens every sealed record of it with the live keys: Eve and her two
    # interviews are shredded (the only key destroyed in this stack), everything else opens, Finn's interview too.
    result = restore_test.run(sample=10_000)
    assert result["ok"] is True, result["problems"]
    assert result["decryption"]["shredded"] == 3 and result["decryption"]["failed"] == 0
    assert result["decryption"]["opened"] >= 1


def test_erasing_the_company_removes_its_interviews_with_everything_else(api, module_mailgun, job, directory_api):
    owner = sign_up(api, module_mailgun)  # a company of its own: the module's owner goes on in the other tests
    browser = on(directory_api, owner)
    gus = browser.post("/api/candidates", {"name": "Gus"}).json()
    interview(browser, gus["id"], notes="Gus's notes")
    company = tenant(owner)
    erase = {"confirmation": owner.company, "password": owner.password}
    assert owner.browser.post("/api/company/erase", erase).status == 202
    job.pump()
    left = []
    for page in backup.pages(
        settings().data_table,
        FilterExpression="begins_with(pk, :company)",
        ExpressionAttributeValues={":company": {"S": f"T#{company}"}},
    ):
        left += [item for item in page if backup.company_of(item["pk"]["S"]) == company]
    assert left == []
    assert audit.verify(company).ok
