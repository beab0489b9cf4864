"""Stripe and Mailgun webhooks: a Chalice app of its own, no session auth (handler ``webhooks.app``).

Its providers' routes arrive with the billing and email issue; until then every path answers a JSON 404.
"""

from protu.http.app import ProtuApp
from protu.observability import init_sentry

init_sentry()
app = ProtuApp("protu-webhooks")
