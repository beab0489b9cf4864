"""Vulnerability reports from outside: ``POST /api/security/reports`` (public) and ``/.well-known/security.txt``.

What the public security page promises a reporter: a way to report without an account, and an acknowledgement
within 24 hours (sent at once, with a reference). What Protu promises itself: the report is kept, raises the
signal ``security.report_received`` naming the report only, and its text appears in no log line; bad input is a
4xx with a stable code and writes nothing; one address cannot flood the intake; a Mailgun outage loses nothing.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import requests
from protu.security import reports, signals
from protu.security.reports import SecurityReport
from protu.store import scope

URL = "/api/security/reports"
REFERENCE = re.compile(r"rep-[0-9a-f]{16}")


# ------------------------------------------------------------------------------------------------ helpers
def some_ip() -> str:
    """An address of a /64 of its own (TEST-NET IPv6), so each test's rate limit starts at zero."""
    word = uuid.uuid4().hex
    return f"2001:db8:{word[:4]}:{word[4:8]}::7"


def a_report(**changes) -> dict:
    marker = uuid.uuid4().hex
    body = {
        "description": f"Stored XSS in the candidate notes field, marker CONFIDENTIAL-{marker}.",
        "steps_to_reproduce": f"1. Create a candidate.\n2. Put <img src=x onerror=alert(1)> in notes ({marker}-steps).",
        "impact": f"Session theft of any admin who opens the candidate ({marker}-impact).",
        "contact": f"researcher-{marker[:10]}@example.org",
        "name": "Alex Researcher",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def signals_about(report_id: str) -> list[dict]:
    """The global signals of today (and yesterday, should the test straddle midnight UTC) naming the report."""
    today = datetime.now(UTC).date()
    found = signals.list_global(today) + signals.list_global(today - timedelta(days=1))
    return [
        s for s in found if s["kind"] == "security.report_received" and (s["details"] or {}).get("report") == report_id
    ]


@pytest.fixture
def writes(monkeypatch):
    """Every report write (``SecurityReport.save``), with the tenant scope it happened in."""
    seen: list[str | None] = []
    original = SecurityReport.save

    def save(self, *args, **kwargs):
        seen.append(scope.current())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SecurityReport, "save", save)
    return seen


@pytest.fixture
def no_waits(monkeypatch):
    """Mailgun retries without their backoff sleeps."""
    from protu.mail import client

    monkeypatch.setattr(client, "_sleep", lambda seconds: None)


# ------------------------------------------------------------------------------------------------ accepted
def test_a_report_is_stored_signalled_and_acknowledged_at_once(api, mailgun, writes, capsys, caplog):
    caplog.set_level(logging.INFO)
    body, ip = a_report(), some_ip()

    reply = api.post(URL, json=body, source_ip=ip, headers={"User-Agent": "curl/8.5"})

    assert reply.status == 202, reply.body
    answer = reply.json()
    assert REFERENCE.fullmatch(answer["id"]), answer
    assert answer == {"id": answer["id"], "status": "received", "acknowledgement": "sent"}
    report_id = answer["id"]

    # the acknowledgement: to the contact, with the reference, and nothing of the report
    (ack,) = mailgun.to(body["contact"])
    assert report_id in ack["subject"] and report_id in ack["text"] and report_id in ack["html"]
    for secret in (body["description"], body["steps_to_reproduce"], body["impact"], "CONFIDENTIAL"):
        assert secret not in ack["text"] and secret not in ack["html"]

    # the stored report holds the content, outside any company
    assert writes == [None]
    stored = reports.get(report_id)
    assert stored is not None
    assert (stored.pk, stored.sk) == (f"REPORT#{report_id}", "REPORT")
    assert stored.description == body["description"]
    assert stored.steps_to_reproduce == body["steps_to_reproduce"]
    assert stored.impact == body["impact"]
    assert (stored.contact, stored.name) == (body["contact"], body["name"])
    assert (stored.status, stored.source_ip, stored.user_agent) == ("received", ip, "curl/8.5")
    assert stored.acknowledgement == "sent" and stored.acknowledged_at >= stored.received_at
    assert abs(stored.received_at - datetime.now(UTC).timestamp()) < 60

    # the signal names the report, and only the report
    (signal,) = signals_about(report_id)
    assert signal["details"] == {"report": report_id}
    assert signal["tenant"] is None and signal["user"] is None and signal["source_ip"] == ip
    stored_signal = json.dumps(signal)
    for secret in (body["description"], body["contact"], "CONFIDENTIAL", "onerror"):
        assert secret not in stored_signal

    # nothing of the report reached a log line (the JSON logs go to stdout; other loggers to caplog)
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert report_id in logs  # the logs name the report...
    for secret in ("CONFIDENTIAL", body["steps_to_reproduce"].split("(")[-1], body["contact"], "onerror"):
        assert secret not in logs  # ...never what it says, nor who sent it


