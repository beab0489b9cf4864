"""``POST /webhooks/mailgun``: Mailgun's delivery events, verified and handled by ``protu.mail.events`` (signature,
timestamp, replay and duplicate protection, suppression, audit: see there).

The body is read raw (Mailgun signs only ``timestamp + token``, inside it); the answer is ``{"status": ...}``:
``processed``, ``duplicate`` or ``ignored``, each 200. A refusal is 400 (``invalid_payload``,
``invalid_signature``, ``stale_webhook``, ``replayed_webhook``).
"""

from __future__ import annotations

from protu import errors, metrics
from protu.http.routing import PUBLIC, Call, Router

router = Router("webhooks")


@router.post("/webhooks/mailgun", permission=PUBLIC, body=bytes, summary="Mailgun delivery events")
def mailgun_event(call: Call) -> dict[str, str]:
    """Verify a Mailgun webhook and act on its event (``protu.mail.events``)."""
    from protu.mail import events  # imported by the route that uses it: cold start

    try:
        outcome = events.handle(call.body, call.source_ip)
    except errors.ProtuError as error:
        if error.status < 500:  # refused; a failure of ours is an Error, and Mailgun retries
            metrics.count("WebhookEvents", Provider="mailgun", Outcome="rejected")
        raise
    metrics.count("WebhookEvents", Provider="mailgun", Outcome="duplicate" if outcome == "duplicate" else "accepted")
    return {"status": outcome}
