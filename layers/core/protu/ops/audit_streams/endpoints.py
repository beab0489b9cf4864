"""What owners do with their company's audit streams: add, list, remove, rotate a secret, resume, test.

Every change is one ``Transaction`` with its audit event (``audit_stream.created``, ``.deleted``,
``.secret_rotated``, ``.resumed``, ``.tested``); events name the endpoint and its host, never the secret, the full
address or its query string. Adding an endpoint, rotating its secret and resuming it need a recent sign-in (the
endpoint sends the whole audit log outside), and adding or removing one emails every owner of the company, so a
stolen session cannot quietly send the log elsewhere.

The secret (``whsec_`` + base64 of 32 random bytes) is answered once, at creation and at each rotation; it is kept
only sealed with the company's key, together with the full address (``protu.crypto``: entity ``audit_stream``,
fields ``secret`` and ``url``), and the answers show the address with its query string hidden (it may hold a
credential of the SIEM).
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from protu import crypto, errors
from protu.audit.chain import HEAD_SK
from protu.audit.models import AuditHead, chain_pk
from protu.logging import get_logger
from protu.ops.audit_streams import model, transport, urls
from protu.ops.audit_streams.model import AuditStream, StreamCount
from protu.principal import Principal
from protu.store.tx import Transaction

log = get_logger(__name__)

TEST_LIMIT, TEST_WINDOW = 10, 3600  # test pings per endpoint
TEST_TIMEOUT = (3.0, 8.0)  # inside an API request (15 s in all): shorter than a delivery's
_ID = re.compile(r"ast-[0-9a-f]{20}")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def target(stream_id: str) -> str:
    return f"audit_stream:{stream_id}"


# ------------------------------------------------------------------------------------------------ reading
def list_for(tenant_id: str) -> list[AuditStream]:
    """The company's endpoints, oldest first."""
    found = AuditStream.query(
        AuditStream.partition(tenant_id), AuditStream.sk.startswith(model.PREFIX), consistent_read=True
    )
    return sorted(found, key=lambda item: (int(item.created_at), item.id))


def get(tenant_id: str, stream_id: str) -> AuditStream:
    """One of the company's endpoints; 404 for any other id (another company's is the same as none)."""
    if not isinstance(stream_id, str) or not _ID.fullmatch(stream_id):
        raise _missing()
    try:
        return AuditStream.get(AuditStream.partition(tenant_id), model.PREFIX + stream_id, consistent_read=True)
    except AuditStream.DoesNotExist:
        raise _missing() from None


def opened(item: AuditStream) -> tuple[str, str]:
    """The endpoint's secret and full address (decrypted with the company's key)."""
    fields = crypto.decrypt_fields(item.tenant_id, model.ENTITY, item.id, bytes(item.sealed), model.SEALED)
    return fields["secret"], fields["url"]


def _missing() -> errors.NotFound:
    return errors.NotFound("No such audit stream.")


def _seal(tenant_id: str, stream_id: str, secret: str, url: str) -> bytes:
    return crypto.encrypt_fields(tenant_id, model.ENTITY, stream_id, {"secret": secret, "url": url})


def head_seq(tenant_id: str) -> int:
    """The company's newest audit event (0 before its first)."""
    try:
        return int(AuditHead.get(chain_pk(tenant_id), HEAD_SK, consistent_read=True).seq)
    except AuditHead.DoesNotExist:
        return 0