def test_only_the_required_fields_are_needed(api, mailgun):
    body = {"description": "The password reset link does not expire.", "contact": "r@example.net"}
    reply = api.post(URL, json=body, source_ip=some_ip())
    assert reply.status == 202, reply.body
    stored = reports.get(reply.json()["id"])
    assert (stored.steps_to_reproduce, stored.impact, stored.name) == (None, None, None)
    assert len(mailgun.to("r@example.net")) == 1


def test_a_signed_in_callers_token_changes_nothing(api, mailgun, writes):
    """The route is public: an Authorization header (even a bogus one) is not read, and nothing binds a company."""
    reply = api.post(URL, json=a_report(), source_ip=some_ip(), headers={"Authorization": "Bearer not-a-token"})
    assert reply.status == 202, reply.body
    assert writes == [None]


def test_a_report_is_never_written_inside_a_tenant_scope(cloud):
    with scope.request():
        scope.bind("t-" + uuid.uuid4().hex[:12])
        with pytest.raises(RuntimeError, match="no company"):
            reports.submit(description="x", contact="a@example.org", source_ip=some_ip())


def test_the_answer_matches_the_openapi_document(api, mailgun):
    doc = api.get("/api/openapi.json").json()
    operation = doc["paths"][URL]["post"]
    assert operation["x-permission"] == "public" and operation["security"] == []
    assert {"202", "422", "429"} <= set(operation["responses"])
    reply = api.post(URL, json=operation["requestBody"]["content"]["application/json"]["example"], source_ip=some_ip())
    assert reply.status == 202, reply.body
    schema = operation["responses"]["202"]["content"]["application/json"]["schema"]
    jsonschema.validate(reply.json(), {**schema, "components": doc["components"]})


# ------------------------------------------------------------------------------------------------ refused
def bad(name, body, status, code, field=None, content_type="application/json"):
    raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    return pytest.param(raw, content_type, status, code, field, id=name)


INVALID = "validation_failed"
BAD = [
    bad("missing description", a_report(description=None), 422, INVALID, "description"),
    bad("blank description", a_report(description=" \n\t "), 422, INVALID, "description"),
    bad("empty description", a_report(description=""), 422, INVALID, "description"),
    bad("missing contact", a_report(contact=None), 422, INVALID, "contact"),
    bad("contact not an email", a_report(contact="call me maybe"), 422, INVALID, "contact"),
    bad("contact a list", a_report(contact="a,b@example.com"), 422, INVALID, "contact"),
    bad("contact not mailable", a_report(contact="x" * 70 + "@example.com"), 422, INVALID, "contact"),
    bad("unknown field", {**a_report(), "severity": "critical"}, 422, INVALID, "severity"),
    bad("description too long", a_report(description="d" * 10_001), 422, INVALID, "description"),
    bad("steps too long", a_report(steps_to_reproduce="s" * 5_001), 422, INVALID, "steps_to_reproduce"),
    bad("impact too long", a_report(impact="i" * 5_001), 422, INVALID, "impact"),
    bad("name too long", a_report(name="n" * 201), 422, INVALID, "name"),
    bad("name not text", a_report(name=42), 422, INVALID, "name"),
    bad("description not text", a_report(description=["a", "b"]), 422, INVALID, "description"),
    bad("not json", "{description: oops", 400, "invalid_json"),
    bad("not utf-8", b'{"description": "\xff\xfe", "contact": "a@example.org"}', 400, "invalid_json"),
    bad("array body", [a_report()], 422, INVALID),
    bad("string body", json.dumps("please fix"), 422, INVALID),
    bad("null body", "null", 422, INVALID),
    bad("no body", None, 422, "body_required"),
    bad("plain text", "there is a bug", 415, "unsupported_media_type", content_type="text/plain"),
    bad("form", "description=bug", 415, "unsupported_media_type", content_type="application/x-www-form-urlencoded"),
    bad("over the body limit", a_report(description="d" * 70_000), 413, "payload_too_large"),
]


