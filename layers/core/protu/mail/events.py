"""Mailgun's delivery events (delivered, failed, complained, unsubscribed): verified, handled once, audited for the
company of the recipient's account. The route is ``POST /webhooks/mailgun`` (``protu.http.mailgun_webhook``).

Mailgun posts JSON ``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}`` and signs nothing
but ``timestamp + token``: ``signature`` is the hex HMAC-SHA256 of that string under the webhook signing key (the
``MailgunKeys`` secret). ``handle(payload, source_ip)`` takes a request in this order, and refuses it at the first
step that fails:

1. the body parses (the signature block strictly; unknown fields are ignored for forward compatibility) — else
   400 ``invalid_payload``;
2. the signature verifies (``hmac.compare_digest``) — else 400 ``invalid_signature`` and a
   ``webhook.bad_signature`` security signal. An empty signing key (as provisioned, until the operator sets it)
   verifies nothing: every webhook is refused the same way, with an error log line at most every 5 minutes;
3. the timestamp is within ``MAX_SKEW_SECONDS`` of now, either way — else 400 ``stale_webhook``;
4. the event data is one we understand (id, type; a recipient address for the types we act on) — else 400
   ``invalid_payload``;
5. the token was never used before and the event id never handled before. Both markers (``protu.mail.records``),
   the suppression entry and the audit event are ONE DynamoDB transaction: everything happens or nothing does, so
   a failure (503) leaves nothing half-done and Mailgun's retry (signed afresh) is handled in full. When the
   transaction is refused, the token alone is claimed: already used → 400 ``replayed_webhook``; otherwise the
   event is a duplicate → ``duplicate`` and nothing changes.

Events: ``delivered`` and a temporary ``failed`` are audited only; a permanent ``failed`` (severity
``permanent``), ``complained`` and ``unsubscribed`` put the address on the suppression list
(``protu.mail.suppression``: bounced, complained, unsubscribed) and are audited; other types are ``ignored``.
The audit event goes to the company of the recipient's account (found through the ``EMAIL#`` index, without
reading company items): action ``email.<event>``, target ``user:<id>``, actor ``mailgun``, details naming the
event id, the template (from the message record, when known), severity and reason, and the recipient's domain —
never the address or the message. An address without an account is still suppressed, without an audit event. A
request touches at most that one company.

Each webhook makes one log line (``mailgun webhook``) with its outcome, the event type and id: never the token,
the signature or the address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Annotated, Any

import msgspec
from pynamodb.exceptions import PutError, TransactWriteError

from protu import caches, errors
from protu.identity.accounts import email_owner
from protu.logging import get_logger
from protu.mail import client, records, suppression
from protu.mail.client import _address  # the mailer's own rule for one bare address
from protu.security import signals
from protu.store import dynamo
from protu.store.tx import Transaction

log = get_logger(__name__)

MAX_SKEW_SECONDS = 300
UNSET_KEY_LOG_SECONDS = 300  # how often a missing signing key is logged as an error at most
ACTOR = "mailgun"

#: The event types acted on, and the suppression reason each one brings (``failed`` only when permanent).
SUPPRESSES: dict[str, str | None] = {
    "delivered": None,
    "failed": "bounced",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
}

_now = time.time  # seam for tests
_unset_key_logged_at: float | None = None  # when this process last logged the missing signing key
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # severity and reason values copied into the audit event


@caches.register
def _forget_unset_key_log() -> None:
    """A new process logs the missing signing key again at once."""
    global _unset_key_logged_at
    _unset_key_logged_at = None


# --------------------------------------------------------------------------------------------- the body
class _Signature(msgspec.Struct):
    timestamp: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,12}$")] | Annotated[int, msgspec.Meta(ge=0, le=10**12)]
    token: Annotated[str, msgspec.Meta(pattern=r"^[!-~]{16,256}$")]
    signature: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]


class _Envelope(msgspec.Struct):
    signature: _Signature
    event_data: msgspec.Raw = msgspec.field(name="event-data")


class _Headers(msgspec.Struct):
    message_id: Annotated[str, msgspec.Meta(max_length=998)] | None = msgspec.field(name="message-id", default=None)


class _Message(msgspec.Struct):
    headers: _Headers | None = None


class _Event(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:=+/-]{1,128}$")]
    event: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    recipient: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    severity: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    message: _Message | None = None


def _invalid_payload(error: Exception | None = None) -> errors.BadRequest:
    where = None
    if isinstance(error, msgspec.ValidationError) and " - at `" in str(error):
        where = {"field": str(error).rsplit(" - at `", 1)[1].rstrip("`").removeprefix("$").removeprefix(".")}
    return errors.BadRequest("The body is not a Mailgun webhook event.", code="invalid_payload", details=where)


def _decode(raw: bytes, schema: type) -> Any:
    if not raw:
        raise _invalid_payload()
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError) as error:
        raise _invalid_payload(error) from None


# --------------------------------------------------------------------------------------------- handling
def handle(payload: bytes, source_ip: str = "") -> str:
    """Verify one webhook request and act on its event (see the module doc); answers the outcome (``processed``,
    ``duplicate``, ``ignored``) and logs it. A refusal raises (``errors.BadRequest``), logged as ``refused``."""
    facts: dict[str, Any] = {"provider": "mailgun"}
    try:
        outcome = _handle(payload, source_ip, facts)
    except errors.ProtuError as error:
        log.warning(
            "mailgun webhook",
            extra={**facts, "outcome": "refused", "error_code": error.code, "http_status": error.status},
        )
        raise
    except Exception as error:
        log.warning("mailgun webhook", extra={**facts, "outcome": "failed", "error_type": type(error).__name__})
        raise
    log.info("mailgun webhook", extra={**facts, "outcome": outcome})
    return outcome


def _handle(payload: bytes, source_ip: str, facts: dict[str, Any]) -> str:
    envelope = _decode(payload, _Envelope)
    signed = envelope.signature
    timestamp = str(signed.timestamp)
    _verify(timestamp, signed.token, signed.signature, source_ip)
    if abs(_now() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise errors.BadRequest("The webhook's timestamp is too far from now.", code="stale_webhook")
    event = _decode(bytes(envelope.event_data), _Event)
    facts.update(event=event.event, event_id=event.id)

    if event.event not in SUPPRESSES:
        _claim_token(signed.token)
        return "ignored"
    recipient = _recipient(event.recipient)
    facts["recipient_domain"] = recipient.rpartition("@")[2]
    reason = SUPPRESSES[event.event]
    if event.event == "failed" and event.severity != "permanent":
        reason = None
    return _apply(event, recipient, reason, signed.token, facts)


def _verify(timestamp: str, token: str, signature: str, source_ip: str) -> None:
    """Mailgun's scheme: hex HMAC-SHA256 of ``timestamp + token`` under the webhook signing key."""
    key = client.mailgun_keys().webhook_signing_key
    refused = errors.BadRequest("The webhook signature does not verify.", code="invalid_signature")
    if not key:
        _log_unset_key()
        raise refused
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        _bad_signature(source_ip)
        raise refused


