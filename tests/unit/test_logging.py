"""Structured logs and Sentry never carry a secret.

Secrets are planted the way real code would produce them (pyjwt tokens, pyotp secrets, urlsafe tokens, magic-link
URLs, assessment answers, Stripe keys, Authorization headers), then the real output is read back: the log handler's
stdout (captured by capsys, which the handler writes to because it looks up ``sys.stdout`` at emit time) and the
envelopes sentry_sdk hands to its transport.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import string
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jwt
import pyotp
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from protu import caches, observability
from protu.logging import (
    REDACTED,
    bind,
    configure_logging,
    current_context,
    get_logger,
    is_secret_key,
    redact,
    request_context,
    scrub_text,
)
from protu.settings import settings

ROOT = Path(__file__).resolve().parents[2]


def _opaque_token() -> str:
    """An opaque token as ``secrets.token_urlsafe(32)`` makes it. Free-text detection recognises such a token by
    mixing upper case, lower case and digits, which 99.9% of them do; the test takes one that does, so it cannot
    flake (key-based redaction does not depend on the shape at all)."""
    while True:
        token = secrets.token_urlsafe(32)
        if any(c.isupper() for c in token) and any(c.islower() for c in token) and any(c.isdigit() for c in token):
            return token


@pytest.fixture
def planted():
    """Secrets of every kind the product handles, unique per test run."""
    signing_key = secrets.token_bytes(32)
    totp_secret = pyotp.random_base32()
    return {
        # Short and shapeless: only key names can protect it.
        "password": f"Hunter{secrets.randbelow(10**6):06d}-Pw!",
        "jwt": jwt.encode(
            {"sub": "user-1", "sid": secrets.token_hex(8)}, signing_key, algorithm="HS256", headers={"kid": "k1"}
        ),
        "magic_token": _opaque_token(),
        "totp_secret": totp_secret,
        "totp_code": pyotp.TOTP(totp_secret).now(),
        "refresh": _opaque_token(),
        "answer_1": f"I would quietly leave, case {secrets.randbelow(10**6)}",
        "answer_2": f"never tell my manager {secrets.randbelow(10**6)}",
        "note": f"candidate seemed anxious {secrets.randbelow(10**6)}",
        "stripe": "sk_live_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24)),
        "bearer_credential": secrets.token_hex(20),  # hex: only the "Bearer" / header context gives it away
        "api_key": secrets.token_hex(16),
        "recovery_code": f"{secrets.token_hex(3)}-{secrets.token_hex(3)}",
    }


def _magic_link(planted) -> str:
    return f"https://app.protu.example/magic#token={planted['magic_token']}"


def _assert_absent(output: str | bytes, planted: dict[str, str]) -> None:
    text = output.decode() if isinstance(output, bytes) else output
    for name, value in planted.items():
        assert value not in text, f"planted {name} leaked"
        assert json.dumps(value)[1:-1] not in text, f"planted {name} leaked (JSON-escaped)"


@pytest.fixture
def log(capsys):
    logger = get_logger("test.logging")
    root = configure_logging("DEBUG")
    yield logger
    configure_logging(settings().log_level)
    assert root.level != 0


def _lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


# --- shape of the lines ----------------------------------------------------------------------------------------


def test_every_line_is_json_with_the_request_context(log, capsys):
    log.info("outside")
    with request_context(request_id="req-1", tenant="t-1"):
        log.info("inside", extra={"route": "/api/employees", "count": 3})
        bind(user="u-7")
        with request_context(step="inner"):
            log.warning("nested")
        log.info("after nested")
    log.info("outside again")

    lines = _lines(capsys)
    assert [line["message"] for line in lines] == ["outside", "inside", "nested", "after nested", "outside again"]
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= line.keys()
        assert line["logger"] == "protu.test.logging"
        assert line["time"].endswith("Z")
        assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0
    outside, inside, nested, after, outside_again = lines
    assert outside["request_id"] is None and "tenant" not in outside
    assert inside | {"time": None} == {
        "time": None,
        "level": "INFO",
        "logger": "protu.test.logging",
        "message": "inside",
        "request_id": "req-1",
        "tenant": "t-1",
        "route": "/api/employees",
        "count": 3,
    }
    assert nested["level"] == "WARNING"
    assert (nested["request_id"], nested["user"], nested["step"]) == ("req-1", "u-7", "inner")
    assert after["user"] == "u-7" and "step" not in after
    assert outside_again["request_id"] is None and "user" not in outside_again
    assert current_context() == {}


def test_loggers_live_under_protu_and_do_not_propagate(log):
    assert get_logger("protu.identity").name == "protu.identity"
    assert get_logger("api").name == "protu.api"
    root = get_logger("protu")
    ours = [handler for handler in root.handlers if type(handler).__name__ == "_StdoutHandler"]
    assert root.propagate is False and len(ours) == 1  # (pytest hangs its capture handlers there too)
    configure_logging()
    assert [handler for handler in root.handlers if type(handler).__name__ == "_StdoutHandler"] == ours


def test_lines_survive_values_json_cannot_encode(log, capsys, planted):
    class Account:
        def __repr__(self) -> str:
            return f"Account(email='a@b.example', password={planted['password']!r})"

    log.info("odd values", extra={"account": Account(), "raw_key": os.urandom(32), "when": datetime(2024, 1, 2)})
    (line,) = _lines(capsys)
    assert line["raw_key"] == "<32 bytes>"
    assert line["when"] == "2024-01-02 00:00:00"
    assert "a@b.example" in line["account"] and planted["password"] not in line["account"]


def test_a_bad_format_string_loses_neither_the_line_nor_its_secret(log, capsys, planted):
    log.info("two placeholders %s %s", planted["password"])
    captured = capsys.readouterr()
    line = json.loads(captured.out)
    assert line["message"] == "two placeholders %s %s [unformattable arguments]"
    _assert_absent(captured.out + captured.err, planted)


# --- planted secrets -------------------------------------------------------------------------------------------


class LoginRejected(Exception):
    pass


def _attempt_login(password: str, token: str, link: str) -> None:
    session = {"password": password, "token": token}  # noqa: F841 - a local holding secrets, as real code has
    raise LoginRejected(f"rejected {{'password': {password!r}}} token={token} link={link}")


def test_planted_secrets_never_reach_the_log_output(log, capsys, planted):
    p = planted
    link = _magic_link(p)
    answers = {"q1": p["answer_1"], "q2": p["answer_2"]}
    headers = {"Authorization": f"Bearer {p['bearer_credential']}", "X-Api-Key": p["api_key"], "Host": "api"}

    with request_context(request_id="req-42", tenant="t-9"):
        bind(user="u-1", access_token=p["jwt"])  # a careless bind is redacted too
        # Secrets formatted into messages, recognisable by shape or by the key next to them.
        log.info("login alice@example.com password=%s", p["password"])
        log.info("issued %s", p["jwt"])
        log.info("rotated refresh token %s", p["refresh"])
        log.info("sent magic link %s", link)
        log.info("totp enrolment %s", p["totp_secret"])
        log.info("stripe configured with %s", p["stripe"])
        log.info("incoming headers %s", headers)
        log.info("body %s", json.dumps({"password": p["password"], "answers": answers, "notes": p["note"]}))
        log.info("body %r", {"newPassword": p["password"], "recovery_codes": [p["recovery_code"]]})
        log.info("verify code=%s", p["totp_code"])
        # Secrets in structured fields, nested.
        log.info(
            "submitted",
            extra={
                "code": p["totp_code"],
                "body": {
                    "newPassword": p["password"],
                    "answers": answers,
                    "notes": p["note"],
                    "sessions": [{"refresh_token": p["refresh"], "mfaToken": p["jwt"]}],
                },
                "headers": {
                    "authorization": f"Bearer {p['bearer_credential']}",
                    "cookie": f"sid={p['refresh']}",
                    "x-api-key": p["api_key"],
                },
                "header_pairs": [("Authorization", f"Bearer {p['bearer_credential']}")],
                "totp_secret": p["totp_secret"],
                "stripe_secret_key": p["stripe"],
                "recovery_code": p["recovery_code"],
                "magic_link": link,
                "next": link,
            },
        )
        # Secrets in exception messages and chained tracebacks.
        try:
            try:
                _attempt_login(p["password"], p["jwt"], link)
            except LoginRejected as error:
                raise RuntimeError(
                    f"refresh {p['refresh']} failed, Authorization: Bearer {p['bearer_credential']}"
                ) from error
        except RuntimeError:
            log.exception("login failed for %s", "alice@example.com")
        log.info("stack please", stack_info=True)

    out = capsys.readouterr().out
    _assert_absent(out, p)
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 13
    assert all(line["request_id"] == "req-42" and line["tenant"] == "t-9" for line in lines)
    # Not vacuous: the lines are there, readable, with the secrets replaced.
    assert lines[0]["message"] == f"login alice@example.com password={REDACTED}"
    assert lines[0]["access_token"] == REDACTED and lines[0]["user"] == "u-1"
    assert lines[3]["message"] == f"sent magic link https://app.protu.example/magic#token={REDACTED}"
    submitted = lines[10]
    assert submitted["body"]["answers"] == REDACTED and submitted["headers"]["x-api-key"] == REDACTED
    assert submitted["code"] == REDACTED and submitted["header_pairs"] == [["Authorization", REDACTED]]
    failure = lines[11]
    assert failure["level"] == "ERROR" and failure["message"] == "login failed for alice@example.com"
    assert "LoginRejected" in failure["exception"] and "RuntimeError" in failure["exception"]
    assert "_attempt_login" in failure["exception"] and REDACTED in failure["exception"]
    assert "stack" in lines[12]


def test_other_handlers_on_protu_loggers_see_clean_records(log, caplog, planted):
    """pytest's capture handler stands in for any other handler (Sentry's breadcrumbs, a developer's debugging)."""
    p = planted
    with caplog.at_level("DEBUG", logger="protu"):
        log.info("issued %s for password=%s", p["jwt"], p["password"], extra={"refresh_token": p["refresh"]})
        try:
            _attempt_login(p["password"], p["jwt"], _magic_link(p))
        except LoginRejected:
            log.exception("failed")
    _assert_absent(caplog.text, p)
    record = caplog.records[0]
    assert record.getMessage() == f"issued {REDACTED} for password={REDACTED}"
    assert record.refresh_token == REDACTED
    assert "LoginRejected" in caplog.text


