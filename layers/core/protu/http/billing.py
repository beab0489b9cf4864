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


class PriceOut(msgspec.Struct):
    amount: int  # in the currency's minor unit (cents)
    currency: str  # ISO 4217, upper case
    interval: str  # month | year


class PricesOut(msgspec.Struct):
    plans: dict[str, PriceOut]  # paid plan -> its price; a plan Stripe cannot price now is left out


class InvoiceOut(msgspec.Struct):
    id: str
    number: str | None
    created: int
    total: int  # minor units
    currency: str
    status: str  # draft | open | paid | uncollectible | void
    url: str | None  # Stripe's page for it
    pdf: str | None


class InvoicesOut(msgspec.Struct):
    items: list[InvoiceOut]


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


@router.get("/api/billing/prices", permission="billing", response=PricesOut)
def prices(call: Call) -> PricesOut:
    """The paid plans' prices, as Stripe has them (empty while Stripe cannot be reached)."""
    # cold start: loaded on first use
    from protu.billing import service

    return msgspec.convert({"plans": service.prices()}, PricesOut)


@router.get(
    "/api/billing/invoices",
    permission="billing",
    response=InvoicesOut,
    errors=(Refusal(503, "billing_unavailable", "The payment provider could not be reached."),),
)
def invoices(call: Call) -> InvoicesOut:
    """Your company's latest invoices (newest first), with Stripe's page and PDF for each."""
    # cold start: loaded on first use
    from protu.billing import service

    return msgspec.convert({"items": service.invoices(call.principal.tenant_id)}, InvoicesOut)
