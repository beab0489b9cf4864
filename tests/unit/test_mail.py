"""The Mailgun client and the email templates.

Mailgun's HTTP API is simulated at the HTTP boundary (the ``mailgun`` fixture, ``responses``); the keys come from
the ``MailgunKeys`` secret that ``template.yaml`` defines, provisioned into moto by the ``cloud`` fixture. One test
sends through the real local server of ``make run`` and reads its outbox.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
import requests
from protu import aws, caches, mail
from protu.errors import ServiceUnavailable
from protu.mail import client as mail_client
from protu.settings import reload, settings


@pytest.fixture(autouse=True)
def fresh_keys(cloud):
    caches.reset()
    yield
    caches.reset()


@pytest.fixture
def waits(monkeypatch):
    """The client's waits between attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(mail_client, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def env(monkeypatch):
    """Set environment variables for one test; settings are read again now and after the test."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reload()

    yield set_env
    monkeypatch.undo()
    reload()


def secret_value() -> dict:
    raw = aws.client("secretsmanager").get_secret_value(SecretId=settings().mailgun_secret_id)["SecretString"]
    return json.loads(raw)


@pytest.fixture
def secret():
    """The MailgunKeys secret's value; a test may replace it with ``put(...)``, the original comes back after."""
    original = secret_value()

    class Secret:
        value = original

        @staticmethod
        def put(**value: str) -> None:
            aws.client("secretsmanager").put_secret_value(
                SecretId=settings().mailgun_secret_id, SecretString=json.dumps(value)
            )

    yield Secret
    Secret.put(**original)


def token() -> str:
    return secrets.token_urlsafe(32)


# --------------------------------------------------------------------------------------------- the request
def test_send_posts_one_form_to_the_eu_messages_api_with_basic_auth(mailgun, secret, monkeypatch):
    seen = []
    real_post = requests.post
    monkeypatch.setattr(requests, "post", lambda *a, **kw: seen.append(kw) or real_post(*a, **kw))
    link = "/signin/magic?token=" + token()

    message_id = mail.send("magic_link", "ana@example.com", link=link, minutes=10)

    assert len(mailgun.messages) == 1
    sent = mailgun.last
    assert message_id.startswith("<1.") and message_id.endswith("@mg.protu.test>")
    request = sent["request"]
    assert request.method == "POST"
    assert request.url == "https://api.eu.mailgun.net/v3/mg.protu.io/messages"
    assert mailgun.url == request.url
    expected_auth = base64.b64encode(f"api:{secret.value['api_key']}".encode()).decode()
    assert request.headers["Authorization"] == "Basic " + expected_auth
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["from"] == "Protu <no-reply@mg.protu.io>" == settings().mail_from
    assert sent["to"] == "ana@example.com"
    assert sent["subject"] == "Your Protu sign-in link"
    assert settings().app_origin + link in sent["text"]
    assert "expires in 10 minutes" in sent["text"]
    assert sent["html"].startswith("<!DOCTYPE html>")
    assert f'href="{settings().app_origin}{link}"' in sent["html"]
    assert (sent["o:tracking"], sent["o:tracking-clicks"], sent["o:tracking-opens"]) == ("no", "no", "no")
    assert sent["o:tag"] == "magic_link"
    assert "h:Reply-To" not in sent
    assert seen[0]["timeout"] == (3.0, 10.0)
    assert seen[0]["allow_redirects"] is False


def test_reply_to_is_a_header_field(mailgun):
    mail.send("payment_failed", "billing@example.com", reply_to="support@protu.io", company="Acme", link="/billing")
    assert mailgun.last["h:Reply-To"] == "support@protu.io"


def test_the_keys_are_read_once_and_cached(mailgun, monkeypatch):
    reads = []
    real_read = mail_client._read_keys
    monkeypatch.setattr(mail_client, "_read_keys", lambda secret_id: reads.append(secret_id) or real_read(secret_id))
    for _ in range(3):
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert reads == [settings().mailgun_secret_id]
    assert len(mailgun.messages) == 3


def test_the_keys_never_show_in_a_repr():
    keys = mail.mailgun_keys()
    assert keys.api_key and keys.api_key not in repr(keys)


