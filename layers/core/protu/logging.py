"""Structured JSON logs, correlation ids and the redaction of secrets.

Every line is one JSON object on stdout (CloudWatch stores a Lambda's stdout line by line): ``time`` (ISO-8601 UTC),
``level``, ``logger``, ``message``, ``request_id`` (null outside a request), the fields of the current request
context, then the record's ``extra`` fields, and ``exception`` / ``stack`` text when present.

A secret must never reach a log line, so nothing trusts the callers: the whole line goes through ``redact`` (values
under secret-naming keys become ``[redacted]``, every string goes through ``scrub_text``), which also catches
mistakes such as ``log.info("login %s", token)`` where the secret is recognisable by its shape. Loggers from
``get_logger`` also clean each record before any handler sees it (``RedactingFilter``), so Sentry's logging
integration and any other handler on the same loggers get clean records too.

Redaction rules (``is_secret_key`` and ``scrub_text`` document the details):

* A key names a secret when, after splitting camelCase, ``-``, ``.`` and spaces into snake_case words, it contains
  a secret fragment (password, secret, token, authorization, cookie, credential, signature, apikey, privatekey,
  magiclink, recoverycode, totp, jwt, ...), a secret word (otp, pin, pwd, sig, answers, notes, ...), a qualified
  key (api_key, private_key, signing_key, ...; plain ``key`` stays readable: S3 object keys, idempotency keys) or a
  qualified code (``totp_code``, ``verification_code``, ...).
* ``code`` on its own stays readable when its value looks like an identifier (letters and ``_``/``.``, e.g. the
  stable error codes ``invalid_json`` or AWS's ``ConditionalCheckFailedException``), because error bodies and AWS
  errors use it. Any other value under ``code`` (``"123456"``, ``"ab12-cd34"``, an int) is redacted: it may be a
  TOTP or recovery code. ``error_code``, ``status_code``, ``country_code`` and the like stay readable.
* Free text loses JWTs, ``Bearer`` credentials, ``key=value`` / ``key: value`` / JSON / repr pairs whose key names
  a secret, URL parameters named ``key``/``code``/``sig`` (besides the secret names), Stripe and Mailgun keys,
  base32 runs of 16+ characters (TOTP secrets) and URL-safe runs of 32+ characters that mix upper case, lower case
  and digits (opaque tokens from ``secrets.token_urlsafe(32)``). Hex strings are left alone on purpose: audit
  hashes, trace ids and request ids are hex and must stay readable.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from protu.settings import settings

REDACTED = "[redacted]"

# --- keys ------------------------------------------------------------------------------------------------------

# Substrings of the compacted key ("x_api_key" -> "xapikey"), whole words, words that make a following "key" secret,
# and words that keep a "*_code" key readable.
_SECRET_FRAGMENTS = tuple(
    "password passwd passphrase passcode secret token authorization cookie credential signature apikey privatekey"
    " signingkey magiclink recoverycode totp jwt bearer"
    " plaintext".split()  # plaintext: KMS GenerateDataKey's unwrapped key
)
_SECRET_WORDS = frozenset("otp hotp pin pwd sig answer answers note notes".split())
_KEY_QUALIFIERS = frozenset(
    "api private signing secret encryption data master wrapping hmac session access client webhook license".split()
)
_READABLE_CODE_QUALIFIERS = frozenset(
    "error status http response exit reason country currency language lang locale postal zip region".split()
)
_IDENTIFIER = re.compile(r"[A-Za-z]+(?:[_.][A-Za-z]+)*")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _words(key: str) -> list[str]:
    """``"X-Api-Key"``, ``"xApiKey"`` and ``"x_api_key"`` all become ``["x", "api", "key"]``."""
    return [word for word in _NOT_ALNUM.split(_CAMEL.sub("_", key).lower()) if word]


def is_secret_key(key: object) -> bool:
    """Whether a mapping key (a field, header, cookie or parameter name) names a secret, whatever its value.

    The bare key ``code`` is not secret by name; ``redact`` judges it by its value (see the module docstring).
    """
    words = _words(str(key))
    compact = "".join(words)
    if any(fragment in compact for fragment in _SECRET_FRAGMENTS) or _SECRET_WORDS.intersection(words):
        return True
    if any(word in ("key", "keys") and i and words[i - 1] in _KEY_QUALIFIERS for i, word in enumerate(words)):
        return True
    if words and words[-1] == "auth":  # auth, basic_auth, proxy_auth: credentials (auth_method is not)
        return True
    if {"code", "codes"}.intersection(words):  # totp_code, recovery_codes, ... but not error_code, status_code
        return not set(words) <= {"code", "codes", *_READABLE_CODE_QUALIFIERS}
    return False


def _hides(key: object, value: object) -> bool:
    """Whether ``value`` under ``key`` must be redacted: by the key's name, or a bare ``code`` that is no identifier."""
    if _words(str(key)) == ["code"]:
        return not (isinstance(value, str) and _IDENTIFIER.fullmatch(value))
    return is_secret_key(key)


