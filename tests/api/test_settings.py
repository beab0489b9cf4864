"""Company settings (``/api/settings``, owners only) and their effects: two-factor required for everyone, the
session inactivity timeout (a shorter one ends idle sessions at their next request), the email domains invitations
may go to, and the company name wherever it is shown. Every change is one audited transaction with old and new
values; every bad input is a 4xx with a stable code and writes nothing.

Time is moved by editing the stored session (``last_seen_at``), never by sleeping. Tests that turn on a setting
with effects use a company of their own; the module's ``owner``/``admin``/``stranger`` share one that only changes
its name, timeout, domains and retention.
"""

from __future__ import annotations

import json
import time

import jsonschema
import pyotp
import pytest
from protu import audit, caches
from protu.identity import company_settings, tokens
from protu.identity.models import Company, Session

from tests.api.people import FIREFOX, Browser, invite, sign_up

FIELDS = {
    "company_name",
    "require_mfa",
    "session_idle_minutes",
    "allowed_email_domains",
    "candidate_retention_months",
    "version",
    "updated_at",
    "data_key",
}


def tenant(account) -> str:
    return account.me["company"]["id"]


def settings_of(account) -> dict:
    reply = account.browser.get("/api/settings")
    assert reply.status == 200, reply.body
    return reply.json()


def patch(account, body: dict):
    return account.browser.patch("/api/settings", body)


def settings_events(tenant_id: str) -> list[dict]:
    events, _ = audit.events(tenant_id, action="settings.updated", limit=100)
    return events


def session_of(browser: Browser) -> Session:
    claims = tokens.read_access_token(browser.access_token)
    return Session.get(*Session.key(claims.tenant_id, claims.user_id, claims.session_id), consistent_read=True)


def idle_for(browser: Browser, seconds: int) -> None:
    session_of(browser).update(actions=[Session.last_seen_at.set(int(time.time()) - seconds)])


def error(reply) -> tuple[int, str, dict | None]:
    body = reply.json()["error"]
    return reply.status, body["code"], body.get("details")


def enable_totp(account) -> None:
    secret = account.browser.post("/api/me/mfa/totp").json()["secret"]
    reply = account.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    assert reply.status == 200, reply.body


# ------------------------------------------------------------------------------------------------ read and change
def test_an_owner_reads_the_defaults(api, module_mailgun):
    owner = sign_up(api, module_mailgun)  # a company of its own: the module's owner's settings change in other tests
    settings = settings_of(owner)
    assert set(settings) == FIELDS
    assert settings["company_name"] == owner.company
    assert settings["require_mfa"] is False
    assert settings["session_idle_minutes"] == 30
    assert settings["allowed_email_domains"] == []
    assert settings["candidate_retention_months"] == 24
    assert settings["version"] == 1
    assert isinstance(settings["updated_at"], int) and settings["updated_at"] <= time.time()


def test_answers_match_the_documented_schemas(api, owner):
    doc = api.get("/api/openapi.json").json()

    def check(method: str, reply) -> None:
        operation = doc["paths"]["/api/settings"][method]
        schema = operation["responses"][str(reply.status)]["content"]["application/json"]["schema"]
        jsonschema.validate(reply.json(), {**schema, "components": doc["components"]})

    check("get", owner.browser.get("/api/settings"))
    version = settings_of(owner)["version"]
    check("patch", patch(owner, {"version": version}))
    check("patch", patch(owner, {"version": version, "session_idle_minutes": 3}))
    check("patch", patch(owner, {"version": version + 9}))
    example = doc["paths"]["/api/settings"]["patch"]["requestBody"]["content"]["application/json"]["example"]
    assert set(example) >= {"version"} and "require_mfa" not in example  # the RBAC matrix sends it as is


def test_admins_get_403_forbidden_and_change_nothing(owner, admin):
    before = settings_of(owner)
    assert error(admin.browser.get("/api/settings"))[:2] == (403, "forbidden")
    reply = patch(admin, {"version": before["version"], "company_name": "Taken Over"})
    assert error(reply)[:2] == (403, "forbidden")
    assert settings_of(owner) == before


