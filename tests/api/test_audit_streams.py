"""Audit streams (issue 17): every new audit event of a company delivered to the company's SIEM, signed as the
Standard Webhooks specification signs, at least once and in order, retried with backoff for a day.

Everything is done the way an owner (or an attacker) would: through the API. The audit table's stream is pumped into
``jobs.audit_stream`` (``StreamPump``, as the event source mapping does in the cloud) and the retry schedule is
``jobs.audit_stream_retry``; their clock is ``protu.ops.audit_streams.model.clock``, moved by the tests. The SIEM is
``siem.example.test`` on the outside world (``responses``), its DNS answered at its boundary (``socket.getaddrinfo``).
Deliveries are checked with the specification's own library (``standardwebhooks``), not with our code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import time
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import jobs
import pytest
import responses
from protu import audit
from protu.identity import tokens
from protu.identity.models import Session
from protu.ops.audit_streams import model, transport, urls
from protu.settings import reload, settings
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from infra.streams import StreamPump
from tests.api.people import STRONG, sign_up

SIEM = "siem.example.test"
HOSTS = {
    SIEM: ["93.184.215.14"],
    "inside.example.test": ["10.0.0.7"],  # a name that resolves inside
    "twofaced.example.test": ["93.184.215.14", "169.254.169.254"],  # one answer outside, one the metadata address
}


class Siem:
    """The SIEM on the outside world: records every request; answers 200 unless told otherwise per path."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.plan: dict[str, list[int]] = {}
        self.hook = None  # called with each request before it is answered

    def answer(self, request):
        if self.hook is not None:
            self.hook(request)
        parts = urlsplit(request.url)
        queue = self.plan.get(parts.path) or []
        status = queue.pop(0) if queue else 200
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        self.received.append(
            {
                "host": parts.hostname,
                "path": parts.path,
                "headers": dict(request.headers),
                "body": body,
                "status": status,
            }
        )
        return status, {"Content-Type": "text/plain"}, "a body we must never keep"

    def at(self, path: str) -> list[dict]:
        return [r for r in self.received if r["path"] == path]


@pytest.fixture(scope="module")
def siem(module_outside):
    found = Siem()
    pattern = re.compile(r"https://[a-z.]+\.example\.test(:[0-9]+)?/.*")
    module_outside.add_callback(responses.POST, pattern, callback=found.answer)
    return found


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """The SIEM's DNS, answered at its boundary; every other name as the system resolves it."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in HOSTS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in HOSTS[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def pump(cloud):
    """The audit table's stream into ``jobs.audit_stream``, from now on (``LATEST``, as the template's mapping)."""
    return StreamPump(settings().audit_table, jobs.audit_stream, starting_position="LATEST")


@pytest.fixture
def company(api, module_mailgun, module_outside):
    owner = sign_up(api, module_mailgun)
    owner.tenant = owner.me["company"]["id"]
    return owner


@pytest.fixture
def clock(monkeypatch):
    """Move the audit streams' clock: ``clock.at(seconds since the test began)``."""

    class Clock:
        start = time.time()

        def at(self, offset: float) -> float:
            moment = self.start + offset
            monkeypatch.setattr(model, "clock", lambda: moment)
            return moment

    return Clock()


def path() -> str:
    return f"/in/{uuid.uuid4().hex[:10]}"


def add(owner, url: str, **extra):
    return owner.browser.post("/api/audit-streams", {"url": url, **extra})


def added(owner, where: str) -> dict:
    reply = add(owner, f"https://{SIEM}{where}?token=sekrit-{uuid.uuid4().hex[:6]}", description="Our SIEM")
    assert reply.status == 201, reply.body
    return reply.json()


def streams(owner) -> dict[str, dict]:
    reply = owner.browser.get("/api/audit-streams")
    assert reply.status == 200, reply.body
    return {item["id"]: item for item in reply.json()["items"]}


def change(owner, title: str = "Auditor") -> None:
    """Something the audit log records."""
    assert owner.browser.post("/api/roles", {"title": f"{title} {uuid.uuid4().hex[:4]}"}).status == 201