@pytest.mark.parametrize(
    "address",
    ["ana@example.com, eve@evil.example", "Ana <ana@example.com>", "ana@example.com\r\nBcc: eve@evil.example", "ana"],
)
def test_only_a_single_bare_address_is_accepted(mailgun, address):
    with pytest.raises(ValueError, match="single email address"):
        mail.send("account_locked", address, minutes=15)
    assert mailgun.attempts == 0


# --------------------------------------------------------------------------------------------- retries
def test_429_and_503_are_retried_with_backoff_honouring_retry_after(mailgun, waits):
    mailgun.fail((429, {"Retry-After": "2"}), 503)
    message_id = mail.send("account_locked", "ana@example.com", minutes=15)
    assert message_id and mailgun.attempts == 3 and len(mailgun.messages) == 1
    assert waits[0] == 2.0  # Retry-After
    assert 0.5 <= waits[1] <= 0.5 + mail_client.BASE_DELAY / 2  # exponential: the second wait doubles the base


def test_after_three_failures_the_mail_is_unavailable(mailgun, waits):
    mailgun.fail(503, 502, 500)
    with pytest.raises(ServiceUnavailable) as raised:
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert raised.value.code == "mail_unavailable" and raised.value.status == 503
    assert mailgun.attempts == 3 and len(waits) == 2 and mailgun.messages == []
    assert sum(waits) < mail_client.DEADLINE


def test_connection_timeouts_are_retried_then_give_up(mailgun, waits):
    mailgun.fail(requests.exceptions.ConnectTimeout(), requests.exceptions.ConnectionError())
    assert mail.send("account_locked", "ana@example.com", minutes=15)
    assert mailgun.attempts == 3

    mailgun.fail(*[requests.exceptions.ConnectTimeout()] * 3)
    with pytest.raises(ServiceUnavailable) as raised:
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert raised.value.code == "mail_unavailable"
    assert mailgun.attempts == 6


def test_a_retry_after_beyond_the_budget_gives_up_at_once(mailgun, waits):
    mailgun.fail((429, {"Retry-After": "60"}))
    with pytest.raises(ServiceUnavailable):
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert mailgun.attempts == 1 and waits == []


