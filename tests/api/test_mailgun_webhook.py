"""``POST /webhooks/mailgun`` through the webhooks function, as API Gateway calls it.

Events are signed exactly as Mailgun signs them: the hex HMAC-SHA256 of ``timestamp + token`` under the webhook
signing key, which the ``signing_key`` fixture puts into the local ``MailgunKeys`` secret (provisioned empty).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from protu import audit, aws, caches, mail
from protu.identity.accounts import email_owner
from protu.mail import events, records, suppression
from protu.security import signals
from protu.settings import settings

from tests.api.people import Browser, new_email, sign_up

PATH = "/webhooks/mailgun"


# --------------------------------------------------------------------------------------------- helpers
def _put_keys(value: dict) -> None:
    aws.client("secretsmanager").put_secret_value(SecretId=settings().mailgun_secret_id, SecretString=json.dumps(value))
    caches.reset()


@pytest.fixture(scope="module")
def signing_key(cloud):
    """A real webhook signing key in the local secret for this module; the provisioned value comes back after."""
    original = json.loads(
        aws.client("secretsmanager").get_secret_value(SecretId=settings().mailgun_secret_id)["SecretString"]
    )
    key = "key-" + secrets.token_hex(16)
    _put_keys({**original, "webhook_signing_key": key})
    yield key
    _put_keys(original)


def sign(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def webhook(key: str, event_data: dict, *, timestamp: int | None = None, token: str | None = None) -> dict:
    """The JSON body Mailgun posts for ``event_data``, signed with ``key``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or secrets.token_hex(25)  # Mailgun's tokens: 50 hex digits
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": sign(key, stamp, token)},
        "event-data": event_data,
    }


def event(kind: str, recipient: str, *, message_id: str | None = None, **extra) -> dict:
    """Event data shaped like Mailgun's (with fields this endpoint does not read)."""
    return {
        "id": secrets.token_urlsafe(16),
        "event": kind,
        "timestamp": time.time(),
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "tags": ["password_reset"],
        "log-level": "info",
        "envelope": {"sender": "no-reply@mg.protu.io", "transport": "smtp"},
        "delivery-status": {"code": 250, "message": "OK", "description": ""},
        "message": {"headers": {"message-id": message_id or f"{uuid.uuid4().hex}@mg.protu.io", "subject": "Hi"}},
        "user-variables": {},
        **extra,
    }


def post(webhooks, body, **kw):
    reply = (
        webhooks.post(PATH, json=body, **kw)
        if not isinstance(body, bytes | str)
        else webhooks.post(PATH, body=body, **kw)
    )
    return reply


def error_code(reply) -> str:
    return reply.json()["error"]["code"]


def email_events(tenant_id: str, action: str) -> list[dict]:
    return audit.events(tenant_id, action=action)[0]


def log_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture
def person(api, mailgun):
    """A fresh account (its own company): suppressing its address affects no other test."""
    account = sign_up(api, mailgun)
    owner = email_owner(account.email)
    return account, owner.tenant_id, owner.user_id


# --------------------------------------------------------------------------------------------- events
def test_delivered_is_audited_in_the_recipients_company(webhooks, signing_key, person, mailgun):
    account, tenant_id, user_id = person
    message_id = mail.send("account_locked", account.email, minutes=15)
    body = webhook(signing_key, event("delivered", account.email.upper(), message_id=message_id.strip("<>")))

    reply = post(webhooks, body)

    assert reply.status == 200, reply.body
    assert reply.json() == {"status": "processed"}
    [found] = email_events(tenant_id, "email.delivered")
    assert found["actor"] == "mailgun" and found["target"] == f"user:{user_id}"
    assert found["details"] == {
        "event_id": body["event-data"]["id"],
        "template": "account_locked",
        "recipient_domain": "example.com",
    }
    assert account.email not in json.dumps(found)
    assert suppression.find(account.email) is None
    assert audit.verify(tenant_id).ok