def test_error_codes_stay_readable(log, capsys):
    log.warning(
        "request failed",
        extra={
            "error": {"code": "invalid_json", "message": "The request body is not valid JSON."},
            "aws": {"Error": {"Code": "ConditionalCheckFailedException"}},
            "status_code": 422,
            "error_code": "E42",
        },
    )
    (line,) = _lines(capsys)
    assert line["error"]["code"] == "invalid_json"
    assert line["aws"]["Error"]["Code"] == "ConditionalCheckFailedException"
    assert (line["status_code"], line["error_code"]) == (422, "E42")


# --- the rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "passwd",
        "new_password",
        "currentPassword",
        "secret",
        "client_secret",
        "stripe_secret_key",
        "token",
        "access_token",
        "refreshToken",
        "mfa_token",
        "id_token",
        "authorization",
        "Authorization",
        "Proxy-Authorization",
        "cookie",
        "Set-Cookie",
        "api_key",
        "apiKey",
        "apikey",
        "x-api-key",
        "X-API-KEY",
        "private_key",
        "privateKey",
        "signing_key",
        "signingKeys",
        "otp",
        "totp",
        "totp_secret",
        "totpCode",
        "otp_code",
        "recovery_code",
        "recovery_codes",
        "verificationCode",
        "magic_link",
        "magicLink",
        "answers",
        "notes",
        "signature",
        "Stripe-Signature",
        "credentials",
        "Credentials",
        "SecretAccessKey",
        "SessionToken",
        "Plaintext",
        "auth",
        "basic_auth",
        "jwt",
        "pin",
        "passcode",
    ],
)
def test_keys_that_name_secrets(key):
    assert is_secret_key(key)
    assert redact({key: "x1"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "key",
    [
        "code",
        "Code",
        "error_code",
        "errorCode",
        "status_code",
        "country_code",
        "key",
        "Key",
        "idempotency_key",
        "kms_key_id",
        "public_key",
        "pk",
        "sk",
        "email",
        "tenant",
        "request_id",
        "session_id",
        "auth_method",
        "footprint",
        "notebook",
        "pinned",
        "message",
        "status",
    ],
)
def test_keys_that_stay_readable(key):
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("invalid_json", True),
        ("not_found", True),
        ("ValidationException", True),
        ("123456", False),
        (123456, False),
        ("ab12-cd34", False),
        ("", False),
        (None, False),
    ],
)
def test_a_bare_code_is_judged_by_its_value(value, kept):
    assert redact({"code": value}) == {"code": value if kept else REDACTED}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: {REDACTED}"),
        ("sent Bearer abc.def-ghi", f"sent Bearer {REDACTED}"),
        ("Cookie: sid=abc; theme=dark\nnext", f"Cookie: {REDACTED}\nnext"),
        ("https://x.example/cb?code=a1&state=s&page=2", f"https://x.example/cb?code={REDACTED}&state=s&page=2"),
        (
            "https://s3.example/o?key=k&X-Amz-Signature=ff",
            f"https://s3.example/o?key={REDACTED}&X-Amz-Signature={REDACTED}",
        ),
        ('{"password": "a\\"b", "user": "bob"}', f'{{"password": "{REDACTED}", "user": "bob"}}'),
        ("{'answers': {'q1': {'a': [1, '}']}}, 'n': 1}", f"{{'answers': {REDACTED}, 'n': 1}}"),
        ("{'password': b'x'}", f"{{'password': b'{REDACTED}'}}"),
        ("webhook whsec_abc123 and rk_test_Abc123", f"webhook {REDACTED} and {REDACTED}"),
        ("code: not_found, status: 404, at 12:30:45", "code: not_found, status: 404, at 12:30:45"),
        # Left alone on purpose: hex digests, ULIDs, UUIDs, long exception names.
        (
            "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        (
            "tenant 01HXABCDEFGHJKMNPQRSTVWXYZ req 0e3f8a52-5d8b-4e5a-9a43-6f1c2f0f0b9d",
            "tenant 01HXABCDEFGHJKMNPQRSTVWXYZ req 0e3f8a52-5d8b-4e5a-9a43-6f1c2f0f0b9d",
        ),
        ("ProvisionedThroughputExceededException", "ProvisionedThroughputExceededException"),
    ],
)
def test_scrub_text_examples(text, expected):
    assert scrub_text(text) == expected


