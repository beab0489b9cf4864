"""Lists read what they return (issue 18): a filtered page of a company's records is served by an index, so it reads
at most ``limit + 1`` records of the matching set (plus a team, for a membership filter) whatever the company's
size. Counted from what DynamoDB answered (``ScannedCount`` of each query, the items of each batch read), at a size
where reading the partition and filtering afterwards reads every record.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from tests.api.people import sign_up, subscribe

CANDIDATES = 120
pytestmark = pytest.mark.xdist_group("list_scale")  # one worker builds the module's company, not each


@contextmanager
def records_read(tenant: str, prefix: str):
    """How many items of one kind's records DynamoDB read for the requests in the block: ``read["items"]`` (the
    items each query scanned, filtered out ones included, and each batch read returned) and ``read["queries"]``."""
    import botocore.client

    real = botocore.client.BaseClient._make_api_call
    partition = f"T#{tenant}#{prefix}"
    read = {"items": 0, "queries": 0}

    def call(client, operation, params):
        answer = real(client, operation, params)
        if operation == "Query" and any(
            str(value.get("S", "")).startswith(partition)
            for value in (params.get("ExpressionAttributeValues") or {}).values()
        ):
            read["items"] += answer.get("ScannedCount", 0)
            read["queries"] += 1
        elif operation == "BatchGetItem":
            for items in (answer.get("Responses") or {}).values():
                read["items"] += sum(1 for item in items if item.get("pk", {}).get("S") == partition)
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", call)
        yield read


@pytest.fixture(scope="module")
def company(api, module_mailgun, module_stripe_api):
    """A company with ``CANDIDATES`` candidates (one hired, a quarter for one role), 30 employees (12 in one team,
    some on leave) and an assessment with responses about one candidate."""
    owner = sign_up(api, module_mailgun)
    subscribe(owner, module_stripe_api)  # more candidates a month than the free plan's
    b = owner.browser
    owner.tenant = owner.me["company"]["id"]
    owner.role = b.post("/api/roles", {"title": "Analyst"}).json()["id"]
    owner.other_role = b.post("/api/roles", {"title": "Designer"}).json()["id"]
    owner.candidates = []
    for n in range(CANDIDATES):
        body = {"name": f"Candidate {n}", "stage": "hired" if n == 7 else "applied"}
        if n % 4 == 0:
            body["job_role_id"] = owner.role
        reply = b.post("/api/candidates", body)
        assert reply.status == 201, reply.body
        owner.candidates.append(reply.json())
    owner.employees = [
        b.post("/api/employees", {"name": f"Employee {n}", "status": "on_leave" if n % 5 == 0 else "active"}).json()
        for n in range(30)
    ]
    owner.team_members = [e["id"] for e in owner.employees[3:15]]
    owner.team = b.post("/api/teams", {"name": "Platform", "member_ids": owner.team_members}).json()["id"]
    assessment = b.post("/api/assessments", {"title": "Fit", "questions": [{"id": "q1", "text": "Why?"}]}).json()
    owner.assessment = assessment["id"]
    about = owner.candidates[3]["id"]
    for n in range(4):
        body = {"subject_type": "candidate", "subject_id": about, "answers": {"q1": str(n)}}
        assert b.post(f"/api/assessments/{owner.assessment}/responses", body).status == 201
    body = {"subject_type": "candidate", "subject_id": owner.candidates[4]["id"], "answers": {"q1": "other"}}
    assert b.post(f"/api/assessments/{owner.assessment}/responses", body).status == 201
    return owner


def every_page(company, path: str, limit: int) -> tuple[list[dict], list[int]]:
    """Every page of a list, following the cursor: the items and the items read for each page."""
    items, reads, cursor = [], [], None
    while True:
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        prefix = "EMP" if path.startswith("/api/employees") else "CAND"
        with records_read(company.tenant, prefix) as read:
            reply = company.browser.get(url)
        assert reply.status == 200, reply.body
        items += reply.json()["items"]
        reads.append(read["items"])
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            return items, reads


def test_a_filter_matching_one_of_many_reads_one_page_not_the_company(company):
    with records_read(company.tenant, "CAND") as read:
        page = company.browser.get("/api/candidates?stage=hired&limit=10").json()
    assert [c["id"] for c in page["items"]] == [company.candidates[7]["id"]] and page["next_cursor"] is None
    assert read["items"] <= 11 and read["queries"] == 1, read  # reading the partition would read all 120


def test_pages_of_an_indexed_filter_each_read_at_most_limit_plus_one(company):
    items, reads = every_page(company, f"/api/candidates?job_role_id={company.role}", limit=7)
    expected = [c["id"] for c in reversed(company.candidates) if c.get("job_role_id") == company.role]
    assert [c["id"] for c in items] == expected  # newest first, no repeats, no gaps
    assert len(items) == CANDIDATES // 4 and max(reads) <= 8, reads


def test_two_filters_use_the_more_selective_index(company):
    with records_read(company.tenant, "CAND") as read:
        page = company.browser.get(f"/api/candidates?stage=applied&job_role_id={company.role}&limit=50").json()
    expected = [
        c["id"]
        for c in reversed(company.candidates)
        if c.get("job_role_id") == company.role and c["id"] != company.candidates[7]["id"]
    ]
    assert [c["id"] for c in page["items"]] == expected
    assert read["items"] <= CANDIDATES // 4 + 1, read  # the role's candidates, not the 119 applied ones


def test_a_teams_members_are_read_from_the_team_not_the_company(company):
    items, reads = every_page(company, f"/api/employees?team_id={company.team}", limit=5)
    assert [e["id"] for e in items] == sorted(company.team_members, reverse=True)
    assert max(reads) <= 6, reads
    on_leave = company.browser.get(f"/api/employees?team_id={company.team}&status=on_leave").json()["items"]
    assert {e["id"] for e in on_leave} == {e["id"] for e in company.employees[3:15] if e["status"] == "on_leave"}


def test_a_persons_records_and_a_parents_records_are_read_by_index(company):
    person = company.candidates[3]["id"]
    with records_read(company.tenant, "RESP") as read:
        theirs = company.browser.get(f"/api/candidates/{person}/responses?limit=2").json()
    assert len(theirs["items"]) == 2 and theirs["next_cursor"] and read["items"] <= 3, read
    with records_read(company.tenant, "RESP") as read:
        listed = company.browser.get(f"/api/assessments/{company.assessment}/responses?subject_id={person}").json()
    assert len(listed["items"]) == 4 and read["items"] <= 5, read


def test_a_change_moves_a_record_between_indexed_values(company):
    cand = company.browser.post("/api/candidates", {"name": "Mover", "stage": "screening"}).json()
    moved = company.browser.patch(f"/api/candidates/{cand['id']}", {"version": cand["version"], "stage": "offer"})
    assert moved.status == 200, moved.body
    offer = [c["id"] for c in company.browser.get("/api/candidates?stage=offer").json()["items"]]
    screening = [c["id"] for c in company.browser.get("/api/candidates?stage=screening").json()["items"]]
    assert cand["id"] in offer and cand["id"] not in screening
    company.browser.patch(
        f"/api/candidates/{cand['id']}", {"version": moved.json()["version"], "job_role_id": company.other_role}
    )
    mine = company.browser.get(f"/api/candidates?job_role_id={company.other_role}").json()["items"]
    assert [c["id"] for c in mine] == [cand["id"]]


def test_a_filter_value_of_another_company_finds_nothing(api, module_mailgun, company):
    stranger = sign_up(api, module_mailgun)
    assert stranger.browser.get(f"/api/candidates?job_role_id={company.role}").json()["items"] == []
    assert stranger.browser.get(f"/api/employees?team_id={company.team}").json()["items"] == []


# ------------------------------------------------------------------------------------------------ search
def test_search_by_a_name_prefix_reads_a_page_not_the_company(company):
    items, reads = every_page(company, "/api/candidates?q=CANDID", limit=30)
    assert len(items) == CANDIDATES and len({c["id"] for c in items}) == CANDIDATES  # each once, none missed
    assert max(reads) <= 2 * 31, reads  # the page's search entries and the records they name, never all 120
    sevens = company.browser.get("/api/candidates?q=candidate+7&limit=50").json()["items"]  # every word begins one
    assert {c["name"] for c in sevens} == {f"Candidate {n}" for n in (7, *range(70, 80))}
    hired = company.browser.get("/api/candidates?q=candidate&stage=hired").json()["items"]
    assert [c["id"] for c in hired] == [company.candidates[7]["id"]]


def test_search_is_case_and_accent_insensitive_by_name_or_email_and_follows_changes(api, module_mailgun, company):
    b = company.browser
    jose = b.post(
        "/api/candidates", {"name": "José Ñúñez", "email": "Jose.Nunez@Example.com", "notes": "codeword zebra"}
    ).json()
    for q in ("nun", "NÚÑ", "jose+nu", "jose.nunez@ex"):
        assert [c["id"] for c in b.get(f"/api/candidates?q={q}").json()["items"]] == [jose["id"]], q
    assert b.get("/api/candidates?q=zebra").json()["items"] == []  # sealed notes are never words
    assert b.get("/api/candidates?q=example").json()["items"] == []  # an email is found by its beginning

    renamed = b.patch(f"/api/candidates/{jose['id']}", {"version": jose["version"], "name": "Joana Silva"})
    assert renamed.status == 200, renamed.body
    assert b.get("/api/candidates?q=nunez").json()["items"] == []  # the old name's words are gone...
    assert [c["id"] for c in b.get("/api/candidates?q=jose.nunez").json()["items"]] == [jose["id"]]  # ...not the email
    assert [c["id"] for c in b.get("/api/candidates?q=silva").json()["items"]] == [jose["id"]]

    stranger = sign_up(api, module_mailgun)
    assert stranger.browser.get("/api/candidates?q=silva").json()["items"] == []

    assert b.delete(f"/api/candidates/{jose['id']}?erase=true").status == 204
    assert b.get("/api/candidates?q=silva").json()["items"] == []
    assert search_words_stored(company.tenant, jose["id"]) == []  # their name and email are gone as words too


def test_employees_are_found_by_name_within_a_team(company):
    member = company.employees[5]  # in the team
    found = company.browser.get(f"/api/employees?q=employee+5&team_id={company.team}").json()["items"]
    assert [e["id"] for e in found] == [member["id"]]
    outside = company.browser.get(f"/api/employees?q=employee+20&team_id={company.team}").json()["items"]
    assert outside == []


def search_words_stored(tenant: str, record_id: str) -> list[str]:
    import boto3
    from protu.settings import settings

    items = boto3.client("dynamodb", region_name=settings().region).query(
        TableName=settings().data_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant}#CAND#SEARCH"}},
    )["Items"]
    return [item["sk"]["S"] for item in items if item["sk"]["S"].endswith(f"#{record_id}")]