@pytest.mark.parametrize("body, content_type, status, code, field", BAD)
def test_bad_input_is_a_4xx_json_error_with_a_stable_code_and_stores_nothing(
    api, mailgun, writes, body, content_type, status, code, field
):
    reply = api.post(URL, body=body, headers={"Content-Type": content_type}, source_ip=some_ip())

    assert (reply.status, reply.header("Content-Type")) == (status, "application/json"), reply.body
    error = reply.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    if field:
        assert error.get("details") == {"field": field}, error
    assert "Traceback" not in reply.body.decode("utf-8", "replace")
    assert writes == [] and mailgun.attempts == 0


def test_a_refused_report_does_not_count_against_the_limit(api, mailgun):
    ip = some_ip()
    for _ in range(reports.LIMIT + 2):
        assert api.post(URL, json=a_report(contact="nope"), source_ip=ip).status == 422
    assert api.post(URL, json=a_report(), source_ip=ip).status == 202


# ------------------------------------------------------------------------------------------------ rate limit
def test_one_address_is_limited_while_another_is_still_heard(api, mailgun, writes):
    ip = some_ip()
    for _ in range(reports.LIMIT):
        assert api.post(URL, json=a_report(), source_ip=ip).status == 202

    refused = api.post(URL, json=a_report(), source_ip=ip)
    assert refused.status == 429, refused.body
    assert refused.json()["error"]["code"] == "too_many_reports"
    assert 1 <= int(refused.header("Retry-After")) <= reports.WINDOW_SECONDS
    assert len(writes) == reports.LIMIT  # the refused report was not stored...
    assert len(mailgun.messages) == reports.LIMIT  # ...nor acknowledged

    neighbour = ip.replace("::7", "::8")  # the same /64: one IPv6 subscriber, one limit
    assert api.post(URL, json=a_report(), source_ip=neighbour).status == 429
    assert api.post(URL, json=a_report(), source_ip=some_ip()).status == 202
    assert api.post(URL, json=a_report(), source_ip="198.51.100." + str(uuid.uuid4().int % 250 + 1)).status == 202


def test_a_stranger_cannot_mail_bomb_an_address_through_acknowledgements(api, mailgun):
    """OWASP ASVS 5.0 2.4.1 (anti-automation against excessive calls to a function that overuses a costly resource:
    here our mail, and the victim's mailbox). Security issue 15, item 9: the intake is limited per source address
    only, so an attacker with many addresses had Protu email an acknowledgement to the victim's address with every
    report. Beyond ``ACK_LIMIT`` a day per mailbox (case and ``+tag`` do not make another one) the acknowledgement
    is withheld; every report is still stored, and the answer is the one any report gets (it does not tell whether
    the address had acknowledgements already)."""
    victim = f"victim-{uuid.uuid4().hex[:10]}@example.org"
    local, domain = victim.split("@")
    tagged = f"{local}+{uuid.uuid4().hex[:6]}@{domain.upper()}"
    spellings = [victim, victim.upper(), f"{local}+security@{domain}", tagged]  # one mailbox
    attempts = reports.ACK_LIMIT + 4

    answers = []
    for n in range(attempts):
        reply = api.post(URL, json=a_report(contact=spellings[n % len(spellings)]), source_ip=some_ip())
        assert reply.status == 202, reply.body  # every report is accepted...
        answers.append(reply.json())

    to_victim = [m for m in mailgun.messages if m["to"].casefold().startswith(local)]
    assert len(to_victim) == reports.ACK_LIMIT, [m["to"] for m in mailgun.messages]  # ...not every one mailed
    assert {(a["status"], a["acknowledgement"]) for a in answers} == {("received", "sent")}  # the same answer
    stored = [reports.get(a["id"]) for a in answers]
    assert all(s is not None for s in stored)  # every report is kept, with its contact as given
    assert [s.contact for s in stored] == [spellings[n % len(spellings)] for n in range(attempts)]
    assert [s.acknowledgement for s in stored] == ["sent"] * reports.ACK_LIMIT + ["withheld"] * 4

    # another address is still acknowledged
    bystander = a_report()
    assert api.post(URL, json=bystander, source_ip=some_ip()).json()["acknowledgement"] == "sent"
    assert len(mailgun.to(bystander["contact"])) == 1


