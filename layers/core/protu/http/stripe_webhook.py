"""``POST /webhooks/stripe``: Stripe's events (billing issue). Filled in by protu.billing."""

from __future__ import annotations

from protu.http.routing import Router

router = Router("webhooks")