def test_an_owner_changes_settings_in_one_audited_write_with_old_and_new_values(owner):
    before = settings_of(owner)
    events_before = len(settings_events(tenant(owner)))
    reply = patch(
        owner,
        {
            "version": before["version"],
            "company_name": "  Renamed Hiring Ltd ",
            "session_idle_minutes": 45,
            "allowed_email_domains": ["Example.COM", "mail.example.org", "example.com"],
            "candidate_retention_months": 36,
        },
    )
    assert reply.status == 200, reply.body
    after = reply.json()
    assert after == {
        "company_name": "Renamed Hiring Ltd",  # trimmed
        "require_mfa": False,
        "session_idle_minutes": 45,
        "allowed_email_domains": ["example.com", "mail.example.org"],  # lower case, duplicates collapsed
        "candidate_retention_months": 36,
        "version": before["version"] + 1,
        "updated_at": after["updated_at"],
        "data_key": before["data_key"],  # not a setting: shown, never changed here
    }
    assert after["updated_at"] >= before["updated_at"]
    assert settings_of(owner) == after

    events = settings_events(tenant(owner))
    assert len(events) == events_before + 1
    event = events[0]
    assert event["actor"] == owner.me["id"] and event["target"] == f"company:{tenant(owner)}"
    assert event["details"] == {
        "changes": {
            "company_name": {"old": before["company_name"], "new": "Renamed Hiring Ltd"},
            "session_idle_minutes": {"old": 30, "new": 45},
            "allowed_email_domains": {"old": [], "new": ["example.com", "mail.example.org"]},
            "candidate_retention_months": {"old": 24, "new": 36},
        }
    }
    assert audit.verify(tenant(owner)).ok

    # The name is the company's name everywhere: /api/me (the header) and a fresh sign-in's answer.
    assert owner.me["company"]["name"] == "Renamed Hiring Ltd"
    signed_in = Browser(owner.browser.api).login(owner.email).json()
    assert signed_in["user"]["company"]["name"] == "Renamed Hiring Ltd"


def test_a_request_that_changes_nothing_answers_the_settings_and_writes_nothing(owner):
    before = settings_of(owner)
    events_before = len(settings_events(tenant(owner)))
    same = {key: value for key, value in before.items() if key not in ("updated_at", "data_key")}
    reply = patch(owner, same)
    assert (reply.status, reply.json()) == (200, before)
    assert (patch(owner, {"version": before["version"]}).status, settings_of(owner)) == (200, before)
    assert len(settings_events(tenant(owner))) == events_before


def test_a_stale_version_is_409_and_writes_nothing(owner):
    before = settings_of(owner)
    reply = patch(owner, {"version": before["version"] - 1 or 99, "candidate_retention_months": 12})
    assert error(reply)[:2] == (409, "version_conflict")
    assert "Reload" in reply.json()["error"]["message"]
    assert error(patch(owner, {"version": before["version"] + 5, "company_name": "Nope"}))[:2] == (
        409,
        "version_conflict",
    )
    assert settings_of(owner) == before


def test_two_owners_racing_one_version_one_wins_and_the_other_is_told(api, module_mailgun):
    first = sign_up(api, module_mailgun)
    second = invite(first, module_mailgun, "owner", name="Olga Other")
    version = settings_of(first)["version"]
    assert patch(first, {"version": version, "session_idle_minutes": 20}).status == 200
    assert error(patch(second, {"version": version, "session_idle_minutes": 50}))[:2] == (409, "version_conflict")
    assert settings_of(second)["session_idle_minutes"] == 20


def test_another_companys_settings_are_its_own(owner, stranger):
    mine = settings_of(owner)
    theirs = settings_of(stranger)
    assert theirs["company_name"] == stranger.company != mine["company_name"]
    reply = patch(stranger, {"version": theirs["version"], "company_name": "Stranger Things Ltd"})
    assert reply.status == 200
    assert settings_of(owner) == mine
    assert settings_of(stranger)["company_name"] == "Stranger Things Ltd"
    assert all(
        e["details"]["changes"]["company_name"]["new"] != "Stranger Things Ltd" for e in settings_events(tenant(owner))
    )