# ------------------------------------------------------------------------------------------------ changes
def create(principal: Principal, url: str, description: str = "") -> tuple[AuditStream, str]:
    """Add an endpoint (recent sign-in; at most ``MAX_ENDPOINTS``); answers it and its secret (shown once). It
    receives the events from now on, starting with its own ``audit_stream.created`` (history is what the audit
    export is for)."""
    # cold start: loaded on first use
    from protu.identity import reauth

    reauth.require_recent_auth(principal)
    checked = urls.check(url)
    description = _description(description)
    tenant_id = principal.tenant_id
    stream_id = model.ID_PREFIX + secrets.token_hex(10)
    secret = new_secret()
    now = int(model.clock())
    item = AuditStream(
        AuditStream.partition(tenant_id),
        model.PREFIX + stream_id,
        id=stream_id,
        tenant_id=tenant_id,
        url=checked.shown,
        host=checked.host,
        description=description,
        status=model.ACTIVE,
        created_by=principal.user_id,
        created_at=now,
        delivered_seq=head_seq(tenant_id),
        attempts=0,
        secret_version=1,
        kicks=0,
        sealed=_seal(tenant_id, stream_id, secret, checked.url),
    )
    counter = StreamCount.keyed(tenant_id)
    try:
        with Transaction(tenant_id, actor=principal.user_id) as tx:
            tx.update(
                counter,
                [StreamCount.count.add(1)],
                condition=StreamCount.count.does_not_exist() | (StreamCount.count < model.MAX_ENDPOINTS),
            )
            tx.save(item, condition=AuditStream.pk.does_not_exist())
            tx.audit("audit_stream.created", target(stream_id), details={"host": checked.host})
    except errors.Conflict:
        raise errors.Conflict(
            f"A company has at most {model.MAX_ENDPOINTS} audit streams. Remove one first.",
            code="audit_stream_limit_reached",
        ) from None
    log.info("audit stream created", extra={"tenant": tenant_id, "stream": stream_id, "host": checked.host})
    tell_owners(tenant_id, "audit_stream_added", host=checked.host, by=_who(tenant_id, principal.user_id))
    return item, secret


def delete(principal: Principal, stream_id: str) -> None:
    """Remove an endpoint: nothing more is sent to it. Every owner is emailed."""
    item = get(principal.tenant_id, stream_id)
    try:
        with Transaction(principal.tenant_id, actor=principal.user_id) as tx:
            tx.delete(item, condition=AuditStream.pk.exists())
            tx.update(StreamCount.keyed(principal.tenant_id), [StreamCount.count.add(-1)])
            tx.audit("audit_stream.deleted", target(stream_id), details={"host": item.host})
    except errors.Conflict:
        raise _missing() from None
    log.info("audit stream deleted", extra={"tenant": principal.tenant_id, "stream": stream_id, "host": item.host})
    tell_owners(
        principal.tenant_id, "audit_stream_removed", host=item.host, by=_who(principal.tenant_id, principal.user_id)
    )


def rotate_secret(principal: Principal, stream_id: str) -> tuple[AuditStream, str]:
    """A new secret (recent sign-in), answered once; the old one signs nothing more. A delivery run under way stops
    (it loses its lease) and the next one signs with the new secret."""
    # cold start: loaded on first use
    from protu.identity import reauth

    reauth.require_recent_auth(principal)
    item = get(principal.tenant_id, stream_id)
    _, url = opened(item)
    secret = new_secret()
    now = int(model.clock())
    actions = [
        AuditStream.sealed.set(_seal(item.tenant_id, item.id, secret, url)),
        AuditStream.secret_version.add(1),
        AuditStream.lease_until.remove(),
    ]
    if item.status != model.FAILED:
        actions += [
            AuditStream.gsi1pk.set(model.DUE),
            AuditStream.gsi1sk.set(model.due_key(now, item.tenant_id, item.id)),
        ]
    with Transaction(principal.tenant_id, actor=principal.user_id) as tx:
        tx.update(item, actions, condition=AuditStream.secret_version == item.secret_version)
        tx.audit("audit_stream.secret_rotated", target(stream_id), details={"host": item.host})
    return get(principal.tenant_id, stream_id), secret


