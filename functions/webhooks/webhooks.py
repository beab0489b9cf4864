"""Stripe and Mailgun webhooks: a Chalice app of its own, no session auth (handler ``webhooks.app``).

Each provider's route verifies its own signature over the raw body before reading anything in it.
"""

from protu.http import mailgun_webhook, stripe_webhook
from protu.http.app import ProtuApp
from protu.http.routing import install
from protu.observability import init_sentry

init_sentry("webhooks")
app = ProtuApp("protu-webhooks")
install(app, stripe_webhook.router, mailgun_webhook.router)