def _styles(name: str) -> set[str]:
    words = name.replace("-", "_").split("_")
    return {
        name,
        name.upper(),
        "-".join(words),
        "-".join(w.capitalize() for w in words),
        words[0] + "".join(w.capitalize() for w in words[1:]),
        "".join(w.capitalize() for w in words),
    }


SECRET_KEYS = sorted(
    set().union(
        *map(
            _styles,
            [
                "password",
                "passwd",
                "secret",
                "token",
                "access_token",
                "refresh_token",
                "mfa_token",
                "authorization",
                "cookie",
                "set-cookie",
                "api_key",
                "apikey",
                "private_key",
                "signing_key",
                "otp",
                "totp",
                "totp_secret",
                "recovery_code",
                "recovery_codes",
                "magic_link",
                "answers",
                "notes",
                "signature",
                "credentials",
                "new_password",
                "x-api-key",
                "stripe_secret_key",
                "totp_code",
            ],
        )
    )
)
SAFE_KEYS = sorted(
    set().union(
        *map(
            _styles,
            [
                "name",
                "email",
                "tenant",
                "role",
                "status",
                "code",
                "error_code",
                "status_code",
                "key",
                "idempotency_key",
                "kms_key_id",
                "public_key",
                "footprint",
                "notebook",
                "pinned",
                "count",
                "request_id",
            ],
        )
    )
)
assert not set(SECRET_KEYS) & set(SAFE_KEYS)