def resume(principal: Principal, stream_id: str) -> AuditStream:
    """A failed (or failing) endpoint becomes active again and continues from the first event it did not accept
    (``delivered_seq + 1``): nothing is skipped. Recent sign-in."""
    # cold start: loaded on first use
    from protu.identity import reauth

    reauth.require_recent_auth(principal)
    item = get(principal.tenant_id, stream_id)
    if item.status == model.ACTIVE:
        raise errors.Conflict("This audit stream is not failing.", code="audit_stream_active")
    now = int(model.clock())
    with Transaction(principal.tenant_id, actor=principal.user_id) as tx:
        tx.update(
            item,
            [
                AuditStream.status.set(model.ACTIVE),
                AuditStream.attempts.set(0),
                AuditStream.failing_since.remove(),
                AuditStream.next_attempt_at.remove(),
                AuditStream.last_error.remove(),
                AuditStream.gsi1pk.set(model.DUE),
                AuditStream.gsi1sk.set(model.due_key(now, item.tenant_id, item.id)),
            ],
            condition=AuditStream.status == item.status,
        )
        tx.audit(
            "audit_stream.resumed",
            target(stream_id),
            details={"host": item.host, "from_seq": int(item.delivered_seq) + 1, "was": item.status},
        )
    return get(principal.tenant_id, stream_id)


def test(principal: Principal, stream_id: str) -> transport.Outcome:
    """Send a signed ping now and say what came of it (``TEST_LIMIT`` an hour per endpoint; audited). It changes
    nothing of the endpoint's state: events keep their order."""
    # cold start: loaded on first use
    from protu.audit.chain import canonical_json, stored_time
    from protu.security import ratelimit

    item = get(principal.tenant_id, stream_id)
    decision = ratelimit.hit("audit-stream-test", item.id, limit=TEST_LIMIT, window_seconds=TEST_WINDOW)
    if not decision.allowed:
        raise errors.RateLimited(
            f"At most {TEST_LIMIT} tests an hour per audit stream.",
            headers={"Retry-After": str(decision.retry_after)},
        )
    secret, url = opened(item)
    now = int(model.clock())
    body = canonical_json(
        {
            "type": "ping",
            "timestamp": stored_time(datetime.fromtimestamp(now, UTC)),
            "data": {"company": item.tenant_id, "stream_id": item.id, "message": "A test from Protu."},
        }
    ).encode("utf-8")
    try:
        checked = urls.check(url)
    except errors.ValidationFailed:  # an address allowed when it was added (the local receiver) but not now
        outcome = transport.Outcome(False, error="address_not_allowed")
    else:
        with transport.Sender(checked, timeout=TEST_TIMEOUT) as sender:
            outcome = sender.post(secret, f"{item.tenant_id}:ping:{secrets.token_hex(8)}", now, body)
    details: dict[str, Any] = {"host": item.host, "delivered": outcome.delivered}
    if outcome.status_code is not None:
        details["status_code"] = outcome.status_code
    if outcome.error is not None:
        details["error"] = outcome.error
    with Transaction(principal.tenant_id, actor=principal.user_id) as tx:
        tx.audit("audit_stream.tested", target(stream_id), details=details)
    return outcome


# ------------------------------------------------------------------------------------------------ helpers
def _description(value: str) -> str:
    text = " ".join((value or "").split())
    if len(text) > 200:
        raise errors.ValidationFailed("The description is at most 200 characters.", details={"field": "description"})
    return text


def _who(tenant_id: str, user_id: str) -> str:
    # cold start: loaded on first use
    from protu.identity.users import list_users

    for user in list_users(tenant_id):
        if user.id == user_id:
            return user.email
    return user_id


def tell_owners(tenant_id: str, template: str, **context: Any) -> int:
    """Email every active owner of the company (after the change committed); a mail that cannot be sent is logged,
    not retried. Answers how many were sent."""
    # cold start: loaded on first use
    from protu.identity import company_settings
    from protu.identity.users import list_users
    from protu.mail.client import send

    company = company_settings.get(tenant_id).name
    sent = 0
    for user in list_users(tenant_id):
        if user.role != "owner" or user.status != "active":
            continue
        try:
            send(template, user.email, company=company, **context)
            sent += 1
        except errors.ProtuError as error:
            log.warning("audit stream email not sent", extra={"template": template, "error_code": error.code})
    return sent