# ------------------------------------------------------------------------------------------------ bad input
LONG_LABEL = "a" * 63
BAD = [
    ("unknown field", {"is_admin": True}, 422, "validation_failed", "is_admin"),
    ("version missing", {"version": None}, 422, "validation_failed", "version"),
    ("version zero", {"version": 0}, 422, "validation_failed", "version"),
    ("version text", {"version": "1"}, 422, "validation_failed", "version"),
    ("name empty", {"company_name": ""}, 422, "validation_failed", "company_name"),
    ("name blank", {"company_name": "   "}, 422, "validation_failed", "company_name"),
    ("name too long", {"company_name": "x" * 121}, 422, "validation_failed", "company_name"),
    ("name null", {"company_name": None}, 422, "validation_failed", "company_name"),
    ("name number", {"company_name": 42}, 422, "validation_failed", "company_name"),
    ("name line break", {"company_name": "Acme\nLtd"}, 422, "validation_failed", "company_name"),
    ("mfa text", {"require_mfa": "yes"}, 422, "validation_failed", "require_mfa"),
    ("mfa number", {"require_mfa": 1}, 422, "validation_failed", "require_mfa"),
    ("mfa null", {"require_mfa": None}, 422, "validation_failed", "require_mfa"),
    ("idle too short", {"session_idle_minutes": 4}, 422, "validation_failed", "session_idle_minutes"),
    ("idle too long", {"session_idle_minutes": 61}, 422, "validation_failed", "session_idle_minutes"),
    ("idle fraction", {"session_idle_minutes": 15.5}, 422, "validation_failed", "session_idle_minutes"),
    ("idle text", {"session_idle_minutes": "15"}, 422, "validation_failed", "session_idle_minutes"),
    ("idle bool", {"session_idle_minutes": True}, 422, "validation_failed", "session_idle_minutes"),
    ("idle huge", {"session_idle_minutes": 10**30}, 422, "validation_failed", "session_idle_minutes"),
    ("retention zero", {"candidate_retention_months": 0}, 422, "validation_failed", "candidate_retention_months"),
    ("retention 121", {"candidate_retention_months": 121}, 422, "validation_failed", "candidate_retention_months"),
    ("retention negative", {"candidate_retention_months": -1}, 422, "validation_failed", "candidate_retention_months"),
    ("domains text", {"allowed_email_domains": "acme.com"}, 422, "validation_failed", "allowed_email_domains"),
    ("domains null", {"allowed_email_domains": None}, 422, "validation_failed", "allowed_email_domains"),
    (
        "21 domains",
        {"allowed_email_domains": [f"d{i}.example.com" for i in range(21)]},
        422,
        "validation_failed",
        "allowed_email_domains",
    ),
    (
        "domains over 1000 characters in all",
        {"allowed_email_domains": [f"{LONG_LABEL}.{i:02}.example.com" for i in range(16)]},
        422,
        "validation_failed",
        "allowed_email_domains",
    ),
    ("domain number", {"allowed_email_domains": [1]}, 422, "validation_failed", "allowed_email_domains[0]"),
    ("domain null", {"allowed_email_domains": [None]}, 422, "validation_failed", "allowed_email_domains[0]"),
    (
        "domain over 253",
        {"allowed_email_domains": [".".join([LONG_LABEL] * 4) + ".com"]},
        422,
        "validation_failed",
        "allowed_email_domains[0]",
    ),
    *[
        (
            f"domain {value!r}",
            {"allowed_email_domains": ["ok.example.com", value]},
            422,
            "invalid_email_domain",
            "allowed_email_domains[1]",
        )
        for value in (
            "",
            "ana@acme.com",
            "@acme.com",
            "*.acme.com",
            "acme.*",
            "10.0.0.1",
            "999.1.1.1",
            "::1",
            "[::1]",
            "acme .com",
            " acme.com",
            "acme.com\n",
            "localhost",
            "acme..com",
            ".acme.com",
            "acme.com.",
            "-acme.com",
            "acme-.com",
            "acme_corp.com",
            "äcme.com",
            "\u212acme.com",  # the Kelvin sign lower-cases to an ASCII "k"
            "acme.com/path",
            "http://acme.com",
            f"{'a' * 64}.com",
        )
    ],
]