def verify(secret: str, request: dict, at: float | None = None):
    """The receiver's check, with the specification's library (at ``at`` when the test moved the clock), and then
    with the specification's algorithm written out (the library also signs them: it must not be the only judge)."""
    if at is None:
        delivered = Webhook(secret).verify(request["body"], request["headers"])
    else:

        class Then(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.fromtimestamp(at, tz)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("standardwebhooks.webhooks.datetime", Then)
            delivered = Webhook(secret).verify(request["body"], request["headers"])
    assert signed_as_the_specification_says(secret, request)
    return delivered


def signed_as_the_specification_says(secret: str, request: dict) -> bool:
    """Standard Webhooks' "Verifying webhooks", by hand: HMAC-SHA256 keyed by the base64 secret after ``whsec_``,
    over ``<webhook-id>.<webhook-timestamp>.<body>``, base64, one of the space-separated ``v1,`` signatures."""
    headers = {name.lower(): value for name, value in request["headers"].items()}
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, given) for given in headers["webhook-signature"].split())


def seqs(requests: list[dict]) -> list[int]:
    return [json.loads(r["body"])["data"]["seq"] for r in requests]


def chain(tenant: str) -> dict[int, dict]:
    events, _ = audit.events(tenant, limit=100)
    return {event["seq"]: event for event in events}


def make_stale(owner) -> None:
    """The owner's sign-in is an hour old: no longer recent."""
    claims = tokens.read_access_token(owner.browser.access_token)
    Session.get(*Session.key(claims.tenant_id, claims.user_id, claims.session_id)).update(
        actions=[Session.auth_time.set(int(time.time()) - 3600)]
    )


# ------------------------------------------------------------------------------------------------ adding one
def test_an_owner_adds_a_stream_and_its_secret_is_shown_once(company, module_mailgun, siem, pump, capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="protu")
    caplog.set_level(logging.INFO)
    where = path()
    url = f"https://{SIEM}{where}?token=query-credential-{uuid.uuid4().hex[:6]}"
    reply = add(company, url, description="Splunk, EU")
    assert reply.status == 201, reply.body
    created = reply.json()
    secret = created["secret"]
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert created["id"].startswith("ast-") and created["url"] == url
    assert created["status"] == "active" and created["description"] == "Splunk, EU"
    assert created["created_by"] == company.me["id"]

    listed = company.browser.get("/api/audit-streams")
    assert secret not in listed.body.decode() and "query-credential" not in listed.body.decode()
    shown = listed.json()["items"][0]
    assert shown["url"] == f"https://{SIEM}{where}?…"  # the query string may hold a credential of the SIEM
    assert set(shown) == {
        "id",
        "url",
        "description",
        "status",
        "created_at",
        "created_by",
        "delivered_seq",
        "last_delivered_at",
        "failing_since",
        "next_attempt_at",
        "last_error",
    }

    mail = [m for m in module_mailgun.to(company.email) if "audit stream was added" in m["subject"]]
    assert len(mail) == 1 and SIEM.replace(".", "\u2024") in mail[0]["text"]  # named, but no link

    [event] = [e for e in chain(company.tenant).values() if e["action"] == "audit_stream.created"]
    assert event["target"] == f"audit_stream:{created['id']}" and event["details"] == {"host": SIEM}

    change(company)  # a delivery, then a failing one: neither writes the secret or the query string anywhere
    pump.pump()
    siem.plan[where] = [500]
    change(company)
    pump.pump()
    assert streams(company)[created["id"]]["last_error"] == "500"
    written = capsys.readouterr()
    logged = written.out + written.err + caplog.text
    assert "audit stream delivery failed" in logged  # the logs were captured
    assert secret not in logged and secret.removeprefix("whsec_") not in logged
    assert "query-credential" not in logged and "a body we must never keep" not in logged
    assert all(
        secret not in json.dumps(e) and "query-credential" not in json.dumps(e) for e in chain(company.tenant).values()
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://siem.example.test/in",  # not https
        "https://user:password@siem.example.test/in",  # userinfo
        "https://siem.example.test/in#fragment",
        "https://169.254.169.254/latest/meta-data/",  # the cloud's metadata address
        "https://10.0.0.1/in",
        "https://192.168.1.10/in",
        "https://172.16.0.1/in",
        "https://100.64.0.1/in",  # shared address space
        "https://[::1]/in",
        "https://[fd00:ec2::254]/in",  # the metadata address over IPv6
        "https://[::ffff:169.254.169.254]/in",  # IPv4-mapped
        "https://127.0.0.1/in",
        "https://127.1/in",  # read as 127.0.0.1 by resolvers
        "https://2130706433/in",  # the same, as one number
        "https://0x7f.0.0.1/in",
        "https://localhost/in",
        "https://0.0.0.0/in",
        "http://127.0.0.1:8000/_local/siem/demo",  # the local server's receiver, when this is not the local server
        "https://siem.example.test:0/in",
        "https://siem.example.test/" + "a" * 2000,
        "https://siem.example.test/in put",
        "https://sïem.example.test/in",
    ],
)
def test_addresses_that_could_reach_inside_or_hide_are_refused(owner, url):
    before = streams(owner)
    reply = add(owner, url)
    assert reply.status == 422, (url, reply.body)
    error = reply.json()["error"]
    expected = "validation_failed" if len(url) > 2000 else "url_not_allowed"  # the schema's own bound, first
    assert (error["code"], error["details"]["field"]) == (expected, "url")
    assert streams(owner) == before