def _log_unset_key() -> None:
    global _unset_key_logged_at
    now = time.monotonic()
    if _unset_key_logged_at is None or now - _unset_key_logged_at >= UNSET_KEY_LOG_SECONDS:
        _unset_key_logged_at = now
        log.error("mailgun webhook signing key not configured: every webhook is refused")


def _bad_signature(source_ip: str) -> None:
    try:
        signals.raise_signal("webhook.bad_signature", source_ip=source_ip or None, details={"provider": "mailgun"})
    except Exception as error:  # noqa: BLE001 - the refusal stands even when the signal cannot be stored
        log.warning("security signal not stored", extra={"error_type": type(error).__name__})


def _recipient(value: str | None) -> str:
    try:
        return suppression.normalise(_address(value or ""))
    except ValueError:
        raise _invalid_payload() from None


# --------------------------------------------------------------------------------------------- acting
def _apply(event: _Event, recipient: str, reason: str | None, token: str, facts: dict[str, Any]) -> str:
    """Write the markers, the suppression entry and the audit event in one transaction (see the module doc)."""
    owner = email_owner(recipient)
    message_id = event.message.headers.message_id if event.message and event.message.headers else None
    sent = records.sent_message(message_id) if message_id else None
    writes: list[tuple[Any, Any]] = [
        (records.token_marker(token), records.WebhookToken.pk.does_not_exist()),
        (records.event_marker(event.id, event.event), records.WebhookEvent.pk.does_not_exist()),
    ]
    if reason:
        writes.append((suppression.entry(recipient, reason, event.id), None))
    try:
        if owner is None:
            _write_unaudited(writes)
        else:
            facts["tenant"] = owner.tenant_id
            _write_audited(owner, writes, event, recipient, reason, sent)
    except errors.Conflict:
        _claim_token(token)  # a replayed request is refused; a new request for a handled event is a duplicate
        return "duplicate"
    if reason:
        facts["suppressed"] = reason
    return "processed"


def _write_audited(owner: Any, writes: list, event: _Event, recipient: str, reason: str | None, sent: Any) -> None:
    details: dict[str, Any] = {
        "event_id": event.id,
        "template": sent["template"] if sent else None,
        "recipient_domain": recipient.rpartition("@")[2],
    }
    for name in ("severity", "reason"):
        value = getattr(event, name)
        if value:
            details[name] = value if _LABEL.fullmatch(value) else "other"
    if reason:
        details["suppressed"] = reason
    with Transaction(owner.tenant_id, actor=ACTOR) as tx:
        for item, condition in writes:
            tx.save(item, condition=condition, unscoped=True)
        tx.audit(f"email.{event.event}", f"user:{owner.user_id}", details=details)


def _write_unaudited(writes: list) -> None:
    """The same writes for an address without an account (nothing to audit): one transaction too. A marker that
    exists already is ``errors.Conflict``, as ``Transaction`` says it."""
    try:
        with dynamo.write_transaction() as tw:
            for item, condition in writes:
                tw.save(item, condition)
    except TransactWriteError as error:
        cancelled = dynamo.cancellation(error)
        if cancelled is not None and cancelled.failed_conditions:
            raise errors.Conflict() from error
        raise


def _claim_token(token: str) -> None:
    """Use the signature's token once; a token seen before is a replay (400 ``replayed_webhook``)."""
    try:
        records.token_marker(token).save(condition=records.WebhookToken.pk.does_not_exist())
    except PutError as error:
        if dynamo.condition_failed(error):
            raise errors.BadRequest("This webhook was already received.", code="replayed_webhook") from None
        raise
