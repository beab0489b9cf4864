"""What Protu remembers about Mailgun: the messages it sent (so a webhook event can be matched to the email it is
about) and the webhook requests and events it has handled (replay and duplicate protection).

Layout (data table, prefix ``MAILGUN#``: no company data, reachable before a company is known)::

    pk "MAILGUN#MSG#<message id>"           sk "MSG"     template, to (normalised address), sent_at, expires_at
    pk "MAILGUN#TOKEN#<sha256 of token>"    sk "TOKEN"   seen_at, expires_at (a day)
    pk "MAILGUN#EVENT#<event id>"           sk "EVENT"   event, processed_at, expires_at (30 days)

The message id is Mailgun's, without the angle brackets its API answers with (``<id@domain>``), because that is
how its events name it (``event-data.message.headers.message-id``). Webhook tokens are stored hashed: a token is
worthless after its first use anyway, but a table read should not hand out even that. ``expires_at`` is the
table's TTL attribute; a marker past it may linger until DynamoDB deletes it, which only refuses longer.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from protu.store.items import DataItem

MESSAGE_DAYS = 30
TOKEN_SECONDS = 24 * 3600
EVENT_DAYS = 30
MAX_MESSAGE_ID = 512
_MESSAGE_ID = re.compile(rf"[!-~]{{1,{MAX_MESSAGE_ID}}}")  # printable ASCII, no spaces (RFC 5322 msg-id)


class _MailgunItem(DataItem):
    expires_at = NumberAttribute()


class SentMessage(_MailgunItem):
    """One email Mailgun accepted from us."""

    template = UnicodeAttribute()
    to = UnicodeAttribute()
    sent_at = NumberAttribute()

    @staticmethod
    def key(message_id: str) -> tuple[str, str]:
        return f"MAILGUN#MSG#{message_id}", "MSG"


class WebhookToken(_MailgunItem):
    """A webhook signature's token that was used once (stored hashed)."""

    seen_at = NumberAttribute()

    @staticmethod
    def key(token: str) -> tuple[str, str]:
        return f"MAILGUN#TOKEN#{hashlib.sha256(token.encode()).hexdigest()}", "TOKEN"


class WebhookEvent(_MailgunItem):
    """A Mailgun event that was handled (its id is Mailgun's ``event-data.id``)."""

    event = UnicodeAttribute()
    processed_at = NumberAttribute()

    @staticmethod
    def key(event_id: str) -> tuple[str, str]:
        return f"MAILGUN#EVENT#{event_id}", "EVENT"


def message_id(value: object) -> str | None:
    """Mailgun's message id in the form events use (no angle brackets), or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    bare = value.strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    return bare if _MESSAGE_ID.fullmatch(bare) else None


def remember_sent(raw_message_id: str, template: str, to: str, *, now: float | None = None) -> bool:
    """Record a message Mailgun accepted; False (nothing written) when its id is unusable."""
    found = message_id(raw_message_id)
    if found is None:
        return False
    moment = int(time.time() if now is None else now)
    SentMessage(
        *SentMessage.key(found),
        template=template,
        to=to,
        sent_at=moment,
        expires_at=moment + MESSAGE_DAYS * 86400,
    ).save()
    return True


def sent_message(raw_message_id: object) -> dict[str, Any] | None:
    """``{"message_id", "template", "to", "sent_at"}`` of a message we sent, or None (unknown or expired)."""
    found = message_id(raw_message_id)
    if found is None:
        return None
    try:
        item = SentMessage.get(*SentMessage.key(found))
    except DoesNotExist:
        return None
    return {"message_id": found, "template": item.template, "to": item.to, "sent_at": int(item.sent_at)}


def token_marker(token: str, *, now: float | None = None) -> WebhookToken:
    """The (unsaved) marker of a used webhook token; save it under ``WebhookToken.pk.does_not_exist()``."""
    moment = int(time.time() if now is None else now)
    return WebhookToken(*WebhookToken.key(token), seen_at=moment, expires_at=moment + TOKEN_SECONDS)


def event_marker(event_id: str, event: str, *, now: float | None = None) -> WebhookEvent:
    """The (unsaved) marker of a handled event; save it under ``WebhookEvent.pk.does_not_exist()``."""
    moment = int(time.time() if now is None else now)
    return WebhookEvent(
        *WebhookEvent.key(event_id), event=event, processed_at=moment, expires_at=moment + EVENT_DAYS * 86400
    )
