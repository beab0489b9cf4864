"""The owner's audit log through the API: ``GET /api/audit-events`` and ``GET /api/audit-events/verify``.

Reading the log is on the record too (``audit.read``, one event a page or verification): the tests compare the
events of the ``history`` fixture and leave those reads out (``everything``), unless they read pages from a fixed
cursor.

Owners read their own company's chain, newest first, filtered and paged with an opaque cursor that has no repeats
or gaps; admins are refused; another company's owner only ever sees their own chain; verify walks the chain and
names the first event edited behind the API's back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import boto3
import jsonschema
import pytest
from protu import audit
from protu.audit.chain import event_hash, event_sk, genesis_hash
from protu.settings import settings

from tests.api.people import sign_up

HISTORY = 120  # events recorded in-process on top of sign-up, sign-in and the invitation


@pytest.fixture(scope="module")
def history(owner, admin):
    """The owner's company after sign-up, the admin's invitation and ``HISTORY`` more events; the whole chain,
    oldest first, as the API lists it."""
    company = tenant(owner)
    for i in range(HISTORY):
        audit.record(
            company,
            ("test.alpha", "test.beta")[i % 2],
            f"thing:{i % 3}",
            actor=f"robot-{i % 4}",
            details={"i": i},
        )
    chain = everything(owner)
    assert len(chain) >= HISTORY + 3
    return list(reversed(chain))


def tenant(account) -> str:
    return account.me["company"]["id"]


def error(reply) -> tuple[int, str]:
    return reply.status, reply.json()["error"]["code"]


def listing(account, **query):
    reply = account.browser.get(f"/api/audit-events?{urlencode(query)}" if query else "/api/audit-events")
    assert reply.status == 200, reply.body
    return reply.json()


def everything(account, *, raw: bool = False, **query) -> list[dict]:
    """Every page, following next_cursor; newest first; without the log's own reads unless ``raw``."""
    items, cursor = [], query.pop("cursor", None)
    for _ in range(1000):
        page = listing(account, **query, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items if raw else [item for item in items if item["action"] != "audit.read"]
    raise AssertionError("the cursor never ends")


def head(account) -> int:
    """The chain's newest seq now (the read that tells it is appended after it)."""
    return listing(account, limit=1)["items"][0]["seq"]


def seqs(items) -> list[int]:
    return [item["seq"] for item in items]


def test_an_owner_sees_their_companys_events_newest_first(owner, admin, history):
    first = listing(owner)
    assert len(first["items"]) == 50 and first["next_cursor"]
    newest = seqs(first["items"])
    assert newest == sorted(newest, reverse=True)
    assert first["items"][0]["action"] == "audit.read"  # this very read, on the record before it answers
    # Other tests of the module read the log too: more than a page of reads may sit on top of the history.
    assert everything(owner)[0]["seq"] == history[-1]["seq"]

    me, admin_id = owner.me["id"], admin.me["id"]
    oldest = history[:3]
    assert [(e["seq"], e["action"], e["actor"], e["target"]) for e in oldest] == [
        (1, "auth.signup", me, f"user:{me}"),
        (2, "auth.email_verified", me, f"user:{me}"),
        (3, "auth.login", me, f"user:{me}"),
    ]
    signed_up = {"company": tenant(owner), "terms_version": "2026-12-01"}  # and terms_accepted_at
    assert {k: v for k, v in oldest[0]["details"].items() if k != "terms_accepted_at"} == signed_up
    assert oldest[2]["outcome"] == "success"
    assert oldest[2]["source_ip"] == owner.browser.ip and oldest[2]["request_id"]
    invited = [e for e in history if e["action"] == "users.invited"]
    assert [(e["actor"], e["target"], e["details"]) for e in invited] == [(me, f"user:{admin_id}", {"role": "admin"})]
    recorded = history[-1]
    assert (recorded["actor"], recorded["details"], recorded["request_id"], recorded["source_ip"]) == (
        f"robot-{(HISTORY - 1) % 4}",
        {"i": HISTORY - 1},
        None,
        None,
    )


def test_listed_events_are_the_hashed_chain(owner, history):
    """An exported page re-verifies with the chain's own rule: each hash covers the event, each links back."""
    company = tenant(owner)
    assert history[0]["prev_hash"] == genesis_hash(company)
    for before, event in zip(history, history[1:], strict=False):
        assert event["prev_hash"] == before["hash"]
    for event in history:
        assert event_hash({**event, "tenant": company}) == event["hash"]


@pytest.mark.parametrize("limit", [50, 100, 7])
def test_pages_follow_each_other_without_repeats_or_gaps(owner, history, limit):
    pages = []
    cursor = str(len(history) + 1)  # from the fixture's head: the log's reads since are not in it
    while True:
        page = listing(owner, limit=limit, **({"cursor": cursor} if cursor else {}))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit
    listed = seqs(item for page in pages for item in page)
    assert listed == list(range(len(history), 0, -1))


def test_the_last_page_has_no_cursor(owner, history):
    last = listing(owner, limit=100, cursor="3")
    assert (last["items"], last["next_cursor"]) == (list(reversed(history[:2])), None)
    assert last["names"] == {owner.me["id"]: owner.me["name"]}  # who they are now; the events keep the id
    assert listing(owner, limit=2, cursor="3")["next_cursor"] is None  # exactly full: no empty extra page
    assert listing(owner, cursor="1") == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query, limit",
    [
        ({"action": "test.alpha"}, 50),
        ({"actor": "robot-1"}, 50),
        ({"target": "thing:2"}, 100),
        ({"action": "test.alpha", "target": "thing:0"}, 7),  # 20 matches spread over the chain: 3 pages
        ({"action": "users.invited"}, 1),
        ({"action": "nothing.like_this"}, 50),
    ],
)
def test_filters_are_exact_matches_and_page_like_the_full_list(owner, history, query, limit):
    expected = [e for e in reversed(history) if all(e[name] == value for name, value in query.items())]
    assert everything(owner, **query, limit=limit) == expected