# --- free text -------------------------------------------------------------------------------------------------

_SHAPES = (
    re.compile(r"eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){1,4}"),  # JWS (3 parts) and JWE (5 parts)
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+"),  # Stripe secret and restricted keys
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"),  # Stripe webhook signing secrets
    re.compile(r"\bkey-[0-9a-f]{32}\b"),  # Mailgun API keys
    re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{16,}=*(?![A-Za-z0-9])"),  # base32: TOTP secrets (pyotp.random_base32)
)
_BEARER = re.compile(r"\b(bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URLSAFE_RUN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
# The lookbehind and the length cap keep the search linear on long runs of word characters (a base64 blob).
_ASSIGNMENT = re.compile(r"""(?P<pre>[?&#;]?)(?<![\w.-])(?P<key>[A-Za-z][\w.-]{0,63})["']?\s*[:=]\s*""")
_URL_SECRET_PARAMS = frozenset({"key", "code", "sig"})
_WHOLE_LINE_KEYS = frozenset({"authorization", "proxy_authorization", "cookie", "set_cookie"})
_AUTH_SCHEME = re.compile(r"(?:bearer|basic|digest|token|negotiate)\s+\S", re.IGNORECASE)
_VALUE_STOP = frozenset(" \t\r\n,;&#'\"<>)}]")
_CLOSERS = {"{": "}", "[": "]", "(": ")"}


def _mixed_run(match: re.Match[str]) -> str:
    run = match.group(0)
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    return REDACTED if mixed else run


def _quoted_end(text: str, start: int) -> int:
    """Index of the quote closing the string that opens at ``start`` (or the end of the text)."""
    quote, i = text[start], start + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return min(i, len(text))


def _value_span(text: str, start: int, key: str) -> tuple[int, int]:
    """The span of the value that starts at ``start`` in free text: a quoted string's content, a bracketed
    structure (nested, quote-aware), an auth scheme and its credential, or a bare word."""
    if start >= len(text):
        return start, start
    first = text[start]
    if first == "b" and text[start + 1 : start + 2] in ("'", '"'):  # bytes repr
        start, first = start + 1, text[start + 1]
    if first in "'\"":
        return start + 1, _quoted_end(text, start)
    if "_".join(_words(key)) in _WHOLE_LINE_KEYS:  # Authorization: Basic xyz / Cookie: a=1; b=2
        end = start
        while end < len(text) and text[end] not in "\r\n'\"":
            end += 1
        return start, end
    if first in _CLOSERS:
        depth, i = 0, start
        while i < len(text):
            char = text[i]
            if char in "'\"":
                i = _quoted_end(text, i)
            elif char in _CLOSERS:
                depth += 1
            elif char in _CLOSERS.values():
                depth -= 1
                if depth == 0:
                    return start, i + 1
            i += 1
        return start, len(text)
    end = start
    scheme = _AUTH_SCHEME.match(text, start)
    if scheme:
        end = scheme.end() - 1
    while end < len(text) and text[end] not in _VALUE_STOP:
        end += 1
    return start, end


def _scrub_assignments(text: str) -> str:
    """Redact the values of ``key=value``, ``key: value``, JSON and repr pairs, and URL parameters, by key name."""
    out, pos = [], 0
    while (match := _ASSIGNMENT.search(text, pos)) is not None:
        key = match.group("key")
        in_url = match.group("pre") != "" and key.lower() in _URL_SECRET_PARAMS
        if in_url or is_secret_key(key) or _words(key) == ["code"]:  # only then is the value worth finding
            begin, end = _value_span(text, match.end(), key)
            value = text[begin:end]
            if value and value != REDACTED and (in_url or _hides(key, value)):
                out.append(text[pos:begin] + REDACTED)
                pos = end
                continue
        out.append(text[pos : match.end()])
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


def scrub_text(text: str) -> str:
    """Remove the secrets that free text can be recognised to carry (see the module docstring for the shapes).

    Best effort by nature: a bare password in a sentence has no shape. That is why structured fields are the way
    to log anything sensitive-adjacent: their keys decide, not their look.
    """
    if not text:
        return text
    for shape in _SHAPES:
        text = shape.sub(REDACTED, text)
    text = _BEARER.sub(r"\1 " + REDACTED, text)
    text = _URLSAFE_RUN.sub(_mixed_run, text)
    return _scrub_assignments(text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with secrets removed: values under secret-naming keys become ``[redacted]`` (in dicts at
    any depth, through lists, tuples and sets) and every string is passed through ``scrub_text``.

    A 2-tuple whose first item names a secret, like a header pair ``("Authorization", "...")``, loses its second.
    Mappings come back as dicts, tuples as tuples, lists and sets as lists (JSON has no sets). Other leaves
    (numbers, None, objects) are returned as they are; the log formatter scrubs their ``str()``. The input is never
    modified.
    """
    if _depth > 32:  # a cycle or an absurd nesting: refuse rather than recurse forever
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _hides(k, v) else redact(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], str) and _hides(*value):  # a (name, value) pair, as in headers
            return (value[0], REDACTED)
        return tuple(redact(item, _depth + 1) for item in value)
    if isinstance(value, list | set | frozenset):
        return [redact(item, _depth + 1) for item in value]
    return value


# --- request context -------------------------------------------------------------------------------------------

_context: ContextVar[dict[str, Any]] = ContextVar("protu_log_context", default={})  # noqa: B039 - never mutated


@contextmanager
def request_context(**fields: Any) -> Iterator[None]:
    """Fields (``request_id``, ``tenant``, ``user``, ...) that appear on every line logged inside the block.

    Nested blocks add to the outer fields; leaving a block restores exactly what was there, so a warm Lambda
    never carries one request's ids into the next.
    """
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context (e.g. the user once authenticated); undone when the enclosing
    ``request_context`` exits."""
    _context.set({**_context.get(), **fields})


def clear_context() -> None:
    """Forget every context field (for handlers that cannot use the ``request_context`` block)."""
    _context.set({})


def current_context() -> dict[str, Any]:
    return dict(_context.get())


# --- formatter, handler, loggers -------------------------------------------------------------------------------

_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_BASE_FIELDS = ("time", "level", "logger", "message")


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the line, nor print its arguments
        return f"{record.msg} [unformattable arguments]"


class RedactingFilter(logging.Filter):
    """Cleans the record itself, before any handler sees it.

    The JSON formatter alone would protect protu's own lines, but other handlers hang on the same loggers: Sentry's
    logging integration (breadcrumbs and events from ``record.msg``/``record.args``), pytest's log capture, a
    developer's debugging handler. So the message is formatted and scrubbed once (``args`` emptied), extra fields
    are redacted, and the traceback text is scrubbed into ``exc_text``, which stdlib formatters reuse instead of
    formatting ``exc_info`` again. ``exc_info`` itself stays for Sentry's stack frames (its ``before_send`` scrubs
    them).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub_text(_message(record)), ()
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS:
                setattr(record, key, REDACTED if _hides(key, value) else redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True


_REDACTING_FILTER = RedactingFilter()


def _json_default(value: object) -> str:
    """What ``json`` cannot encode: bytes by size only (they may be key material), anything else as scrubbed text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    return scrub_text(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, redacted as a whole (message, context, extra fields, traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
            "request_id": None,
        }
        extra = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        for key, value in {**_context.get(), **extra}.items():
            if key not in _BASE_FIELDS:
                line[key] = value
        if record.exc_info or record.exc_text:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(redact(line), default=_json_default, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at emit time (Lambda's, the local server's, a test's capture)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:
        """The stdlib prints the record's raw arguments to stderr here; say only that a line was lost."""
        sys.stderr.write(json.dumps({"level": "ERROR", "logger": "protu.logging", "message": "log line lost"}) + "\n")


_ROOT = "protu"
_configured = False


def configure_logging(level: str | None = None) -> logging.Logger:
    """Give the ``protu`` logger its JSON handler (once) and set its level (``LOG_LEVEL`` by default).

    ``propagate`` is off so Lambda's root handler does not print every line a second time in plain text.
    """
    global _configured
    logger = logging.getLogger(_ROOT)
    if not any(isinstance(handler, _StdoutHandler) for handler in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    if level is None:
        level = settings().log_level
    logger.setLevel(level if isinstance(logging.getLevelName(level), int) else logging.INFO)
    _configured = True
    return logger


def get_logger(name: str) -> logging.Logger:
    """A logger under ``protu`` (``get_logger(__name__)``; names outside the package are prefixed with it), with
    the ``RedactingFilter`` attached. A logger's filters apply only to records logged on it, hence one per logger;
    a logger obtained with ``logging.getLogger("protu.x")`` instead still has its lines redacted by the formatter.
    """
    if not _configured:
        configure_logging()
    logger = logging.getLogger(name if name == _ROOT or name.startswith(_ROOT + ".") else f"{_ROOT}.{name}")
    if _REDACTING_FILTER not in logger.filters:
        logger.addFilter(_REDACTING_FILTER)
    return logger