def test_the_attempts_stay_within_the_deadline(mailgun, monkeypatch):
    """Each attempt costs 2 s here; the waits and attempts together must end within DEADLINE (12 s)."""
    now, timeouts = [1000.0], []
    real_post = requests.post

    def slow_post(*args, **kwargs):
        timeouts.append(kwargs["timeout"])
        now[0] += 2
        return real_post(*args, **kwargs)

    monkeypatch.setattr(mail_client, "_clock", lambda: now[0])
    monkeypatch.setattr(mail_client, "_sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    monkeypatch.setattr(requests, "post", slow_post)
    mailgun.fail((503, {"Retry-After": "1"}), (503, {"Retry-After": "1"}))
    started = now[0]
    mail.send("account_locked", "ana@example.com", minutes=15)  # 2 + 1 + 2 + 1 + 2
    assert now[0] - started == 8.0
    assert timeouts == [(3.0, 10.0), (3.0, 9.0), (3.0, 6.0)]  # the read timeout shrinks with the time left

    mailgun.fail((503, {"Retry-After": "5"}), (503, {"Retry-After": "5"}))
    started = now[0]
    with pytest.raises(ServiceUnavailable):
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert now[0] - started == 9.0  # 2 + 5 + 2; a second 5 s wait would pass the deadline: given up instead
    assert mailgun.attempts == 5


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(mailgun, waits, status):
    mailgun.fail(status)
    with pytest.raises(mail.MailRejected) as raised:
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert (raised.value.code, raised.value.status, raised.value.mailgun_status) == ("mail_rejected", 502, status)
    assert mailgun.attempts == 1 and waits == []


def test_a_401_reads_the_rotated_key_once_and_sends_with_it(mailgun, secret, waits):
    mail.send("account_locked", "ana@example.com", minutes=15)  # caches the current key
    rotated = token()
    secret.put(api_key=rotated, webhook_signing_key="")
    mailgun.fail(401)
    mail.send("account_locked", "ana@example.com", minutes=15)
    expected = "Basic " + base64.b64encode(f"api:{rotated}".encode()).decode()
    assert mailgun.last["request"].headers["Authorization"] == expected
    assert waits == []

    mailgun.fail(401)  # the same key refused again: a configuration error, not retried
    with pytest.raises(mail.MailRejected) as raised:
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert raised.value.mailgun_status == 401


def test_an_unset_api_key_fails_clearly_without_calling_mailgun(mailgun, secret):
    secret.put(api_key="", webhook_signing_key="")
    with pytest.raises(ServiceUnavailable) as raised:
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert raised.value.code == "mail_unavailable" and mailgun.attempts == 0


def test_the_webhook_signing_key_must_be_set(secret):
    assert secret.value["webhook_signing_key"] == ""  # as provisioned: the operator sets it
    with pytest.raises(ServiceUnavailable):
        mail.webhook_signing_key()
    signing_key = token()
    secret.put(api_key=secret.value["api_key"], webhook_signing_key=signing_key)
    caches.reset()
    assert mail.webhook_signing_key() == signing_key


def test_plain_http_is_refused_except_on_loopback(mailgun, env):
    env(MAILGUN_API_BASE="http://api.eu.mailgun.net/v3")
    with pytest.raises(ValueError, match="https"):
        mail.send("account_locked", "ana@example.com", minutes=15)
    assert mailgun.attempts == 0


# --------------------------------------------------------------------------------------------- logs
def test_logs_name_the_template_and_domain_but_no_secret(mailgun, secret, waits, capsys):
    magic = token()
    link = f"{settings().app_origin}/signin/magic?token={magic}"
    mailgun.fail(503)
    message_id = mail.send("magic_link", "ana.secret-person@example.com", link=link, minutes=10)
    mailgun.fail(400)
    with pytest.raises(mail.MailRejected):
        mail.send("password_reset", "ana.secret-person@example.com", link=link, minutes=10)

    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    sent = [line for line in lines if line["message"] == "mail sent"]
    assert sent and sent[0]["template"] == "magic_link" and sent[0]["recipient_domain"] == "example.com"
    assert sent[0]["message_id"] == message_id and sent[0]["attempts"] == 2
    assert any(line["message"] == "mail retry" and line["failure"] == "HTTP 503" for line in lines)
    assert any(line["message"] == "mail rejected by mailgun" and line["http_status"] == 400 for line in lines)
    for forbidden in (secret.value["api_key"], magic, "ana.secret-person", "sign-in link", "Protu <no-reply"):
        assert forbidden not in out


# --------------------------------------------------------------------------------------------- templates
SAMPLES = {
    "verify_email": {"name": "Ana", "link": "/verify?token=t"},
    "magic_link": {"link": "/signin/magic?token=t", "minutes": 10},
    "password_reset": {"link": "/reset?token=t", "minutes": 30},
    "invitation": {
        "company": "Acme",
        "inviter": "Bo",
        "role": "Manager",
        "link": "/invite?token=t",
        "refuse_link": "/refuse-invitation#token=r",
    },
    "account_exists": {"link_to_sign_in": "/signin"},
    "new_sign_in": {"when": datetime(2025, 3, 1, 9, 30, tzinfo=UTC), "ip": "203.0.113.7", "user_agent": "Firefox"},
    "account_locked": {"minutes": 15},
    "sign_in_confirm": {"link": "/magic#token=abc", "minutes": 10},
    "sign_in_attempts": {"attempts": 5, "blocked": False},
    "suspicious_activity": {"reason": "a refresh token was used twice"},
    "password_changed": {"when": datetime(2025, 3, 1, 9, 30, tzinfo=UTC)},
    "two_factor_changed": {"enabled": False, "when": "today"},
    "recovery_codes_regenerated": {"when": datetime(2026, 12, 5, 18, 0, tzinfo=UTC)},
    "payment_failed": {"company": "Acme", "link": "/billing"},
    "security_incident": {
        "company": "Acme",
        "what": "Failed sign-ins from one address across many accounts",
        "data": "no records were opened",
        "actions": "sessions revoked, accounts locked, the address blocked",
        "reference": "inc-20261126-0a1b2c3d4e",
    },
    "security_incident_resolved": {
        "company": "Acme GmbH",
        "what": "Failed sign-ins from one address across many accounts",
        "reference": "inc-20261126-0a1b2c3d4e",
    },
    "security_incident_update": {
        "company": "Acme GmbH",
        "what": "Failed sign-ins from one address across many accounts",
        "status": "contained",
        "news": ["We remediated the cause.", "Passwords of the accounts concerned were reset."],
        "reference": "inc-20261126-0a1b2c3d4e",
    },
    "security_report_received": {"reference": "rep-0a1b2c3d4e5f"},
    "security_report_status": {
        "reference": "rep-0a1b2c3d4e5f",
        "status": "fixed",
        "note": "Deployed on 5 December.",
        "credit_link": "/security/thanks/confirm#token=abc",
    },
    "invitation_account_exists": {"company": "Acme", "inviter": "Bo", "refuse_link": "/refuse-invitation#token=r"},
    "invitation_declined": {"email": "ana@example.com", "company": "Acme", "refused": True},
    "audit_stream_added": {"company": "Acme", "host": "siem.example.com", "by": "ana@example.com"},
    "audit_stream_removed": {"company": "Acme", "host": "siem.example.com", "by": "ana@example.com"},
    "audit_stream_failed": {"company": "Acme", "host": "siem.example.com", "since": datetime(2025, 3, 1, tzinfo=UTC)},
    "maintenance_scheduled": {
        "company": "Acme",
        "start": datetime(2026, 12, 10, 2, 0, tzinfo=UTC),
        "end": datetime(2026, 12, 10, 3, 30, tzinfo=UTC),
        "summary": "Moving the data table to a new key schema",
    },
    "maintenance_cancelled": {
        "company": "Acme",
        "start": datetime(2026, 12, 10, 2, 0, tzinfo=UTC),
        "end": datetime(2026, 12, 10, 3, 30, tzinfo=UTC),
        "summary": "Moving the data table to a new key schema",
    },
    "company_erased": {"company": "Acme", "by": "Ana Owner", "when": datetime(2026, 12, 5, 18, 0, tzinfo=UTC)},
}
HOSTILE = "<script>alert(\"x\")</script> & 'y' <img src=x onerror=alert(1)>"


def test_every_template_has_a_sample():
    assert set(SAMPLES) == set(mail.TEMPLATES)


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_every_template_renders_text_and_accessible_html(template):
    rendered = mail.render(template, **SAMPLES[template])
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and "<" not in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in rendered.html and '<meta charset="utf-8">' in rendered.html
    assert f"<title>{rendered.subject}</title>" in rendered.html.replace("&#x27;", "'")
    for link in {value for value in SAMPLES[template].values() if isinstance(value, str) and value.startswith("/")}:
        assert settings().app_origin + link in rendered.text
        assert f'href="{settings().app_origin}{link}"' in rendered.html


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_every_free_text_value_is_escaped_in_html(template):
    context = {
        name: HOSTILE
        if isinstance(value, str) and not value.startswith("/") and name not in ("when", "ip", "status")
        else value
        for name, value in SAMPLES[template].items()
    }
    rendered = mail.render(template, **context)
    for tag in ("<script", "<img", 'alert("x")'):
        assert tag not in rendered.html, template
    if context != SAMPLES[template]:
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;y&#x27;" in rendered.html


def test_a_hostile_name_is_escaped_and_cannot_add_lines(mailgun):
    name = "<script>alert(1)</script>\n\nYour account is blocked, call +1 555"
    mail.send("verify_email", "ana@example.com", name=name, link="/verify?token=t")
    sent = mailgun.last
    assert "<script>" not in sent["html"]
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt; Your account is blocked" in sent["html"]
    assert "\n\nYour account is blocked" not in sent["text"]


def test_verify_email_greets_without_a_name():
    assert "Hello,\n" in mail.render("verify_email", name="", link="/verify").text


def test_an_invitation_names_inviter_company_and_role():
    rendered = mail.render(
        "invitation", company="Acme & Co", inviter="Bo", role="Manager", link="/invite?t=1", refuse_link="/refuse"
    )
    assert rendered.subject == "Bo invited you to Acme & Co on Protu"
    assert "Bo invited you to join Acme &amp; Co on Protu as Manager." in rendered.html


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/signin",
        "//evil.example/signin",
        "javascript:alert(1)",
        "http://127.0.0.1:8000.evil.example/x",
        '/x" onmouseover="alert(1)',
        "/x\n/y",
    ],
)
def test_links_must_point_at_the_app_origin(link):
    with pytest.raises(ValueError):
        mail.render("magic_link", link=link, minutes=10)