def test_the_local_receiver_is_allowed_only_on_the_local_stage(monkeypatch):
    monkeypatch.setenv("AUDIT_STREAMS_LOCAL_ORIGIN", "http://127.0.0.1:8000")
    reload()
    try:
        assert urls.check("http://127.0.0.1:8000/_local/siem/demo").local
        for other in ("http://127.0.0.1:8000/api/health", "http://127.0.0.1:9000/_local/siem/demo"):
            with pytest.raises(Exception, match="cannot receive"):
                urls.check(other)
        monkeypatch.setenv("PROTU_STAGE", "prod")  # a deployed stack never allows it, whatever the environment
        reload()
        with pytest.raises(Exception, match="cannot receive"):
            urls.check("http://127.0.0.1:8000/_local/siem/demo")
    finally:
        monkeypatch.undo()
        reload()


def test_the_template_never_sets_the_local_allowance(cloud):
    from infra import template as tpl

    assert "AUDIT_STREAMS_LOCAL_ORIGIN" not in (tpl.ROOT / "template.yaml").read_text()
    assert "AUDIT_STREAMS_LOCAL_ORIGIN" not in cloud.environment()


# ------------------------------------------------------------------------------------------------ who may
def test_only_owners_manage_streams_and_another_companys_are_as_if_missing(owner, admin, stranger, siem):
    created = added(owner, path())
    for method, where, body in (
        ("GET", "/api/audit-streams", None),
        ("POST", "/api/audit-streams", {"url": f"https://{SIEM}/x"}),
        ("DELETE", f"/api/audit-streams/{created['id']}", None),
        ("POST", f"/api/audit-streams/{created['id']}/test", None),
        ("POST", f"/api/audit-streams/{created['id']}/rotate-secret", None),
        ("POST", f"/api/audit-streams/{created['id']}/resume", None),
    ):
        reply = admin.browser.request(method, where, json=body)
        assert (reply.status, reply.json()["error"]["code"]) == (403, "forbidden"), (method, where)
    missing = "ast-" + "0" * 20
    for method, suffix in (("DELETE", ""), ("POST", "/test"), ("POST", "/rotate-secret"), ("POST", "/resume")):
        theirs = stranger.browser.request(method, f"/api/audit-streams/{created['id']}{suffix}")
        nothing = stranger.browser.request(method, f"/api/audit-streams/{missing}{suffix}")
        assert theirs.status == nothing.status == 404, (method, suffix, theirs.body)
        assert theirs.json() == nothing.json()
    assert created["id"] not in streams(stranger)
    assert streams(owner)[created["id"]]["status"] == "active"  # nothing happened to it
    assert not siem.at(urlsplit(created["url"]).path)  # and no ping went out for the stranger


def test_adding_rotating_and_resuming_need_a_recent_sign_in(company, siem):
    created = added(company, path())
    make_stale(company)
    for where, body in (
        ("/api/audit-streams", {"url": f"https://{SIEM}{path()}"}),
        (f"/api/audit-streams/{created['id']}/rotate-secret", None),
        (f"/api/audit-streams/{created['id']}/resume", None),
    ):
        reply = company.browser.post(where, body)
        assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required"), where
    assert len(streams(company)) == 1
    assert company.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    assert add(company, f"https://{SIEM}{path()}").status == 201