def test_a_sparse_filter_reads_a_bounded_stretch_per_page_and_still_finds_everything(owner, history, monkeypatch):
    from protu.audit import log

    monkeypatch.setattr(log, "MAX_SCANNED", 25)  # how much of the chain one request may read is configuration
    query = {"action": "users.invited"}  # one match, near the start of the chain
    expected = [e for e in reversed(history) if e["action"] == "users.invited"]
    first = listing(owner, **query, limit=10, cursor=str(len(history) + 1))
    assert first["items"] == [] and first["next_cursor"] == str(len(history) - 24)  # 25 events read, none matched
    assert everything(owner, **query, limit=10, cursor=str(len(history) + 1)) == expected
    assert everything(owner, action="test.beta", limit=100) == [
        e for e in reversed(history) if e["action"] == "test.beta"
    ]


def test_the_actor_filter_finds_a_persons_events(owner, history):
    me = owner.me["id"]
    mine = everything(owner, actor=me)
    assert mine == [e for e in reversed(history) if e["actor"] == me]
    assert {"auth.signup", "auth.email_verified", "auth.login", "users.invited"} <= {e["action"] for e in mine}


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_since_and_until_are_inclusive_instants_in_any_offset(owner, history):
    ours = [e for e in history if e["action"].startswith("test.")]
    since, until = ours[30]["time"], ours[80]["time"]
    expected = [e for e in reversed(history) if since <= e["time"] <= until]
    assert everything(owner, since=since, until=until, limit=100) == expected
    assert expected[0]["seq"] == ours[80]["seq"] and expected[-1]["seq"] == ours[30]["seq"]

    plus_two = parse(since).astimezone(timezone(timedelta(hours=2))).isoformat()  # the same instant, +02:00
    assert plus_two.endswith("+02:00")
    assert everything(owner, since=plus_two, until=until, limit=100) == expected


