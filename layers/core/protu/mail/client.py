"""The Mailgun client: one POST to ``{MAILGUN_API_BASE}/{MAILGUN_DOMAIN}/messages`` per email.

* Keys: the ``MailgunKeys`` secret (``MAILGUN_SECRET_ID``, JSON ``{"api_key", "webhook_signing_key"}``) is read
  from Secrets Manager and cached in memory for ``KEY_CACHE_SECONDS``. A 401 re-reads it once, so a key the
  operator rotated is picked up at once rather than after the cache expires.
* Transport: ``requests`` (imported on first send: most invocations send no email), HTTP basic auth
  ``("api", key)``, form fields, connect timeout 3 s and read timeout 10 s, no redirects. The API base must be
  HTTPS; plain HTTP is accepted only on the loopback address (the local server's Mailgun stand-in).
* Tracking is off (``o:tracking``, ``o:tracking-clicks``, ``o:tracking-opens``): click tracking would rewrite
  sign-in links through Mailgun's redirect host, and security email is not marketing.
* Retries: connection errors, timeouts, 429 and 5xx are tried ``ATTEMPTS`` times in all, waiting
  ``BASE_DELAY * 2**n`` plus jitter, or the answer's ``Retry-After`` (seconds) when it gives one. Everything together
  stays within ``DEADLINE`` seconds (the functions time out at 15 s); past it, or when a ``Retry-After`` asks for
  more than ``MAX_DELAY``, ``ServiceUnavailable(code="mail_unavailable")`` is raised. A read timeout is retried
  too: a duplicate security email is better than a lost one.
* Any other answer (400, 401 after the re-read, 403, 404, a redirect...) is not retried: ``MailRejected`` (502).
* Suppression: an address on the suppression list (``suppression.py``: it bounced for good, complained or
  unsubscribed) is not sent to; ``send`` logs ``mail suppressed`` and returns an empty message id. If the list
  cannot be read, the mail goes out (Mailgun drops mail to its own suppressed addresses anyway).
* Records: each message Mailgun accepted is recorded under its id (``records.py``, 30 days), so the webhook can
  tell which template an event is about. A failed record is logged and does not fail the send.
* Logs carry the template name, the recipient's domain, the attempt count, the HTTP status and Mailgun's message
  id: never the address, the subject, the body, a link or a key.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec

from protu import aws, caches
from protu.errors import ProtuError, ServiceUnavailable
from protu.logging import get_logger
from protu.mail.templates import render
from protu.schemas import MAILBOX
from protu.settings import settings

ATTEMPTS = 3
BASE_DELAY = 0.25  # seconds before the second attempt; doubled for each further one
MAX_DELAY = 5.0  # the longest single wait accepted, Retry-After included
DEADLINE = 12.0  # seconds for all attempts and waits together
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 10.0
KEY_CACHE_SECONDS = 300
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_ADDRESS = re.compile(MAILBOX)  # the API schema's address rule (protu.schemas.Email): one rule, no drift
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")

# Seams for tests: waiting and the clock.
_sleep = time.sleep
_clock = time.monotonic

log = get_logger(__name__)


class MailRejected(ProtuError):
    """Mailgun refused the message for a reason retrying cannot fix (bad request, wrong key, unknown domain)."""

    status, code, message = 502, "mail_rejected", "The email could not be sent."

    def __init__(self, mailgun_status: int) -> None:
        super().__init__()
        self.mailgun_status = mailgun_status


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("Email could not be sent right now. Try again in a moment.", code="mail_unavailable")


# --------------------------------------------------------------------------------------------- keys
class MailgunKeys(msgspec.Struct, frozen=True):
    api_key: str
    webhook_signing_key: str

    def __repr__(self) -> str:  # never the keys themselves (logs, tracebacks)
        return "MailgunKeys(...)"


_lock = threading.Lock()
_keys: dict[str, tuple[float, MailgunKeys]] = {}  # secret id -> (expires at, keys)


def mailgun_keys(*, fresh: bool = False) -> MailgunKeys:
    """The Mailgun keys from Secrets Manager, cached for ``KEY_CACHE_SECONDS`` (``fresh`` reads them again)."""
    secret_id = settings().mailgun_secret_id
    now = _clock()
    with _lock:
        cached = _keys.get(secret_id)
    if cached and not fresh and cached[0] > now:
        return cached[1]
    keys = _read_keys(secret_id)
    with _lock:
        _keys[secret_id] = (now + KEY_CACHE_SECONDS, keys)
    return keys


@caches.register
def _forget_keys() -> None:
    """Drop the cached keys (after the secret changed on purpose)."""
    with _lock:
        _keys.clear()


def webhook_signing_key() -> str:
    """The key Mailgun signs its webhooks with. An unset (empty) key verifies nothing: it raises instead."""
    key = mailgun_keys().webhook_signing_key
    if not key:
        log.error("mailgun webhook signing key is not set in the MailgunKeys secret")
        raise _unavailable()
    return key


def _read_keys(secret_id: str) -> MailgunKeys:
    # cold start: loaded on first use
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        raw = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError) as exc:
        log.error("mailgun keys could not be read", extra={"aws_error": type(exc).__name__})
        raise _unavailable() from None
    try:
        body = json.loads(raw)
        return MailgunKeys(str(body.get("api_key") or ""), str(body.get("webhook_signing_key") or ""))
    except (ValueError, AttributeError):
        log.error("the MailgunKeys secret is not a JSON object {api_key, webhook_signing_key}")
        raise _unavailable() from None


# --------------------------------------------------------------------------------------------- sending
def send(template: str, to: str, *, reply_to: str | None = None, **context: Any) -> str:
    """Render ``template`` with ``context`` and send it to ``to``; returns Mailgun's message id, or ``""`` when
    ``to`` is on the suppression list (nothing is sent).

    ``ValueError`` for an unknown template, bad context or a malformed address (programming errors);
    ``MailRejected`` when Mailgun refuses the message; ``ServiceUnavailable`` (``mail_unavailable``) when Mailgun
    or the keys cannot be reached in time.
    """
    mail = render(template, **context)
    current = settings()
    form = {
        "from": current.mail_from,
        "to": _address(to),
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "o:tag": template,
        "o:tracking": "no",
        "o:tracking-clicks": "no",
        "o:tracking-opens": "no",
        "h:Auto-Submitted": "auto-generated",  # RFC 3834: no out-of-office replies
    }
    if reply_to is not None:
        form["h:Reply-To"] = _address(reply_to)
    facts = {"template": template, "recipient_domain": to.rpartition("@")[2].lower()}
    url = _messages_url(current.mailgun_api_base, current.mailgun_domain)
    if _suppressed(to, facts):
        return ""
    message_id = _post(url, form, facts)
    _remember(message_id, template, to, facts)
    return message_id


def _suppressed(to: str, facts: dict[str, Any]) -> bool:
    """Whether ``to`` is on the suppression list (then nothing is sent). When the list cannot be read the mail goes
    out: Mailgun keeps its own bounce, complaint and unsubscribe lists and drops such mail itself, whereas a lost
    security email cannot be recovered."""
    # cold start: loaded on first use
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    # cold start: loaded on first use
    from protu.mail import suppression

    try:
        found = suppression.find(to)
    except (BotoCoreError, ClientError, PynamoDBException, ServiceUnavailable) as exc:
        log.warning("mail suppression list unavailable; sending", extra={**facts, "error_type": type(exc).__name__})
        return False
    if found is None:
        return False
    log.warning("mail suppressed", extra={**facts, "reason": found["reason"]})
    return True


def _remember(message_id: str, template: str, to: str, facts: dict[str, Any]) -> None:
    """Record the message id for the webhook to match; a failure is logged and does not fail the send."""
    # cold start: loaded on first use
    from protu.mail import records, suppression

    if not message_id:
        return
    try:
        records.remember_sent(message_id, template, suppression.normalise(to))
    except Exception as exc:  # noqa: BLE001 - the mail is sent; only its record is missing
        log.warning(
            "mail record not saved", extra={**facts, "message_id": message_id, "error_type": type(exc).__name__}
        )


def _address(value: str) -> str:
    """One bare address: no display name, no list (Mailgun would send to every address of ``a@x, b@y``)."""
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.fullmatch(value):
        raise ValueError("not a single email address")
    return value


def _messages_url(base: str, domain: str) -> str:
    parts = urlsplit(base)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)) or not parts.netloc:
        raise ValueError("MAILGUN_API_BASE must be an https URL (plain http only on the loopback address)")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("MAILGUN_DOMAIN is not a domain name")
    return f"{base.rstrip('/')}/{domain}/messages"


def _post(url: str, form: dict[str, str], facts: dict[str, Any]) -> str:
    # cold start: loaded on first use
    import requests

    key = mailgun_keys().api_key
    if not key:
        log.error("mailgun api key is not set in the MailgunKeys secret", extra=facts)
        raise _unavailable()
    started, attempt, key_reread = _clock(), 0, False
    while True:
        attempt += 1
        remaining = DEADLINE - (_clock() - started)
        timeout = (CONNECT_TIMEOUT, max(1.0, min(READ_TIMEOUT, remaining)))
        try:
            response = requests.post(url, data=form, auth=("api", key), timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:  # connection refused or reset, DNS, connect or read timeout
            failure, wait = type(exc).__name__, None
        else:
            status = response.status_code
            if 200 <= status < 300:
                message_id = _message_id(response)
                log.info("mail sent", extra={**facts, "message_id": message_id, "attempts": attempt})
                return message_id
            if status == 401 and not key_reread:
                key_reread = True
                fresh = mailgun_keys(fresh=True).api_key
                if fresh and fresh != key:  # rotated since we cached it: try the new key (not a retry)
                    key, attempt = fresh, attempt - 1
                    continue
            if status != 429 and status < 500:
                log.error("mail rejected by mailgun", extra={**facts, "http_status": status, "attempts": attempt})
                raise MailRejected(status)
            failure, wait = f"HTTP {status}", _retry_after(response)
        delay = _backoff(attempt) if wait is None else wait
        if attempt >= ATTEMPTS or delay > MAX_DELAY or (_clock() - started) + delay >= DEADLINE:
            log.error("mail not sent: mailgun unavailable", extra={**facts, "failure": failure, "attempts": attempt})
            raise _unavailable()
        log.warning("mail retry", extra={**facts, "failure": failure, "attempt": attempt, "delay": round(delay, 3)})
        _sleep(delay)


def _backoff(attempt: int) -> float:
    return BASE_DELAY * 2 ** (attempt - 1) + random.uniform(0, BASE_DELAY / 2)  # noqa: S311 - jitter, not crypto


def _retry_after(response: Any) -> float | None:
    """``Retry-After`` in seconds; an HTTP date or garbage counts as absent (the backoff applies)."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _message_id(response: Any) -> str:
    try:
        return str(response.json().get("id") or "")
    except (ValueError, AttributeError):
        return ""