def test_a_full_link_on_the_app_origin_is_kept():
    link = settings().app_origin + "/signin/magic?token=abc"
    assert link + "\n" in mail.render("magic_link", link=link, minutes=10).text


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("no_such_template", {}),
        ("magic_link", {"link": "/x"}),  # missing minutes
        ("magic_link", {"link": "/x", "minutes": 10, "extra": 1}),
        ("magic_link", {"link": None, "minutes": 10}),
        ("magic_link", {"link": "/x", "minutes": 0}),
        ("magic_link", {"link": "/x", "minutes": "10"}),
        ("invitation", {"company": " \n", "inviter": "Bo", "role": "Manager", "link": "/x", "refuse_link": "/r"}),
        ("two_factor_changed", {"enabled": "yes", "when": "today"}),
    ],
)
def test_programming_errors_are_value_errors_without_sending(mailgun, template, context):
    with pytest.raises(ValueError):
        mail.send(template, "ana@example.com", **context)
    assert mailgun.attempts == 0


def test_long_values_are_capped():
    rendered = mail.render("suspicious_activity", reason="x" * 5000)
    assert "x" * 200 not in rendered.text and "x" * 150 in rendered.text


# --------------------------------------------------------------------------------------------- local cloud
def test_the_local_cloud_provisions_the_mailgun_secret_and_environment(cloud):
    assert os.environ["MAILGUN_SECRET_ID"] == cloud.physical_id("MailgunKeys")
    assert settings().mailgun_api_base == "https://api.eu.mailgun.net/v3"
    assert settings().mailgun_domain == "mg.protu.io"
    value = secret_value()
    assert len(value["api_key"]) >= 32 and value["webhook_signing_key"] == ""