def test_a_company_has_at_most_five_streams_and_owners_are_told_of_each_removal(company, module_mailgun, siem):
    ids = [added(company, path())["id"] for _ in range(5)]
    reply = add(company, f"https://{SIEM}{path()}")
    assert (reply.status, reply.json()["error"]["code"]) == (409, "audit_stream_limit_reached")
    assert company.browser.delete(f"/api/audit-streams/{ids[0]}").status == 204
    assert company.browser.delete(f"/api/audit-streams/{ids[0]}").status == 404
    removed = [m for m in module_mailgun.to(company.email) if "audit stream was removed" in m["subject"]]
    assert len(removed) == 1
    assert add(company, f"https://{SIEM}{path()}").status == 201
    assert len(streams(company)) == 5
    actions = [e["action"] for e in chain(company.tenant).values()]
    assert actions.count("audit_stream.created") == 6 and actions.count("audit_stream.deleted") == 1


# ------------------------------------------------------------------------------------------------ delivering
def test_every_new_event_is_delivered_in_order_signed_with_a_stable_id(company, siem, pump):
    where = path()
    created = added(company, where)
    for title in ("One", "Two", "Three"):
        change(company, title)
    pump.pump()

    received = siem.at(where)
    events = chain(company.tenant)
    assert seqs(received) == list(range(seqs(received)[0], seqs(received)[0] + len(received)))
    first = seqs(received)[0]
    assert events[first]["action"] == "audit_stream.created"  # it starts with its own creation
    assert len(received) >= 4
    for request in received:
        body = verify(created["secret"], request)  # the specification's check passes
        assert body["type"] == "audit.event" and body["data"] == events[body["data"]["seq"]]  # exactly the chain
        assert request["headers"]["webhook-id"] == f"{company.tenant}:{body['data']['seq']}"
        assert request["headers"]["content-type"] == "application/json"
        assert request["headers"]["user-agent"] == "Protu-Audit-Stream/1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["timestamp"])
    state = streams(company)[created["id"]]
    assert state["delivered_seq"] == seqs(received)[-1] and state["last_delivered_at"]

    pump.pump()  # nothing new: nothing sent again
    assert len(siem.at(where)) == len(received)


def test_a_siem_failure_never_fails_the_audited_request_and_is_retried_in_order(company, siem, pump, clock):
    where = path()
    created = added(company, where)
    pump.pump()
    before = len(siem.at(where))  # its own creation, delivered
    siem.plan[where] = [500, 503]
    change(company, "Before")
    summary = pump.pump()  # the stream job ran and did not raise
    assert summary >= 1
    state = streams(company)[created["id"]]
    assert state["status"] == "failing" and state["last_error"] == "500" and state["failing_since"]
    assert state["next_attempt_at"] > state["failing_since"]
    stuck = state["delivered_seq"] + 1

    change(company, "After")  # the audited request succeeds while the SIEM is down
    pump.pump()  # a failing endpoint waits for its backoff: event n+1 is not sent before n
    assert seqs(siem.at(where))[-1] == stuck

    clock.at(state["next_attempt_at"] - clock.start - 1)
    jobs.audit_stream_retry({}, None)  # too early: nothing
    assert seqs(siem.at(where)[before:]) == [stuck]

    clock.at(state["next_attempt_at"] - clock.start + 1)
    jobs.audit_stream_retry({}, None)  # 503: still failing, backing off further
    failing = streams(company)[created["id"]]
    assert failing["status"] == "failing" and failing["last_error"] == "503"
    assert failing["failing_since"] == state["failing_since"] and failing["next_attempt_at"] > state["next_attempt_at"]

    at = clock.at(failing["next_attempt_at"] - clock.start + 1)
    jobs.audit_stream_retry({}, None)
    received = siem.at(where)[before:]
    attempts = seqs(received)
    assert attempts[:3] == [stuck, stuck, stuck]  # the same event three times ...
    assert len({r["headers"]["webhook-id"] for r in received[:3]}) == 1  # ... under one id: a receiver drops doubles
    assert attempts[2:] == sorted(set(attempts[2:])) and attempts[-1] >= stuck + 1  # then in order, nothing skipped
    for request in received[2:]:
        verify(created["secret"], request, at=at)
    recovered = streams(company)[created["id"]]
    assert recovered["status"] == "active" and recovered["failing_since"] is None and recovered["last_error"] is None