def test_a_permanent_failure_suppresses_the_address_and_the_next_mail_is_not_sent(
    api, webhooks, signing_key, person, mailgun, capsys
):
    account, tenant_id, _ = person
    data = event("failed", account.email, severity="permanent", reason="bounce")

    reply = post(webhooks, webhook(signing_key, data))

    assert reply.json() == {"status": "processed"}
    entry = suppression.find(account.email)
    assert entry["reason"] == "bounced" and entry["event_id"] == data["id"]
    [found] = email_events(tenant_id, "email.failed")
    assert found["details"]["severity"] == "permanent" and found["details"]["reason"] == "bounce"
    assert found["details"]["suppressed"] == "bounced" and found["details"]["template"] is None

    before = len(mailgun.to(account.email))
    capsys.readouterr()
    assert Browser(api).post("/api/auth/password/forgot", {"email": account.email}).status == 202
    assert len(mailgun.to(account.email)) == before  # Mailgun was not asked
    suppressed = [line for line in log_lines(capsys.readouterr().out) if line["message"] == "mail suppressed"]
    assert suppressed and suppressed[0]["template"] == "password_reset"
    assert suppressed[0]["recipient_domain"] == "example.com" and suppressed[0]["reason"] == "bounced"


def test_a_temporary_failure_is_audited_without_suppressing(webhooks, signing_key, person, mailgun):
    account, tenant_id, _ = person
    reply = post(webhooks, webhook(signing_key, event("failed", account.email, severity="temporary", reason="generic")))
    assert reply.json() == {"status": "processed"}
    [found] = email_events(tenant_id, "email.failed")
    assert found["details"]["severity"] == "temporary" and "suppressed" not in found["details"]
    assert suppression.find(account.email) is None
    mail.send("account_locked", account.email, minutes=15)
    assert mailgun.last["to"] == account.email


@pytest.mark.parametrize(("kind", "reason"), [("complained", "complained"), ("unsubscribed", "unsubscribed")])
def test_complaints_and_unsubscribes_suppress(webhooks, signing_key, person, mailgun, kind, reason):
    account, tenant_id, _ = person
    assert post(webhooks, webhook(signing_key, event(kind, account.email))).json() == {"status": "processed"}
    assert suppression.find(account.email)["reason"] == reason
    [found] = email_events(tenant_id, f"email.{kind}")
    assert found["details"]["suppressed"] == reason

    attempts = mailgun.attempts
    assert mail.send("suspicious_activity", account.email, reason="test") == ""  # security mail too
    assert mailgun.attempts == attempts


def test_an_address_without_an_account_is_suppressed_without_an_audit_event(webhooks, signing_key, mailgun):
    address = new_email("nobody")
    data = event("failed", address, severity="permanent")
    assert post(webhooks, webhook(signing_key, data)).json() == {"status": "processed"}
    assert suppression.find(address)["reason"] == "bounced"
    assert post(webhooks, webhook(signing_key, data)).json() == {"status": "duplicate"}
    assert suppression.lift(address) is True
    assert suppression.find(address) is None


def test_an_unknown_event_type_is_ignored(webhooks, signing_key, person):
    account, tenant_id, _ = person
    body = webhook(signing_key, event("opened", account.email))
    assert post(webhooks, body).json() == {"status": "ignored"}
    assert post(webhooks, webhook(signing_key, {"id": "x1", "event": "clicked"})).json() == {"status": "ignored"}
    assert [e for e in audit.events(tenant_id)[0] if e["action"].startswith("email.")] == []
    assert error_code(post(webhooks, body)) == "replayed_webhook"  # its token is used all the same


def test_the_same_event_twice_changes_nothing_the_second_time(webhooks, signing_key, person):
    account, tenant_id, _ = person
    data = event("complained", account.email)
    assert post(webhooks, webhook(signing_key, data)).json() == {"status": "processed"}
    first = suppression.find(account.email)

    again = webhook(signing_key, data)  # Mailgun's retry: a new token and timestamp
    assert post(webhooks, again).json() == {"status": "duplicate"}
    assert len(email_events(tenant_id, "email.complained")) == 1
    assert suppression.find(account.email) == first
    assert error_code(post(webhooks, again)) == "replayed_webhook"  # even a duplicate's token is used once


# --------------------------------------------------------------------------------------------- refusals
def test_a_forged_signature_is_refused_and_raises_a_signal(webhooks, signing_key, person):
    account, tenant_id, _ = person
    ip = f"198.51.100.{secrets.randbelow(250) + 1}"
    forged = webhook("not-the-key", event("complained", account.email))

    reply = post(webhooks, forged, source_ip=ip)

    assert reply.status == 400 and error_code(reply) == "invalid_signature"
    day = datetime.now(UTC).date()
    found = [s for s in signals.list_global(day) if s["kind"] == "webhook.bad_signature" and s["source_ip"] == ip]
    assert found and found[0]["details"] == {"provider": "mailgun"} and found[0]["tenant"] is None
    assert suppression.find(account.email) is None
    assert email_events(tenant_id, "email.complained") == []

    tampered = webhook(signing_key, event("complained", account.email))
    tampered["signature"]["timestamp"] = str(int(tampered["signature"]["timestamp"]) + 1)
    assert error_code(post(webhooks, tampered)) == "invalid_signature"
    assert suppression.find(account.email) is None