_leaves = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=12)
_trees = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(SECRET_KEYS + SAFE_KEYS), children, max_size=5)
    ),
    max_leaves=25,
)


def _hidden(key, value) -> bool:
    """The rule under test, stated independently: secret names always; a bare ``code`` unless it holds a string
    identifier (the leaves here are lowercase words, so any string is one)."""
    return key in SECRET_KEYS or (key.lower() == "code" and not isinstance(value, str))


def _expected(tree):
    if isinstance(tree, dict):
        return {k: REDACTED if _hidden(k, v) else _expected(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_expected(item) for item in tree]
    return tree


@hsettings(max_examples=50, deadline=None)
@given(_trees)
def test_redact_replaces_exactly_the_secret_keys_at_any_depth(tree):
    before = copy.deepcopy(tree)
    assert redact(tree) == _expected(tree)
    assert tree == before  # the caller's data is untouched


@hsettings(max_examples=50, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_a_jwt_anywhere_in_text_is_removed(before, after):
    token = jwt.encode({"sub": "u"}, "k" * 32, algorithm="HS256")
    assert token not in scrub_text(before + token + after)


# --- Sentry ----------------------------------------------------------------------------------------------------

DSN = "https://public@sentry.example.invalid/1"


def test_without_a_dsn_nothing_imports_sentry():
    code = (
        "import sys\n"
        "from protu.observability import init_sentry\n"
        "from protu.logging import get_logger\n"
        "assert init_sentry() is False\n"
        "get_logger('cold').info('started')\n"
        "assert 'sentry_sdk' not in sys.modules, 'sentry_sdk was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"} | {"PYTHONPATH": str(ROOT / "layers/core")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"] == "started"


@pytest.fixture
def sentry_envelopes(monkeypatch):
    """Sentry initialised by ``init_sentry`` for real, with a transport that keeps the envelopes in memory."""
    import sentry_sdk
    from sentry_sdk.transport import Transport

    class MemoryTransport(Transport):
        def __init__(self) -> None:
            super().__init__({"dsn": DSN})
            self.envelopes = []

        def capture_envelope(self, envelope) -> None:
            self.envelopes.append(envelope.serialize())

    transport = MemoryTransport()
    monkeypatch.setenv("SENTRY_DSN", DSN)
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "unit")
    monkeypatch.setenv("PROTU_RELEASE", "protu@test")
    monkeypatch.setattr(observability, "_active", False)
    caches.reset()
    assert observability.init_sentry(transport=transport) is True
    assert observability.init_sentry(transport=None) is True  # idempotent: the first client stays
    assert sentry_sdk.get_client().transport is transport
    assert not sentry_sdk.get_client().should_send_default_pii()
    assert sentry_sdk.get_client().options["include_local_variables"] is False
    # The SDK's defaults and the two named integrations, whatever else the environment has installed.
    assert set(sentry_sdk.get_client().integrations) == {
        *("argv", "atexit", "dedupe", "excepthook", "logging", "modules", "stdlib", "threading"),
        *("chalice", "boto3"),
    }
    try:
        with sentry_sdk.isolation_scope():
            yield transport.envelopes
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
        monkeypatch.undo()
        caches.reset()


def test_sentry_envelopes_carry_no_planted_secret(sentry_envelopes, planted, log, capsys):
    import sentry_sdk

    p = planted
    link = _magic_link(p)
    sentry_sdk.add_breadcrumb(
        category="auth",
        message=f"refreshed with {p['refresh']}",
        data={"refresh_token": p["refresh"], "url": link, "route": "/api/refresh"},
    )
    sentry_sdk.set_tag("authorization", f"Bearer {p['bearer_credential']}")
    sentry_sdk.set_tag("route", "/api/login")
    sentry_sdk.set_extra(
        "body", {"password": p["password"], "answers": {"q1": p["answer_1"], "q2": p["answer_2"]}, "notes": p["note"]}
    )
    sentry_sdk.set_context(
        "login", {"totp_secret": p["totp_secret"], "provider": p["stripe"], "headers": {"X-Api-Key": p["api_key"]}}
    )
    try:
        _attempt_login(p["password"], p["jwt"], link)
    except LoginRejected:
        sentry_sdk.capture_exception()
    # An error logged through protu's logger reaches Sentry by the logging integration, raw args included.
    log.error("login failed %s %s", p["jwt"], p["refresh"], extra={"password": p["password"]})
    sentry_sdk.flush()

    payload = b"".join(sentry_envelopes)
    _assert_absent(payload, p)
    _assert_absent(capsys.readouterr().out, p)
    # Not vacuous: both events went out, with their readable parts.
    events = [
        json.loads(line)
        for envelope in sentry_envelopes
        for line in envelope.splitlines()
        if line.startswith(b"{") and b'"event_id"' in line and b'"platform"' in line
    ]
    assert len(events) == 2
    error, logged = events
    assert error["exception"]["values"][0]["type"] == "LoginRejected"
    assert error["exception"]["values"][0]["value"].startswith(f"rejected {{'password': '{REDACTED}'}}")
    assert error["release"] == "protu@test" and error["environment"] == "unit"
    assert error["tags"] == {"authorization": REDACTED, "route": "/api/login"}
    assert error["extra"]["body"] == {"password": REDACTED, "answers": REDACTED, "notes": REDACTED}
    assert error["contexts"]["login"]["provider"] == REDACTED
    crumb = next(c for c in error["breadcrumbs"]["values"] if c.get("category") == "auth")
    assert crumb["message"] == f"refreshed with {REDACTED}"
    assert crumb["data"] == {
        "refresh_token": REDACTED,
        "url": f"https://app.protu.example/magic#token={REDACTED}",
        "route": "/api/refresh",
    }
    assert all("vars" not in frame for frame in error["exception"]["values"][0]["stacktrace"]["frames"])
    assert logged["logger"] == "protu.test.logging"
    assert logged["logentry"]["formatted"] == f"login failed {REDACTED} {REDACTED}"
    assert "params" not in logged["logentry"]


def test_before_send_strips_requests_and_frame_locals(planted):
    p = planted
    event = {
        "request": {
            "url": f"https://api.protu.example/api/magic?token={p['magic_token']}",
            "method": "POST",
            "data": {"password": p["password"]},
            "cookies": {"sid": p["refresh"]},
            "query_string": f"key={p['api_key']}&page=2",
            "headers": {
                "Authorization": f"Bearer {p['bearer_credential']}",
                "Cookie": f"sid={p['refresh']}",
                "X-Api-Key": p["api_key"],
                "Content-Type": "application/json",
            },
        },
        "exception": {
            "values": [
                {
                    "type": "LoginRejected",
                    "value": f"token={p['jwt']}",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "login",
                                "vars": {
                                    "password": p["password"],
                                    "body": {"answers": [p["answer_1"]]},
                                    "row": {"totp_secret": p["totp_secret"]},
                                    "n": 1,
                                },
                            },
                        ]
                    },
                }
            ]
        },
        "logentry": {"message": "login %s", "params": [p["password"]], "formatted": f"login {p['jwt']}"},
    }
    cleaned = observability.before_send(event, {})
    _assert_absent(json.dumps(cleaned), p)
    request = cleaned["request"]
    assert "data" not in request and "cookies" not in request
    assert request["headers"] == {"Content-Type": "application/json"}
    assert request["query_string"] == f"key={REDACTED}&page=2"
    assert cleaned["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["n"] == 1
    assert observability.before_breadcrumb({"message": f"Bearer {p['bearer_credential']}"}, {}) == {
        "message": f"Bearer {REDACTED}"
    }


@pytest.mark.parametrize("text", ["a" * 40_000, "a:" * 20_000, "code=" * 8_000, "x." * 20_000 + "=1"])
def test_scrubbing_stays_linear_on_hostile_text(text):
    """A log line is not a place for a regex to go quadratic: 40 KB of word characters or colons comes back whole
    (a catastrophic pattern would hang here; speed itself is measured by `make bench`, never by a clock here)."""
    assert len(scrub_text(text)) > 0
