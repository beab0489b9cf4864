"""Billing routes (Owner only: the ``billing`` permission): the plan and its limits, and the way to Stripe.

``GET /api/billing`` answers the billing page; ``POST /api/billing/checkout`` ``{plan}`` and ``POST
/api/billing/portal`` answer the URL of a Stripe-hosted page the SPA sends the owner to. The subscription itself
changes only through Stripe's webhooks (``protu.http.stripe_webhook``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from protu.http.routing import Call, Refusal, Router
from protu.identity import accounts
from protu.schemas import Strict

router = Router("billing")


class PlanOut(msgspec.Struct):
    name: str
    title: str
    seats: int
    candidates_per_month: int


class BillingOut(msgspec.Struct):
    plan: str
    status: str
    subscribed_plan: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    payment_failed: bool
    seats_used: int
    seats_limit: int
    candidates_this_month: int
    candidates_limit: int
    has_customer: bool
    plans: list[PlanOut]


class CheckoutIn(Strict):
    plan: Literal["team", "business"]


class UrlOut(msgspec.Struct):
    url: str


@router.get("/api/billing", permission="billing", response=BillingOut)
def billing(call: Call) -> BillingOut:
    """Your company's plan, subscription status and the limits in use."""
    # cold start: loaded on first use
    from protu.billing import service

    return msgspec.convert(service.overview(call.principal.tenant_id), BillingOut)


@router.post(
    "/api/billing/checkout",
    permission="billing",
    body=CheckoutIn,
    response=UrlOut,
    example={"plan": "team"},
    errors=(
        Refusal(409, "already_subscribed", "The company has a subscription already: change it in the portal."),
        Refusal(503, "billing_unavailable", "The payment provider could not be reached; nothing was charged."),
    ),
)
def checkout(call: Call) -> UrlOut:
    """Start a subscription: answers the URL of Stripe Checkout for the chosen plan."""
    # cold start: loaded on first use
    from protu.billing import service

    user = accounts.get_user(call.principal.tenant_id, call.principal.user_id)
    company = accounts.get_company(call.principal.tenant_id)
    return UrlOut(service.checkout(call.principal, call.body.plan, user.email, company.name))


@router.post(
    "/api/billing/portal",
    permission="billing",
    response=UrlOut,
    errors=(
        Refusal(409, "no_customer", "There is no subscription to manage yet: choose a plan first."),
        Refusal(503, "billing_unavailable", "The payment provider could not be reached."),
    ),
)
def portal(call: Call) -> UrlOut:
    """Manage the subscription (plan, payment method, invoices, cancelling): answers Stripe's portal URL."""
    # cold start: loaded on first use
    from protu.billing import service

    return UrlOut(service.portal(call.principal))