def test_bounds_in_whole_seconds_compare_as_instants(owner, history):
    """``...T10:00:05Z`` is 10:00:05.000000: events later in that second are after it, not before."""
    middle = parse(history[len(history) // 2]["time"]).replace(microsecond=0)
    bound = middle.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert everything(owner, until=bound, limit=100) == [e for e in reversed(history) if parse(e["time"]) <= middle]
    assert everything(owner, since=bound, limit=100) == [e for e in reversed(history) if parse(e["time"]) >= middle]


def test_time_bounds_outside_the_chain(owner, history):
    assert listing(owner, until="2000-01-01T00:00:00Z") == {"items": [], "next_cursor": None}
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listing(owner, since=future) == {"items": [], "next_cursor": None}
    assert everything(owner, since="2000-01-01T00:00:00Z", until=future) == list(reversed(history))


def test_verify_checks_every_event(owner, history):
    newest = head(owner)
    reply = owner.browser.get("/api/audit-events/verify")
    assert reply.status == 200
    assert reply.json() == {"ok": True, "checked": newest + 1, "first_broken": None, "reason": None}
    read = listing(owner, limit=1)["items"][0]  # the verification is on the record
    assert (read["action"], read["target"], read["actor"]) == ("audit.read", "audit:log", owner.me["id"])
    assert read["details"] == {"verify": {"ok": True, "checked": newest + 1}}


def test_pages_name_people_and_records_and_the_actions_are_offered_as_a_choice(api, module_mailgun, admin):
    owner = sign_up(api, module_mailgun)  # a company of its own: the module's history stays as it is
    candidate = owner.browser.post("/api/candidates", {"name": "Nia Named"}).json()
    page = listing(owner, limit=3)
    created = next(e for e in page["items"] if e["action"] == "candidate.created")
    assert created["target"] == f"candidate:{candidate['id']}"  # the stored event keeps the id
    assert page["names"] == {candidate["id"]: "Nia Named", owner.me["id"]: owner.me["name"]}

    actions = owner.browser.get("/api/audit-events/actions").json()["items"]
    assert actions == sorted(actions)
    assert {"auth.signup", "auth.login", "candidate.created", "audit.read"} <= set(actions)
    assert "users.invited" not in actions  # this company's actions only
    assert admin.browser.get("/api/audit-events/actions").status == 403


def test_reading_the_log_is_on_the_record_one_event_a_page(owner, history):
    listing(owner, action="test.alpha", limit=7, cursor=str(len(history) + 1))
    read = listing(owner, limit=1)["items"][0]
    assert (read["action"], read["target"], read["actor"]) == ("audit.read", "audit:log", owner.me["id"])
    alpha = [e["seq"] for e in reversed(history) if e["action"] == "test.alpha"][:7]
    assert read["details"] == {
        "count": 7,
        "seqs": [min(alpha), max(alpha)],
        "filters": {"action": "test.alpha"},
    }


def test_admins_may_not_read_or_verify_the_audit_log(admin, history):
    for path in ("/api/audit-events", "/api/audit-events/verify", "/api/audit-events?action=auth.login"):
        assert error(admin.browser.get(path)) == (403, "forbidden"), path


def test_anonymous_callers_get_401(api):
    for path in ("/api/audit-events", "/api/audit-events/verify"):
        assert error(api.get(path)) == (401, "unauthorized")


def test_another_companys_owner_sees_only_their_own_chain(owner, stranger, history):
    theirs = everything(stranger, raw=True, limit=100)
    me = stranger.me["id"]
    assert seqs(theirs) == list(range(len(theirs), 0, -1)) and len(theirs) < len(history)
    assert [e["action"] for e in reversed(theirs)][:3] == ["auth.signup", "auth.email_verified", "auth.login"]
    assert all(e["actor"] == me for e in theirs)
    assert all(e["target"] == f"user:{me}" for e in theirs if e["action"] != "audit.read")
    assert not {e["hash"] for e in theirs} & {e["hash"] for e in history}
    # a cursor from the owner's pages is only a position: in the stranger's hands it reads the stranger's chain
    assert everything(stranger, raw=True, cursor=str(len(history)))[-len(theirs) :] == theirs
    for query in ({"actor": owner.me["id"]}, {"action": "test.alpha"}, {"target": f"user:{owner.me['id']}"}):
        assert listing(stranger, **query) == {"items": [], "next_cursor": None}
    newest = head(stranger)
    verified = stranger.browser.get("/api/audit-events/verify").json()
    assert verified == {"ok": True, "checked": newest + 1, "first_broken": None, "reason": None}


def test_verify_names_an_event_edited_in_the_table(api, module_mailgun):
    victim = sign_up(api, module_mailgun)
    company = tenant(victim)
    for i in range(3):
        audit.record(company, "test.filler", f"thing:{i}", actor="robot")
    before = everything(victim)
    verified = victim.browser.get("/api/audit-events/verify").json()
    assert verified["ok"] is True and verified["checked"] > len(before)  # the reads of the log are events too

    edited = before[-2]["seq"]  # the second event: auth.email_verified
    boto3.client("dynamodb", region_name="eu-central-1").update_item(
        TableName=settings().audit_table,
        Key={"pk": {"S": f"T#{company}"}, "sk": {"S": event_sk(edited)}},
        UpdateExpression="SET #target = :target",
        ExpressionAttributeNames={"#target": "target"},
        ExpressionAttributeValues={":target": {"S": "user:someone-else"}},
    )

    reply = victim.browser.get("/api/audit-events/verify")
    assert reply.status == 200
    result = reply.json()
    assert (result["ok"], result["checked"], result["first_broken"]) == (False, edited - 1, edited)
    assert result["reason"] == "the event's content does not match its hash"
    listed = {e["seq"]: e for e in everything(victim)}
    assert listed[edited]["target"] == "user:someone-else"  # the list shows what is stored; verify flags it


@pytest.mark.parametrize(
    "query, code, field",
    [
        ("limit=0", "validation_failed", "limit"),
        ("limit=101", "validation_failed", "limit"),
        ("limit=ten", "validation_failed", "limit"),
        ("cursor=garbage", "invalid_cursor", "cursor"),
        ("cursor=0", "invalid_cursor", "cursor"),
        ("cursor=-5", "invalid_cursor", "cursor"),
        ("cursor=1234567890123", "invalid_cursor", "cursor"),
        ("cursor=%D9%A1%D9%A2", "invalid_cursor", "cursor"),  # Arabic-Indic digits: isdigit(), not a seq
        (f"cursor={'9' * 201}", "validation_failed", "cursor"),
        ("since=yesterday", "validation_failed", "since"),
        ("since=2024-05-01", "validation_failed", "since"),
        ("since=2024-05-01T10:00:00", "validation_failed", "since"),  # no offset: which 10 o'clock?
        ("until=2024-13-01T00:00:00Z", "validation_failed", "until"),
        ("since=0001-01-01T00:00:00%2B01:00", "validation_failed", "since"),  # before the first instant
        ("since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z", "validation_failed", "until"),
        ("action=", "validation_failed", "action"),
        (f"target={'t' * 201}", "validation_failed", "target"),
        ("colour=red", "validation_failed", "colour"),
        ("tenant=t-someoneelse", "validation_failed", "tenant"),
    ],
)
def test_bad_queries_are_422_naming_the_field(owner, query, code, field):
    reply = owner.browser.get(f"/api/audit-events?{query}")
    assert error(reply) == (422, code), reply.body
    assert reply.json()["error"]["details"] == {"field": field}


def test_verify_takes_no_query(owner):
    assert error(owner.browser.get("/api/audit-events/verify?deep=1")) == (422, "unexpected_query")


def test_answers_match_the_documented_schemas(api, owner, history):
    doc = api.get("/api/openapi.json").json()
    for path, reply in (
        ("/api/audit-events", owner.browser.get("/api/audit-events?limit=100")),
        ("/api/audit-events/verify", owner.browser.get("/api/audit-events/verify")),
    ):
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(reply.json(), {**schema, "components": doc["components"]})
    refused = owner.browser.get("/api/audit-events?since=yesterday")
    schema = doc["paths"]["/api/audit-events"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]
    jsonschema.validate(refused.json(), {**schema, "components": doc["components"]})
