"""``POST /webhooks/stripe``: Stripe's events, verified over the raw body (``protu.billing.events``)."""

from __future__ import annotations

import msgspec

from protu import errors, metrics
from protu.http.routing import PUBLIC, Call, Router

router = Router("webhooks")


class Received(msgspec.Struct):
    status: str  # processed, duplicate, stale or ignored


@router.post("/webhooks/stripe", permission=PUBLIC, body=bytes, response=Received)
def stripe_event(call: Call) -> Received:
    """One Stripe event (signed with ``Stripe-Signature``)."""
    # cold start: loaded on first use
    from protu.billing import events

    try:
        outcome = events.handle(call.body, call.headers.get("stripe-signature"), call.source_ip)
    except errors.ProtuError as error:
        if error.status < 500:  # refused (signature, payload); a failure of ours is an Error, and Stripe retries
            metrics.count("WebhookEvents", Provider="stripe", Outcome="rejected")
        raise
    metrics.count("WebhookEvents", Provider="stripe", Outcome="duplicate" if outcome == "duplicate" else "accepted")
    return Received(outcome)