def test_mail_through_the_local_server_lands_in_its_outbox(local_server, env):
    env(MAILGUN_API_BASE=local_server + "/_local/mailgun/v3")
    address = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    message_id = mail.send("magic_link", address, link="/signin/magic?token=abc", minutes=10)

    with urllib.request.urlopen(local_server + "/_local/outbox", timeout=5) as answer:  # noqa: S310 - loopback
        outbox = json.loads(answer.read())
    [message] = [m for m in outbox if m["to"] == address]
    assert message["id"] == message_id
    assert message["from"] == settings().mail_from
    assert message["subject"] == "Your Protu sign-in link"
    assert settings().app_origin + "/signin/magic?token=abc" in message["text"]
    assert message["html"].startswith("<!DOCTYPE html>")


# --------------------------------------------------------------------------------------------- suppression
def unique_address(prefix: str = "sup") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@Example.com"


def test_a_suppressed_address_is_not_sent_to_and_the_log_names_only_the_domain(mailgun, capsys):
    from protu.mail import suppression

    address = unique_address()
    suppression.suppress(address, "complained", "ev-1")
    capsys.readouterr()

    assert mail.send("account_locked", address, minutes=15) == ""
    assert mail.send("account_locked", address.upper(), minutes=15) == ""  # the list ignores case
    assert mailgun.attempts == 0

    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    suppressed = [line for line in lines if line["message"] == "mail suppressed"]
    assert len(suppressed) == 2
    assert suppressed[0]["template"] == "account_locked" and suppressed[0]["recipient_domain"] == "example.com"
    assert suppressed[0]["reason"] == "complained"
    assert address.partition("@")[0].lower() not in out.lower()