def test_after_a_day_of_failures_the_stream_fails_its_owners_are_told_once_and_it_resumes(
    company, module_mailgun, siem, pump, clock
):
    where = path()
    created = added(company, where)
    pump.pump()
    siem.plan[where] = [502] * 100
    change(company)
    pump.pump()
    since = streams(company)[created["id"]]["failing_since"]

    clock.at(3 * 3600)
    jobs.audit_stream_retry({}, None)
    assert streams(company)[created["id"]]["status"] == "failing"

    clock.at(since - clock.start + 24 * 3600 + 60)
    jobs.audit_stream_retry({}, None)
    failed = streams(company)[created["id"]]
    assert failed["status"] == "failed" and failed["next_attempt_at"] is None and failed["last_error"] == "502"
    stopped = lambda: [m for m in module_mailgun.to(company.email) if "stopped" in m["subject"]]  # noqa: E731
    assert len(stopped()) == 1 and SIEM.replace(".", "\u2024") in stopped()[0]["text"]

    tried = len(siem.at(where))
    clock.at(since - clock.start + 30 * 3600)
    jobs.audit_stream_retry({}, None)
    change(company)
    pump.pump()
    assert len(siem.at(where)) == tried  # a failed stream is left alone ...
    assert len(stopped()) == 1  # ... and its owners were told once

    reply = company.browser.get("/api/audit-events?action=audit_stream.failed")
    [event] = reply.json()["items"]
    assert event["actor"] == "system:audit-stream" and event["target"] == f"audit_stream:{created['id']}"
    assert event["details"]["undelivered_from_seq"] == failed["delivered_seq"] + 1

    siem.plan[where] = []
    resumed = company.browser.post(f"/api/audit-streams/{created['id']}/resume")
    assert resumed.status == 200, resumed.body
    assert resumed.json()["status"] == "active" and resumed.json()["delivered_seq"] == failed["delivered_seq"]
    again = company.browser.post(f"/api/audit-streams/{created['id']}/resume")
    assert (again.status, again.json()["error"]["code"]) == (409, "audit_stream_active")
    at = clock.at(since - clock.start + 30 * 3600 + 5)
    jobs.audit_stream_retry({}, None)
    delivered = [r for r in siem.at(where)[tried:] if r["status"] == 200]
    assert seqs(delivered)[0] == failed["delivered_seq"] + 1  # from where it stopped, nothing skipped
    assert seqs(delivered) == list(range(seqs(delivered)[0], seqs(delivered)[0] + len(delivered)))
    assert any(json.loads(r["body"])["data"]["action"] == "audit_stream.resumed" for r in delivered)
    verify(created["secret"], delivered[-1], at=at)
    assert streams(company)[created["id"]]["status"] == "active"


def test_a_host_that_resolves_inside_is_refused_at_delivery_and_nothing_is_sent(company, siem, pump):
    inside = add(company, "https://inside.example.test/in")
    twofaced = add(company, "https://twofaced.example.test/in")
    assert inside.status == twofaced.status == 201  # a name is judged when it is used: its answer can change
    change(company)
    pump.pump()
    for created in (inside.json(), twofaced.json()):
        state = streams(company)[created["id"]]
        assert state["status"] == "failing" and state["last_error"] == "address_not_allowed"
    assert not [r for r in siem.received if r["host"] in ("inside.example.test", "twofaced.example.test")]
    ping = company.browser.post(f"/api/audit-streams/{inside.json()['id']}/test")
    assert ping.json() == {"delivered": False, "error": "address_not_allowed"}