@pytest.mark.parametrize(
    "spelling, mailbox",
    [
        ("Ana.Lopez@Example.org", "ana.lopez@example.org"),  # dots matter outside Gmail
        ("ana.lopez+bugs@example.org", "ana.lopez@example.org"),
        ("A.n.A.Lopez+x+y@GMail.com", "analopez@gmail.com"),
        ("ana.lopez@googlemail.com", "analopez@gmail.com"),
        ("+tag@example.org", "+tag@example.org"),  # nothing before the tag: the address as it is
    ],
)
def test_the_acknowledgement_limit_counts_a_mailbox_under_its_spellings(spelling, mailbox):
    """OWASP ASVS 5.0 2.4.1: the limit is per mailbox, or a few spellings of one address would multiply it."""
    assert reports._mailbox(spelling) == mailbox


# ------------------------------------------------------------------------------------------------ Mailgun down
@pytest.mark.parametrize("failures", [(500, 500, 500), (400,)], ids=["mailgun_unavailable", "mailgun_refuses"])
def test_a_mailgun_failure_keeps_the_report_and_answers_pending(api, mailgun, no_waits, capsys, failures):
    mailgun.fail(*failures)
    body = a_report()

    reply = api.post(URL, json=body, source_ip=some_ip())

    assert reply.status == 202, reply.body
    answer = reply.json()
    assert answer["status"] == "received" and answer["acknowledgement"] == "pending"
    assert mailgun.attempts == len(failures) and mailgun.to(body["contact"]) == []
    stored = reports.get(answer["id"])
    assert stored.description == body["description"]
    assert (stored.acknowledgement, stored.acknowledged_at) == ("pending", None)
    assert len(signals_about(answer["id"])) == 1
    out = capsys.readouterr().out
    assert "security report acknowledgement not sent" in out and "CONFIDENTIAL" not in out


# ------------------------------------------------------------------------------------------------ security.txt
def test_security_txt_is_served_as_rfc_9116_asks(local_server):
    reply = requests.get(f"{local_server}/.well-known/security.txt", timeout=10)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    fields: dict[str, list[str]] = {}
    for line in reply.text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition(": ")
        assert sep and name in {"Contact", "Expires", "Preferred-Languages", "Canonical", "Policy"}, line
        fields.setdefault(name, []).append(value.strip())

    assert "mailto:security@protu.io" in fields["Contact"]
    assert "https://app.protu.io/security/report" in fields["Contact"]
    assert all(c.startswith(("https://", "mailto:")) for c in fields["Contact"])
    assert fields["Canonical"] == ["https://app.protu.io/.well-known/security.txt"]
    assert fields["Preferred-Languages"] == ["en"]
    assert all(p.startswith("https://") for p in fields["Policy"])
    # Expires: once, in the future and at most a year ahead. This fails when the file goes stale: renew it then.
    (expires,) = fields["Expires"]
    when = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    now = datetime.now(UTC)
    assert now < when <= now + timedelta(days=366), f"renew frontend/.well-known/security.txt (Expires {expires})"
