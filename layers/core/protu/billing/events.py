"""Stripe's webhook events: verified, processed once, applied newest-first, audited for the company they concern.

``handle(payload, signature)``:

1. ``stripe.WebhookSignature.verify_header`` checks ``Stripe-Signature`` over the raw body (300 s tolerance). A bad or
   missing signature is 400 ``invalid_signature`` and the ``webhook.bad_signature`` security signal; an unset
   webhook secret verifies nothing (every event is refused, and an error is logged). The tolerance holds both ways:
   ``verify_header`` refuses only a ``t=`` older than it, so a signed ``t=`` more than 300 s ahead of our clock is
   refused here the same way (a pre-signed replay, usable for as long as its date is ahead, or a clock gone wrong:
   either is for the security team to see).
2. The company: the Stripe customer's index (``STRIPE#CUSTOMER#``) or, for a checkout, the company id we put in the
   session's metadata (checked against the index when both exist). An event for no company of ours is ignored.
3. Once: the event's marker (``STRIPE#EVENT#<id>``), the state change and the ``billing.webhook`` audit event
   commit in one transaction, the marker conditioned on not existing: a redelivery answers ``duplicate`` and
   changes nothing.
4. In order: a subscription event older (Stripe's ``created``) than the newest one applied changes nothing
   (``stale``); it is still marked and audited.
Handled: ``checkout.session.completed``, ``customer.subscription.created|updated|deleted``, ``invoice.paid``,
``invoice.payment_failed`` (which also emails the owners). Anything else is ``ignored`` with 200.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pynamodb.exceptions import DoesNotExist

from protu import errors
from protu.billing import plans, stripe_api
from protu.billing.models import BillingState, StripeCustomer, StripeEvent
from protu.identity.accounts import get_company
from protu.logging import get_logger
from protu.security import signals
from protu.settings import settings
from protu.store.tx import Transaction

TOLERANCE_SECONDS = 300
EVENT_KEPT_SECONDS = 90 * 86400
SUBSCRIPTION_EVENTS = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
}
HANDLED = SUBSCRIPTION_EVENTS | {"checkout.session.completed", "invoice.paid", "invoice.payment_failed"}
_DIGITS = re.compile(r"[0-9]{1,12}")  # a Unix time in seconds, for millennia

log = get_logger(__name__)


def handle(payload: bytes, signature: str | None, source_ip: str = "") -> str:
    """Process one delivery; answers the outcome (``processed``, ``duplicate``, ``stale``, ``ignored``)."""
    event = _verified(payload, signature, source_ip)
    kind, event_id = event["type"], event["id"]
    if kind not in HANDLED:
        log.info("stripe event ignored", extra={"event_type": kind})
        return "ignored"
    if _seen(event_id):
        return "duplicate"
    obj = event["data"]["object"]
    tenant_id = _company(kind, obj)
    if tenant_id is None:
        log.warning("stripe event for no company of ours", extra={"event_type": kind, "event_id": event_id})
        return "ignored"
    outcome = _apply(tenant_id, event, obj)
    log.info("stripe event", extra={"event_type": kind, "event_id": event_id, "outcome": outcome})
    if outcome == "processed" and kind == "invoice.payment_failed":
        _tell_owners(tenant_id)
    return outcome


# ------------------------------------------------------------------------------------------------ steps
def _verified(payload: bytes, signature: str | None, source_ip: str) -> dict[str, Any]:
    # cold start: loaded on first use
    import stripe

    secret = stripe_api.keys().webhook_secret
    if not secret:
        log.error("the stripe webhook secret is not set in the StripeKeys secret: every event is refused")
        raise _bad_signature(source_ip, "no secret configured")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature or "", secret, tolerance=TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise _bad_signature(source_ip, "signature") from None
    signed_at = _signed_at(signature or "")
    if signed_at is None:
        raise _bad_signature(source_ip, "malformed header")
    ahead = signed_at - int(time.time())
    if ahead > TOLERANCE_SECONDS:
        log.warning("stripe signature dated in the future", extra={"ahead_seconds": ahead})
        raise _bad_signature(source_ip, "timestamp in the future")
    try:
        event = json.loads(payload)
        if not (
            isinstance(event, dict)
            and isinstance(event.get("id"), str)
            and isinstance(event.get("type"), str)
            and isinstance(event.get("created"), int)
            and isinstance(event.get("data"), dict)
            and isinstance(event["data"].get("object"), dict)
        ):
            raise ValueError
    except ValueError:
        raise errors.BadRequest("This is not a Stripe event.", code="invalid_payload") from None
    if len(event["id"]) > 255:
        raise errors.BadRequest("This is not a Stripe event.", code="invalid_payload")
    return event


def _signed_at(header: str) -> int | None:
    """The signed time of a ``Stripe-Signature`` header (``t=<unix seconds>,v1=<hex>[,…]``), or None when the header
    is not written as Stripe writes it.

    stripe's own parser is private (``WebhookSignature._get_timestamp_and_signatures``), and looser than Stripe's
    format: it takes the first ``t`` field through ``int()``, which also reads a sign, spaces and ``_``. Reading
    the header any differently from it could check against the clock another time than the one signed, so this
    accepts only what leaves no choice: exactly one ``t`` field, of ASCII digits. Called after ``verify_header``
    succeeded, it then names the very timestamp the signature covers."""
    values = [value for key, _, value in (item.partition("=") for item in header.split(",")) if key == "t"]
    if len(values) != 1 or not _DIGITS.fullmatch(values[0]):
        return None
    return int(values[0])


def _bad_signature(source_ip: str, why: str) -> errors.BadRequest:
    signals.raise_signal(
        "webhook.bad_signature", source_ip=source_ip or None, details={"provider": "stripe", "problem": why}
    )
    return errors.BadRequest("The Stripe signature does not verify.", code="invalid_signature")


def _seen(event_id: str) -> bool:
    try:
        StripeEvent.get(*StripeEvent.key(event_id), consistent_read=True)
        return True
    except DoesNotExist:
        return False


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _company(kind: str, obj: dict[str, Any]) -> str | None:
    customer = _text(obj.get("customer"))
    indexed = None
    if customer:
        try:
            indexed = StripeCustomer.get(*StripeCustomer.key(customer), consistent_read=True).tenant_id
        except DoesNotExist:
            indexed = None
    if kind == "checkout.session.completed":
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        named = _text(metadata.get("tenant_id")) or _text(obj.get("client_reference_id"))
        if indexed and named and indexed != named:
            log.warning("stripe checkout names another company than its customer's")
            return None
        return indexed or named
    return indexed


def _apply(tenant_id: str, event: dict[str, Any], obj: dict[str, Any]) -> str:
    kind, created = event["type"], event["created"]
    try:
        current = BillingState.get(*BillingState.key(tenant_id), consistent_read=True)
    except DoesNotExist:
        current = BillingState(*BillingState.key(tenant_id))
    except ValueError:  # not a company id at all (metadata we did not write)
        return "ignored"
    actions, outcome, details = _changes(kind, created, obj, current)
    marker = StripeEvent(
        *StripeEvent.key(event["id"]),
        type=kind,
        tenant_id=tenant_id,
        outcome=outcome,
        processed_at=int(time.time()),
        expires_at=int(time.time()) + EVENT_KEPT_SECONDS,
    )
    unchanged = BillingState.version.does_not_exist() | (BillingState.version == int(current.version or 0))
    try:
        with Transaction(tenant_id, actor="stripe") as tx:
            tx.save(marker, condition=StripeEvent.pk.does_not_exist(), unscoped=True)
            if actions:
                tx.update(current, [*actions, BillingState.version.add(1)], condition=unchanged)
            tx.audit(
                "billing.webhook",
                f"stripe_event:{event['id']}",
                details={"type": kind, "outcome": outcome, **details},
            )
    except errors.Conflict:
        if _seen(event["id"]):
            return "duplicate"
        raise errors.ServiceUnavailable("Another event for this company is being processed; retry.") from None
    return outcome


def _changes(kind: str, created: int, obj: dict[str, Any], current: BillingState) -> tuple[list, str, dict]:
    """The state updates an event makes, its outcome and what the audit event says about it."""
    if kind in SUBSCRIPTION_EVENTS:
        if created < int(current.stripe_updated or 0):
            return [], "stale", {"newest_applied": int(current.stripe_updated)}
        status = "canceled" if kind == "customer.subscription.deleted" else _text(obj.get("status")) or "incomplete"
        plan = plans.plan_of_price(_price(obj)) or _text((obj.get("metadata") or {}).get("plan"))
        plan = plan if plan in plans.PAID else current.plan
        actions = [
            BillingState.subscription_id.set(_text(obj.get("id"))),
            BillingState.status.set(status),
            BillingState.plan.set(plan) if plan else BillingState.plan.remove(),
            BillingState.cancel_at_period_end.set(bool(obj.get("cancel_at_period_end"))),
            BillingState.stripe_updated.set(created),
        ]
        period_end = _period_end(obj)
        actions.append(
            BillingState.current_period_end.set(period_end) if period_end else BillingState.current_period_end.remove()
        )
        if not current.customer_id and _text(obj.get("customer")):
            actions.append(BillingState.customer_id.set(obj["customer"]))
        return actions, "processed", {"status": status, "plan": plan}
    if kind == "checkout.session.completed":
        actions = []
        if not current.customer_id and _text(obj.get("customer")):
            actions.append(BillingState.customer_id.set(obj["customer"]))
        if not current.subscription_id and _text(obj.get("subscription")):
            actions.append(BillingState.subscription_id.set(obj["subscription"]))
        return actions, "processed", {}
    if kind == "invoice.paid":
        return [BillingState.payment_failed_at.remove()], "processed", {}
    # invoice.payment_failed
    return [BillingState.payment_failed_at.set(created)], "processed", {}


def _first_item(obj: dict[str, Any]) -> dict[str, Any]:
    """The subscription's first item (a subscription to one plan has one)."""
    items = obj.get("items").get("data") if isinstance(obj.get("items"), dict) else None
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def _price(obj: dict[str, Any]) -> str | None:
    price = _first_item(obj).get("price")
    return _text(price.get("id")) if isinstance(price, dict) else _text(price)


def _period_end(obj: dict[str, Any]) -> int | None:
    """``current_period_end``: on the subscription in older API versions, on its items in newer ones."""
    value = obj.get("current_period_end")
    if not isinstance(value, int):
        value = _first_item(obj).get("current_period_end")
    return value if isinstance(value, int) and value > 0 else None


def _tell_owners(tenant_id: str) -> None:
    """Email every owner that a payment failed (after the commit; a mail failure is logged, not retried by Stripe)."""
    # cold start: loaded on first use
    from protu.identity.users import list_users
    from protu.mail.client import send

    company = get_company(tenant_id)
    for user in list_users(tenant_id):
        if user.role == "owner" and user.status == "active":
            try:
                send("payment_failed", user.email, company=company.name, link=f"{settings().app_origin}/billing")
            except errors.ProtuError as error:
                log.warning("payment-failed email not sent", extra={"error_code": error.code})