@pytest.mark.parametrize("body, status, code, field", [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_bad_input_is_a_clear_4xx_and_writes_nothing(owner, body, status, code, field):
    before = settings_of(owner)
    sent = {"version": before["version"], **body}
    if sent["version"] is None:
        del sent["version"]
    reply = patch(owner, sent)
    assert error(reply) == (status, code, {"field": field}), reply.body
    assert reply.json()["error"]["message"]
    assert settings_of(owner) == before


@pytest.mark.parametrize(
    "raw, content_type, status, code",
    [
        ("{not json", "application/json", 400, "invalid_json"),
        ('[{"version": 1}]', "application/json", 422, "validation_failed"),
        ("null", "application/json", 422, "validation_failed"),
        ('{"version": 1}', "text/plain", 415, "unsupported_media_type"),
        ("", "application/json", 422, "body_required"),
        (json.dumps({"version": 1, "company_name": "x" * 70_000}), "application/json", 413, "payload_too_large"),
    ],
)
def test_malformed_bodies_are_refused(api, owner, raw, content_type, status, code):
    before = settings_of(owner)
    headers = {
        "User-Agent": owner.browser.user_agent,
        "Authorization": f"Bearer {owner.browser.access_token}",
        "Content-Type": content_type,
    }
    reply = api.request("PATCH", "/api/settings", body=raw, headers=headers, source_ip=owner.browser.ip)
    assert (reply.status, reply.json()["error"]["code"]) == (status, code)
    assert settings_of(owner) == before


def test_reading_takes_no_body_nor_query(api, owner):
    assert error(owner.browser.request("GET", "/api/settings?debug=1"))[:2] == (422, "unexpected_query")
    assert error(Browser(api).get("/api/settings"))[:2] == (401, "unauthorized")
    assert error(Browser(api).patch("/api/settings", {"version": 1}))[:2] == (401, "unauthorized")


def test_the_largest_change_still_commits_with_every_old_and_new_value_audited(api, module_mailgun):
    """An astral-character name and 1,000 characters of domains, changed both ways, do not fit one event's 4 KiB
    of details: the changes are spread over several ``settings.updated`` events of the same write."""
    owner = sign_up(api, module_mailgun)
    name, other_name = "\U0001d49c" * 120, "\U0001d4b5" * 120  # each character escapes to 12 bytes
    domains = [f"{'b' * 57}.{i:02}.example" for i in range(14)] + ["c.example"]  # 961 characters
    other = [f"{'d' * 57}.{i:02}.example" for i in range(14)] + ["e.example"]
    assert patch(owner, {"version": 1, "company_name": name, "allowed_email_domains": domains}).status == 200
    written = len(settings_events(tenant(owner)))
    reply = patch(owner, {"version": 2, "company_name": other_name, "allowed_email_domains": other})
    assert reply.status == 200, reply.body
    assert reply.json()["company_name"] == other_name and reply.json()["allowed_email_domains"] == other
    events = settings_events(tenant(owner))
    second_write = events[: len(events) - written]
    assert len(second_write) == 2
    assert len({e["request_id"] for e in second_write}) == 1
    merged: dict = {}
    for event in second_write:
        assert not set(merged) & set(event["details"]["changes"])  # each field whole in one event
        merged.update(event["details"]["changes"])
    assert merged == {
        "company_name": {"old": name, "new": other_name},
        "allowed_email_domains": {"old": domains, "new": other},
    }
    assert audit.verify(tenant(owner)).ok


# ------------------------------------------------------------------------------------------------ effects
def test_invitations_go_only_to_the_allowed_domains_and_an_empty_list_allows_any(api, module_mailgun):
    owner = sign_up(api, module_mailgun)  # a company of its own: the free plan's seats are few
    reply = patch(owner, {"version": 1, "allowed_email_domains": ["partners.example", "example.com"]})
    assert reply.status == 200, reply.body
    outside = owner.browser.post("/api/users/invitations", {"email": "ben@elsewhere.example", "role": "admin"})
    assert error(outside) == (422, "email_domain_not_allowed", {"field": "email"})
    assert "partners.example" in outside.json()["error"]["message"]
    subdomain = owner.browser.post("/api/users/invitations", {"email": "ben@eu.example.com", "role": "admin"})
    assert error(subdomain)[:2] == (422, "email_domain_not_allowed")
    assert [u["email"] for u in owner.browser.get("/api/users").json()] == [owner.email]
    assert not module_mailgun.to("ben@elsewhere.example") and not module_mailgun.to("ben@eu.example.com")

    shouting = owner.browser.post("/api/users/invitations", {"email": "DORA@PARTNERS.EXAMPLE", "role": "admin"})
    assert shouting.status == 201, shouting.body

    assert patch(owner, {"version": 2, "allowed_email_domains": []}).status == 200
    anywhere = owner.browser.post("/api/users/invitations", {"email": "ben@elsewhere.example", "role": "admin"})
    assert anywhere.status == 201, anywhere.body


def idle_left(reply) -> int:
    return int(reply.header("X-Session-Idle-Seconds"))


def test_every_signed_in_answer_says_how_long_the_session_may_sit_unused(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    assert 1790 <= idle_left(owner.browser.get("/api/me")) <= 1800  # the 30 minutes a session starts with
    assert api.get("/api/health").header("X-Session-Idle-Seconds") is None  # public answers say nothing

    # Unused for 10 minutes: the answer that ends the pause counts as activity, so the full time is left again.
    idle_for(owner.browser, 10 * 60)
    assert 1790 <= idle_left(owner.browser.get("/api/me")) <= 1800
    # A company's shorter timeout is what counts; a refused request (403) still says it.
    assert patch(owner, {"version": 1, "session_idle_minutes": 5}).status == 200
    assert 290 <= idle_left(owner.browser.get("/api/settings")) <= 300
    admin = invite(owner, module_mailgun)
    refused = admin.browser.get("/api/settings")
    assert refused.status == 403 and 0 < idle_left(refused) <= 300


def test_a_shorter_idle_timeout_ends_idle_sessions_at_their_next_request(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    laptop = Browser(api, user_agent=FIREFOX, ip="198.51.100.31")
    tablet = Browser(api, user_agent=FIREFOX, ip="198.51.100.32")
    assert laptop.login(owner.email).status == 200 and tablet.login(owner.email).status == 200
    idle_for(laptop, 10 * 60)  # alive under the 30 minutes the sessions started with
    idle_for(tablet, 4 * 60)
    assert laptop.get("/api/me").status == 200
    idle_for(laptop, 10 * 60)

    assert patch(owner, {"version": 1, "session_idle_minutes": 5}).status == 200
    assert error(laptop.get("/api/me"))[:2] == (401, "session_idle")
    assert tablet.get("/api/me").status == 200  # 4 minutes is within 5
    assert owner.browser.get("/api/me").status == 200

    # The refresh cookie of an idle session does not bring it back either.
    idle_for(tablet, 6 * 60)
    assert error(tablet.post("/api/auth/refresh"))[:2] == (401, "session_idle")

    # A longer timeout applies from the next sign-in: an idle session is not revived.
    stale = Browser(api, user_agent=FIREFOX, ip="198.51.100.33")
    assert stale.login(owner.email).status == 200
    assert session_of(stale).idle_timeout_seconds == 5 * 60
    idle_for(stale, 8 * 60)
    assert patch(owner, {"version": 2, "session_idle_minutes": 60}).status == 200
    assert error(stale.get("/api/me"))[:2] == (401, "session_idle")
    fresh = Browser(api, user_agent=FIREFOX, ip="198.51.100.34")
    assert fresh.login(owner.email).status == 200
    assert session_of(fresh).idle_timeout_seconds == 60 * 60
    idle_for(fresh, 50 * 60)
    assert fresh.get("/api/me").status == 200


def test_requiring_two_factor_opens_only_their_own_account_to_users_without_it(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    admin = invite(owner, module_mailgun, "admin")
    assert owner.me["mfa_setup_required"] is False and admin.me["mfa_setup_required"] is False
    assert patch(owner, {"version": 1, "require_mfa": True}).status == 200

    # Everyone without two-factor, the owner who turned it on included, is held at their own account.
    for account in (owner, admin):
        me = account.me
        assert me["mfa_setup_required"] is True and me["mfa_enabled"] is False
        assert error(account.browser.get("/api/candidates"))[:2] == (403, "mfa_setup_required")
        assert error(account.browser.post("/api/roles", {"title": "Blocked"}))[:2] == (403, "mfa_setup_required")
        assert account.browser.get("/api/me/sessions").status == 200
    assert error(owner.browser.get("/api/settings"))[:2] == (403, "mfa_setup_required")
    assert error(owner.browser.get("/api/users"))[:2] == (403, "mfa_setup_required")
    assert error(admin.browser.get("/api/settings"))[:2] == (403, "forbidden")  # not theirs anyway

    # Signing in says so at once (the SPA takes them to the two-factor setup).
    answer = Browser(api, user_agent=FIREFOX, ip=admin.browser.ip).login(admin.email).json()
    assert answer["user"]["mfa_setup_required"] is True

    # Setting it up opens the rest at the next request, in this session.
    enable_totp(admin)
    assert admin.me["mfa_setup_required"] is False
    assert admin.browser.get("/api/candidates").status == 200
    assert error(owner.browser.get("/api/candidates"))[:2] == (403, "mfa_setup_required")
    enable_totp(owner)
    settings = settings_of(owner)
    assert settings["require_mfa"] is True

    # Turning it off frees users without two-factor again.
    helper = invite(owner, module_mailgun, "admin", name="Hana Helper", browser=Browser(api, ip="198.51.100.40"))
    assert error(helper.browser.get("/api/roles"))[:2] == (403, "mfa_setup_required")
    assert patch(owner, {"version": settings["version"], "require_mfa": False}).status == 200
    assert helper.browser.get("/api/roles").status == 200
    assert helper.me["mfa_setup_required"] is False
    changes = [e["details"]["changes"]["require_mfa"] for e in settings_events(tenant(owner))]
    assert changes == [{"old": True, "new": False}, {"old": False, "new": True}]


def test_the_policy_is_read_once_per_company_and_process_for_at_most_30_seconds(api, module_mailgun, monkeypatch):
    owner = sign_up(api, module_mailgun)
    tenant_id = tenant(owner)
    reads: list[str] = []
    real_get = Company.get.__func__

    def counting_get(cls, hash_key, range_key=None, **kw):
        reads.append(hash_key)
        return real_get(cls, hash_key, range_key, **kw)

    monkeypatch.setattr(Company, "get", classmethod(counting_get))
    caches.reset()
    for _ in range(3):
        assert owner.browser.get("/api/me/sessions").status == 200
    assert len(reads) == 1  # the authorizer's policy, read once for three requests

    # A change made by another process (written straight to the item) reaches this one within 30 seconds.
    Company(*Company.key(tenant_id)).update(actions=[Company.require_mfa.set(True)])
    assert owner.browser.get("/api/roles").status == 200  # still the copy
    stamp, copy = company_settings._cache[tenant_id]
    company_settings._cache[tenant_id] = (stamp - company_settings.CACHE_SECONDS - 1, copy)
    assert error(owner.browser.get("/api/roles"))[:2] == (403, "mfa_setup_required")
    Company(*Company.key(tenant_id)).update(actions=[Company.require_mfa.set(False)])
    caches.reset()
    assert owner.browser.get("/api/roles").status == 200