def test_suppression_entries_are_normalised_replaced_and_lifted(mailgun):
    from protu.mail import suppression

    address = unique_address()
    assert suppression.find(address) is None
    first = suppression.suppress(address, "bounced", "ev-1")
    assert first["email"] == address.lower() and first["reason"] == "bounced" and first["event_id"] == "ev-1"
    assert abs(first["since"] - time.time()) < 5
    assert suppression.find(f"  {address.upper()} ") == first
    suppression.suppress(address, "unsubscribed", "ev-2")
    assert suppression.find(address)["reason"] == "unsubscribed"

    assert suppression.lift(address.upper()) is True
    assert suppression.find(address) is None
    assert suppression.lift(address) is False
    assert mail.send("account_locked", address, minutes=15)
    assert mailgun.attempts == 1


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("ana@example.com", "spam"),
        ("ana@example.com", ""),
        ("no-at-sign", "bounced"),
        ("x" * 300 + "@e.com", "bounced"),
    ],
)
def test_suppressing_needs_a_known_reason_and_an_address(address, reason):
    from protu.mail import suppression

    with pytest.raises(ValueError):
        suppression.suppress(address, reason, "ev")


def test_an_unreadable_suppression_list_does_not_stop_mail(mailgun, monkeypatch, capsys):
    from protu.mail import suppression
    from pynamodb.exceptions import GetError

    def broken(email):
        raise GetError("DynamoDB unreachable")

    monkeypatch.setattr(suppression, "find", broken)
    assert mail.send("account_locked", unique_address(), minutes=15)
    assert mailgun.attempts == 1
    assert "mail suppression list unavailable; sending" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- message records
def test_a_sent_message_is_recorded_under_its_id_for_thirty_days(mailgun):
    from protu.mail import records

    address = unique_address("rec")
    message_id = mail.send("password_reset", address, link="/reset?token=t", minutes=30)
    bare = message_id.strip("<>")
    item = records.SentMessage.get(*records.SentMessage.key(bare))
    assert (item.template, item.to) == ("password_reset", address.lower())
    assert abs(item.sent_at - time.time()) < 5
    assert item.expires_at - item.sent_at == 30 * 86400
    assert item.pk == f"MAILGUN#MSG#{bare}"
    assert records.sent_message(message_id)["template"] == "password_reset"
    assert records.sent_message("<unknown@mg.protu.io>") is None


def test_a_failed_record_does_not_fail_the_send(mailgun, monkeypatch, capsys):
    from protu.mail import records

    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB unreachable")

    monkeypatch.setattr(records, "remember_sent", broken)
    message_id = mail.send("account_locked", unique_address(), minutes=15)
    assert message_id and mailgun.attempts == 1
    warning = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "mail record not saved" in line
    ]
    assert warning and warning[0]["message_id"] == message_id and warning[0]["error_type"] == "RuntimeError"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<20250301.abc@mg.protu.io>", "20250301.abc@mg.protu.io"),
        ("20250301.abc@mg.protu.io", "20250301.abc@mg.protu.io"),
        ("", None),
        ("<>", None),
        ("has space@mg.protu.io", None),
        ("x" * 600, None),
        (None, None),
        (42, None),
    ],
)
def test_message_ids_are_taken_as_events_name_them(value, expected):
    from protu.mail import records

    assert records.message_id(value) == expected


def test_webhook_markers_expire(cloud):
    from protu.mail import records

    token = records.token_marker("a" * 50, now=1000)
    assert token.pk.startswith("MAILGUN#TOKEN#") and "a" * 50 not in token.pk
    assert token.expires_at == 1000 + 86400
    marker = records.event_marker("ev-1", "delivered", now=1000)
    assert marker.pk == "MAILGUN#EVENT#ev-1" and marker.expires_at == 1000 + 30 * 86400


def test_every_mail_item_key_is_outside_company_data():
    from protu.mail import records, suppression
    from protu.store.base import UNSCOPED_PREFIXES

    keys = [
        records.SentMessage.key("m@x")[0],
        records.WebhookToken.key("t" * 20)[0],
        records.WebhookEvent.key("e")[0],
        suppression.entry("a@example.com", "bounced", "e").pk,
    ]
    assert all(key.startswith(UNSCOPED_PREFIXES) for key in keys)
