"""The plans and their limits, in one place. Stripe knows each paid plan by a price id (template parameters
``StripeTeamPrice``/``StripeBusinessPrice`` → ``settings().stripe_prices``); everything else about a plan is here.

A company without a subscription that Stripe counts as paying (``PAYING``) is on the free plan, with its limits.
``past_due`` still counts: Stripe retries the payment for a while, and the owners are told at once; a company is
not cut off mid-dunning.
"""

from __future__ import annotations

import msgspec

from protu.settings import settings


class Plan(msgspec.Struct, frozen=True):
    name: str
    title: str
    seats: int  # users (owners, admins, invitations pending)
    candidates_per_month: int  # candidates created per calendar month (UTC)
    invitations_per_day: int  # invitation emails per UTC day, resends included (protu.identity.invitations)
    paid: bool


FREE = Plan("free", "Free", seats=3, candidates_per_month=25, invitations_per_day=20, paid=False)
TEAM = Plan("team", "Team", seats=15, candidates_per_month=300, invitations_per_day=100, paid=True)
BUSINESS = Plan("business", "Business", seats=100, candidates_per_month=3000, invitations_per_day=500, paid=True)
PLANS: dict[str, Plan] = {plan.name: plan for plan in (FREE, TEAM, BUSINESS)}
PAID = tuple(name for name, plan in PLANS.items() if plan.paid)

PAYING = frozenset({"active", "trialing", "past_due"})


def price_id(plan: str) -> str:
    return settings().stripe_prices[plan]


def plan_of_price(price: str | None) -> str | None:
    """The paid plan a Stripe price id stands for, or None for a price we do not sell."""

    return next((name for name, known in settings().stripe_prices.items() if known == price), None)


def effective(plan: str | None, status: str | None) -> Plan:
    """The plan whose limits apply: the subscribed one while Stripe counts it as paying, else the free one."""
    if plan in PLANS and status in PAYING:
        return PLANS[plan]
    return FREE