def test_a_name_that_changes_its_answer_before_the_connection_is_refused_as_it_connects(monkeypatch):
    """DNS rebinding: the first answer is outside, the one the connection would use is loopback. The connection
    resolves again and checks that answer (the HTTP layer below requests: ``responses`` does not stand in here)."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in next(answers)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert urls.allowed_addresses("rebind.example.test", 443) == ["93.184.215.14"]  # the check before sending
    adapter = transport._guarded_adapter()
    pool = adapter.poolmanager.connection_from_url("https://rebind.example.test/in")
    with pytest.raises(urls.AddressNotAllowed):
        pool.urlopen("POST", "/in", body=b"{}", retries=False)


def test_rotating_the_secret_signs_new_deliveries_with_the_new_secret_only(company, siem, pump):
    where = path()
    created = added(company, where)
    pump.pump()
    verify(created["secret"], siem.at(where)[-1])
    reply = company.browser.post(f"/api/audit-streams/{created['id']}/rotate-secret")
    assert reply.status == 200, reply.body
    rotated = reply.json()
    assert rotated["secret"] != created["secret"] and rotated["secret"].startswith("whsec_")
    assert rotated["secret"] not in company.browser.get("/api/audit-streams").body.decode()
    change(company)
    pump.pump()
    latest = siem.at(where)[-1]
    verify(rotated["secret"], latest)
    with pytest.raises(WebhookVerificationError):
        verify(created["secret"], latest)
    actions = [e["action"] for e in chain(company.tenant).values()]
    assert "audit_stream.secret_rotated" in actions
    assert all(
        created["secret"] not in json.dumps(e) and rotated["secret"] not in json.dumps(e)
        for e in chain(company.tenant).values()
    )


def test_a_test_ping_is_signed_answered_now_audited_and_rate_limited(company, siem):
    where = path()
    created = added(company, where)
    reply = company.browser.post(f"/api/audit-streams/{created['id']}/test")
    assert reply.status == 200 and reply.json() == {"delivered": True, "status_code": 200}
    ping = siem.at(where)[-1]
    body = verify(created["secret"], ping)
    assert body["type"] == "ping" and body["data"]["stream_id"] == created["id"]
    assert ping["headers"]["webhook-id"].startswith(f"{company.tenant}:ping:")

    siem.plan[where] = [503]
    assert company.browser.post(f"/api/audit-streams/{created['id']}/test").json() == {
        "delivered": False,
        "status_code": 503,
    }
    assert streams(company)[created["id"]]["status"] == "active"  # a ping changes nothing of the stream
    tested = [e for e in chain(company.tenant).values() if e["action"] == "audit_stream.tested"]
    assert [e["details"]["delivered"] for e in sorted(tested, key=lambda e: e["seq"])] == [True, False]

    for _ in range(8):
        assert company.browser.post(f"/api/audit-streams/{created['id']}/test").status == 200
    limited = company.browser.post(f"/api/audit-streams/{created['id']}/test")
    assert (limited.status, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited.header("Retry-After")) > 0


def test_a_removed_stream_receives_nothing_more(company, siem, pump):
    where = path()
    created = added(company, where)
    pump.pump()
    sent = len(siem.at(where))
    assert company.browser.delete(f"/api/audit-streams/{created['id']}").status == 204
    change(company)
    pump.pump()
    jobs.audit_stream_retry({}, None)
    assert len(siem.at(where)) == sent


def test_the_local_servers_siem_receiver_gets_deliveries_that_verify(company, pump, local_server, monkeypatch):
    import urllib.request

    def fetch(url: str, method: str = "GET"):
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:
            return answer.status, answer.read()

    monkeypatch.setenv("AUDIT_STREAMS_LOCAL_ORIGIN", local_server)
    reload()
    try:
        assert fetch(f"{local_server}/_local/siem", "DELETE")[0] == 204
        reply = add(company, f"{local_server}/_local/siem/demo")
        assert reply.status == 201, reply.body
        created = reply.json()
        change(company)
        pump.pump()
        status, body = fetch(f"{local_server}/_local/siem")
        received = [r for r in json.loads(body) if r["name"] == "demo"]
        assert status == 200 and len(received) >= 2
        for request in received:
            delivered = verify(created["secret"], {**request, "body": request["body"].encode()})
            assert delivered["data"]["tenant"] == company.tenant
        assert seqs([{"body": r["body"]} for r in received]) == sorted(seqs([{"body": r["body"]} for r in received]))
        assert company.browser.post(f"/api/audit-streams/{created['id']}/test").json()["delivered"] is True
        assert fetch(f"{local_server}/_local/siem", "DELETE")[0] == 204
        assert json.loads(fetch(f"{local_server}/_local/siem")[1]) == []
    finally:
        monkeypatch.undo()
        reload()


def test_the_backoff_doubles_to_an_hour_with_jitter():
    from protu.ops.audit_streams import delivery

    for attempts, (low, high) in {1: (15, 30), 2: (30, 60), 5: (240, 480), 8: (1800, 3600), 40: (1800, 3600)}.items():
        waits = {delivery.backoff(attempts) for _ in range(50)}
        assert min(waits) >= low and max(waits) <= high, attempts
    assert len({delivery.backoff(8) for _ in range(50)}) > 1  # jitter: failing endpoints do not retry in step


def stored(tenant: str, stream_id: str):
    from protu.ops.audit_streams.model import AuditStream

    return AuditStream.get(AuditStream.partition(tenant), model.PREFIX + stream_id, consistent_read=True)


def test_a_run_that_dies_holding_the_lease_is_taken_over_by_the_retry_job_when_the_lease_ends(
    company, siem, pump, clock
):
    from protu.ops.audit_streams import delivery
    from protu.ops.audit_streams.model import AuditStream

    where = path()
    created = added(company, where)
    pump.pump()
    sent = len(siem.at(where))
    lease_end = int(time.time()) + delivery.LEASE_SECONDS  # as a run that took the lease and died would leave it
    stored(company.tenant, created["id"]).update(
        actions=[
            AuditStream.lease_until.set(lease_end),
            AuditStream.gsi1pk.set(model.DUE),
            AuditStream.gsi1sk.set(model.due_key(lease_end, company.tenant, created["id"])),
        ]
    )
    change(company)
    pump.pump()  # the stream's run finds it leased: it only kicks it
    jobs.audit_stream_retry({}, None)  # the lease still holds
    assert len(siem.at(where)) == sent and int(stored(company.tenant, created["id"]).kicks) == 1

    clock.at(lease_end - clock.start + 1)
    jobs.audit_stream_retry({}, None)
    assert seqs(siem.at(where)[sent:]) and streams(company)[created["id"]]["delivered_seq"] == seqs(siem.at(where))[-1]
    assert stored(company.tenant, created["id"]).gsi1pk is None  # caught up: out of the due index


def test_events_written_while_a_run_delivers_are_delivered_by_that_run(company, siem, pump):
    """A stream run that finds the endpoint leased kicks it; the run holding the lease sees the kick when it would
    release the endpoint, reads the chain's head again and delivers what came meanwhile."""
    from protu.ops.audit_streams import delivery
    from protu.ops.audit_streams.model import AuditStream
    from protu.store import scope

    where = path()
    created = added(company, where)
    pump.pump()
    sent = len(siem.at(where))
    change(company, "First")
    fired = []

    def meanwhile(request):
        if not fired and urlsplit(request.url).path == where:  # as the run delivers: a new event, and a kick
            fired.append(audit.record(company.tenant, "test.meanwhile", "test:1", actor="tester"))
            stored(company.tenant, created["id"]).update(actions=[AuditStream.kicks.add(1)])

    siem.hook = meanwhile
    try:
        with scope.acting_for(company.tenant):  # one run, as the stream job starts it
            done = delivery.run(company.tenant, created["id"], only_active=True)
    finally:
        siem.hook = None
    delivered = seqs(siem.at(where)[sent:])
    assert fired and delivered[-1] == fired[0]["seq"]  # delivered by the same run, after the ones before it
    assert done.outcome == "delivered" and done.delivered == len(delivered)
    assert delivered == list(range(delivered[0], delivered[-1] + 1))
    assert stored(company.tenant, created["id"]).gsi1pk is None


def test_a_run_delivers_a_bounded_number_of_events_and_leaves_the_rest_to_the_next(company, siem, pump, monkeypatch):
    from protu.ops.audit_streams import delivery

    where = path()
    created = added(company, where)
    pump.pump()
    sent = len(siem.at(where))
    monkeypatch.setattr(delivery, "MAX_EVENTS_PER_RUN", 2)
    for title in ("A", "B", "C", "D", "E"):
        change(company, title)
    pump.pump()
    first = seqs(siem.at(where)[sent:])
    assert len(first) == 2  # this run's share; the endpoint is due at once for the rest
    assert stored(company.tenant, created["id"]).gsi1pk == model.DUE
    for _ in range(3):
        jobs.audit_stream_retry({}, None)
    delivered = seqs(siem.at(where)[sent:])
    assert delivered == list(range(delivered[0], delivered[0] + len(delivered))) and len(delivered) >= 5
    assert streams(company)[created["id"]]["delivered_seq"] == delivered[-1]
    assert stored(company.tenant, created["id"]).gsi1pk is None
