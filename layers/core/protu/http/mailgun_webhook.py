"""``POST /webhooks/mailgun``: Mailgun's delivery events (billing and email issue)."""

from __future__ import annotations

from protu.http.routing import Router

router = Router("webhooks")