@pytest.mark.parametrize("offset", [-301, 301, -86400, 10**6])
def test_stale_timestamps_are_refused_both_ways(webhooks, signing_key, offset):
    address = new_email("stale")
    body = webhook(signing_key, event("complained", address), timestamp=int(time.time()) + offset)
    reply = post(webhooks, body)
    assert reply.status == 400 and error_code(reply) == "stale_webhook"
    assert suppression.find(address) is None


def test_a_timestamp_within_the_window_is_accepted(webhooks, signing_key):
    body = webhook(signing_key, event("delivered", new_email()), timestamp=int(time.time()) - 250)
    assert post(webhooks, body).json() == {"status": "processed"}


def test_a_replayed_token_is_refused(webhooks, signing_key):
    address = new_email("replay")
    body = webhook(signing_key, event("delivered", address))
    assert post(webhooks, body).status == 200
    reply = post(webhooks, body)
    assert reply.status == 400 and error_code(reply) == "replayed_webhook"

    other = webhook(signing_key, event("complained", address), token=body["signature"]["token"])
    other["signature"] = body["signature"]  # the captured signature with other event data
    reply = post(webhooks, other)
    assert error_code(reply) == "replayed_webhook"
    assert suppression.find(address) is None


def test_an_empty_signing_key_refuses_everything(webhooks, signing_key, capsys, monkeypatch):
    original = json.loads(
        aws.client("secretsmanager").get_secret_value(SecretId=settings().mailgun_secret_id)["SecretString"]
    )
    monkeypatch.setattr(events, "_unset_key_logged_at", None)
    _put_keys({**original, "webhook_signing_key": ""})
    try:
        address = new_email("unset")
        for key in ("", signing_key):
            reply = post(webhooks, webhook(key, event("complained", address)))
            assert reply.status == 400 and error_code(reply) == "invalid_signature"
        assert suppression.find(address) is None
    finally:
        _put_keys(original)
    lines = log_lines(capsys.readouterr().out)
    assert len([line for line in lines if "signing key not configured" in line["message"]]) == 1
    assert not [line for line in lines if line["message"] == "security signal"]  # a setup gap, not an attack


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", None),
        (b"not json", None),
        (b"\xff\xfe{}", None),
        (b"[]", None),
        (b"null", None),
        (b"{}", None),
        (b'{"event-data": {}}', None),
        (b'{"signature": "x", "event-data": {}}', "signature"),
        ("signature=abc&token=def&timestamp=1", None),  # the legacy form-encoded webhook
        (b"[" * 5000 + b"]" * 5000, None),
    ],
)
def test_malformed_bodies_are_400_invalid_payload(webhooks, signing_key, body, field):
    reply = post(webhooks, body, headers={"Content-Type": "application/json"})
    assert reply.status == 400, reply.body
    assert error_code(reply) == "invalid_payload"
    if field:
        assert reply.json()["error"]["details"]["field"] == field


def _fine(key: str) -> dict:
    return webhook(key, event("failed", new_email("typed"), severity="permanent"))


@pytest.mark.parametrize(
    "spoil",
    [
        lambda b: b["signature"].update(timestamp=1.5),
        lambda b: b["signature"].update(timestamp="12ab"),
        lambda b: b["signature"].update(token=12345),
        lambda b: b["signature"].update(token="short"),
        lambda b: b["signature"].update(signature="zz" * 32),
        lambda b: b["signature"].pop("signature"),
        lambda b: b.pop("signature"),
        lambda b: b.update({"event-data": "text"}),
        lambda b: b.pop("event-data"),
    ],
)
def test_wrong_types_in_the_signature_block_are_400_invalid_payload(webhooks, signing_key, spoil):
    body = _fine(signing_key)
    spoil(body)
    reply = post(webhooks, body)
    assert reply.status == 400 and error_code(reply) == "invalid_payload"


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d.pop("id"),
        lambda d: d.update(id="has space"),
        lambda d: d.update(id="x" * 500),
        lambda d: d.pop("event"),
        lambda d: d.update(event=7),
        lambda d: d.update(recipient=["a@example.com"]),
        lambda d: d.update(recipient="not an address"),
        lambda d: d.update(recipient="Ana <ana@example.com>"),
        lambda d: d.update(recipient="a@example.com, b@example.com"),
        lambda d: d.update(recipient="x" * 300 + "@example.com"),
        lambda d: d.pop("recipient"),
        lambda d: d.update(severity=1),
        lambda d: d.update(message={"headers": {"message-id": 5}}),
        lambda d: d.update(message="text"),
    ],
)
def test_bad_event_data_is_400_invalid_payload_and_uses_nothing(webhooks, signing_key, spoil):
    body = _fine(signing_key)
    spoil(body["event-data"])
    reply = post(webhooks, body)
    assert reply.status == 400 and error_code(reply) == "invalid_payload", reply.body
    body["event-data"] = event("delivered", new_email())  # the token was not used up by the refused request
    body["signature"] = webhook(signing_key, {}, token=body["signature"]["token"])["signature"]
    assert post(webhooks, body).status == 200


def test_an_oversized_body_is_refused_before_the_view(webhooks, signing_key):
    body = _fine(signing_key)
    body["event-data"]["padding"] = "x" * 70_000
    reply = post(webhooks, body)
    assert reply.status == 413 and error_code(reply) == "payload_too_large"


def test_odd_severity_and_reason_values_do_not_reach_the_audit_verbatim(webhooks, signing_key, person):
    account, tenant_id, _ = person
    data = event("failed", account.email, severity="temporary", reason="550 5.1.1 <x@y> unknown\nuser")
    assert post(webhooks, webhook(signing_key, data)).json() == {"status": "processed"}
    [found] = email_events(tenant_id, "email.failed")
    assert found["details"]["reason"] == "other"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=300),
        _json.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries({"signature": _json, "event-data": _json}, optional={"extra": _json}).map(
            lambda value: json.dumps(value).encode()
        ),
        st.fixed_dictionaries(
            {
                "signature": st.fixed_dictionaries(
                    {"timestamp": _json | st.just(str(int(time.time()))), "token": _json, "signature": _json}
                ),
                "event-data": _json,
            }
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_arbitrary_bodies_get_a_4xx_never_a_5xx(webhooks, signing_key, body):
    reply = webhooks.post(PATH, body=body, headers={"Content-Type": "application/json"})
    assert 400 <= reply.status < 500, reply.body
    assert error_code(reply) in {"invalid_payload", "invalid_signature"}


# --------------------------------------------------------------------------------------------- logs
def test_no_token_signature_or_address_reaches_the_logs(webhooks, signing_key, person, capsys):
    account, _, _ = person
    capsys.readouterr()
    sent = []
    for data in (
        event("delivered", account.email),
        event("failed", account.email, severity="temporary"),
        event("opened", account.email),
        event("complained", account.email),
    ):
        body = webhook(signing_key, data)
        sent.append(body)
        assert post(webhooks, body).status == 200
    replay = post(webhooks, sent[0])
    forged = webhook("wrong", event("delivered", account.email))
    sent.append(forged)
    assert {replay.status, post(webhooks, forged).status} == {400}

    out = capsys.readouterr().out
    lines = [line for line in log_lines(out) if line["message"] == "mailgun webhook"]
    assert [line["outcome"] for line in lines] == [
        "processed",
        "processed",
        "ignored",
        "processed",
        "refused",
        "refused",
    ]
    assert lines[0]["event"] == "delivered" and lines[0]["event_id"] == sent[0]["event-data"]["id"]
    assert lines[0]["recipient_domain"] == "example.com"
    assert lines[4]["error_code"] == "replayed_webhook" and lines[5]["error_code"] == "invalid_signature"
    local_part = account.email.partition("@")[0]
    for body in sent:
        for secret in (body["signature"]["token"], body["signature"]["signature"], signing_key, local_part):
            assert secret not in out


# --------------------------------------------------------------------------------------------- records
def test_each_sent_message_is_recorded_for_the_webhook(mailgun):
    address = new_email("Record").replace("record", "ReCord")
    message_id = mail.send("magic_link", address, link="/signin/magic?token=abc", minutes=10)
    found = records.sent_message(message_id)
    assert found["template"] == "magic_link" and found["to"] == address.lower()
    assert found["message_id"] == message_id.strip("<>")
    assert records.sent_message(message_id.strip("<>")) == found
