"""The company's plan: what it is, what it allows, and going to Stripe to change it.

* ``overview`` answers the billing page: plan, status, period, seats and candidates used against the limits.
* ``checkout`` and ``portal`` create Stripe sessions (a Checkout Session for a new subscription, a billing-portal
  session to manage one) and answer their URLs; the Stripe customer is created once per company, its id stored
  with an index back to the company (``STRIPE#CUSTOMER#``), both in one transaction with the audit event.
* ``prices`` (each paid plan's price, as Stripe has it; kept an hour per process) and ``invoices`` (the company's
  latest invoices, from Stripe) complete the page, asked for apart from ``overview``: when Stripe is slow or
  down, the plan and its limits still show at once.
* ``check_seat`` and ``count_candidate`` enforce the limits (402 with a code naming the limit). The candidate count
  of the month moves in the same transaction as the candidate's creation, conditioned on the limit, so two
  concurrent creations cannot both take the last place.
Subscription state changes only through Stripe's webhooks (``protu.billing.events``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from protu import caches, errors
from protu.billing import plans, stripe_api
from protu.billing.models import BillingState, MonthlyUsage, StripeCustomer
from protu.principal import Principal
from protu.settings import settings
from protu.store.tx import Transaction

SESSION_BUCKET_SECONDS = 600  # a repeated click within this window gets the same Stripe session back
PRICE_CACHE_SECONDS = 3600  # prices change rarely, and a new one is a new price id (a deploy)
PRICE_RETRY_SECONDS = 60  # Stripe could not say: ask again after this
INVOICES_SHOWN = 12
_prices_lock = threading.Lock()
_prices: tuple[float, dict[str, dict[str, Any]]] | None = None  # (valid until, plan -> price)


def state(tenant_id: str) -> BillingState:
    """The company's billing state (an empty one before the first subscription)."""
    try:
        return BillingState.get(*BillingState.key(tenant_id), consistent_read=True)
    except DoesNotExist:
        return BillingState(*BillingState.key(tenant_id))


def current_plan(tenant_id: str) -> plans.Plan:
    found = state(tenant_id)
    return plans.effective(found.plan, found.status)


def month(now: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y-%m")


def candidates_this_month(tenant_id: str, now: float | None = None) -> int:
    try:
        return int(MonthlyUsage.get(*MonthlyUsage.key(tenant_id, month(now)), consistent_read=True).candidates)
    except DoesNotExist:
        return 0


def seats_used(tenant_id: str) -> int:
    from protu.identity.models import User  # cold start: billing's routes load the identity models only when counting

    return sum(1 for user in User.members(tenant_id) if user.status in ("active", "invited"))


@caches.register
def _forget_prices() -> None:
    global _prices
    with _prices_lock:
        _prices = None


def prices() -> dict[str, dict[str, Any]]:
    """Each paid plan's price as Stripe has it: ``{plan: {"amount" (minor units), "currency", "interval"}}``; a plan
    whose price Stripe does not know is left out, and all are while Stripe cannot be reached."""
    global _prices
    now = time.monotonic()
    with _prices_lock:
        if _prices is not None and _prices[0] > now:
            return _prices[1]
    found: dict[str, dict[str, Any]] = {}
    for name in plans.PAID:
        price_id = plans.price_id(name)
        try:
            price = stripe_api.call("price", lambda c, price_id=price_id: c.v1.prices.retrieve(price_id)).to_dict()
        except errors.ProtuError:
            with _prices_lock:
                _prices = (now + PRICE_RETRY_SECONDS, {})
            return {}
        recurring = price.get("recurring") or {}
        if isinstance(price.get("unit_amount"), int) and isinstance(price.get("currency"), str):
            found[name] = {
                "amount": price["unit_amount"],
                "currency": price["currency"].upper(),
                "interval": recurring.get("interval") or "month",
            }
    with _prices_lock:
        _prices = (now + PRICE_CACHE_SECONDS, found)
    return found


def invoices(tenant_id: str) -> list[dict[str, Any]]:
    """The company's latest invoices (newest first, at most ``INVOICES_SHOWN``), from Stripe: number, date, total,
    currency, status and Stripe's own pages for it. None before the company's first checkout; a Stripe failure is
    its error (503 ``billing_unavailable``)."""
    customer = state(tenant_id).customer_id
    if not customer:
        return []
    params = {"customer": customer, "limit": INVOICES_SHOWN}
    listed = [
        found.to_dict() for found in stripe_api.call("invoices", lambda c: c.v1.invoices.list(params=params)).data
    ]
    return [
        {
            "id": invoice["id"],
            "number": invoice.get("number"),
            "created": int(invoice.get("created") or 0),
            "total": int(invoice.get("total") or 0),
            "currency": str(invoice.get("currency") or "").upper(),
            "status": invoice.get("status") or "draft",
            "url": _web(invoice.get("hosted_invoice_url")),
            "pdf": _web(invoice.get("invoice_pdf")),
        }
        for invoice in listed
        if invoice.get("customer") == customer  # never another customer's, whatever answered
    ]


def _web(value: Any) -> str | None:
    """A link of Stripe's to show as is: an https address (http only to the local stand-in)."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    local = settings().is_local and value.startswith(("http://127.0.0.1:", "http://localhost:"))
    return value if value.startswith("https://") or local else None


def overview(tenant_id: str) -> dict[str, Any]:
    found = state(tenant_id)
    plan = plans.effective(found.plan, found.status)
    return {
        "plan": plan.name,
        "status": found.status or "none",
        "subscribed_plan": found.plan,
        "current_period_end": int(found.current_period_end) if found.current_period_end else None,
        "cancel_at_period_end": bool(found.cancel_at_period_end),
        "payment_failed": found.payment_failed_at is not None,
        "seats_used": seats_used(tenant_id),
        "seats_limit": plan.seats,
        "candidates_this_month": candidates_this_month(tenant_id),
        "candidates_limit": plan.candidates_per_month,
        "has_customer": bool(found.customer_id),
        "plans": [
            {"name": p.name, "title": p.title, "seats": p.seats, "candidates_per_month": p.candidates_per_month}
            for p in plans.PLANS.values()
        ],
    }


# ------------------------------------------------------------------------------------------------ limits
def check_seat(tenant_id: str) -> None:
    """Refuse another user (an invitation) when every seat of the plan is taken."""
    plan = current_plan(tenant_id)
    if seats_used(tenant_id) >= plan.seats:
        raise errors.PaymentRequired(
            f"Your {plan.title} plan has {plan.seats} seats and all are taken. Upgrade to invite more people.",
            code="seat_limit_reached",
            details={"limit": plan.seats, "plan": plan.name},
        )


def count_candidate(tx: Transaction, tenant_id: str) -> plans.Plan:
    """Add this month's candidate count to ``tx``, conditioned on the plan's limit (see ``candidate_limit``)."""
    plan = current_plan(tenant_id)
    usage = MonthlyUsage(*MonthlyUsage.key(tenant_id, month()))
    room = MonthlyUsage.candidates.does_not_exist() | (MonthlyUsage.candidates < plan.candidates_per_month)
    tx.update(usage, [MonthlyUsage.candidates.add(1)], condition=room)
    return plan


def candidate_limit_reached(tenant_id: str) -> errors.PaymentRequired | None:
    """The 402 to answer when this month's candidates are at the plan's limit (None while there is room)."""
    plan = current_plan(tenant_id)
    if candidates_this_month(tenant_id) < plan.candidates_per_month:
        return None
    return errors.PaymentRequired(
        f"Your {plan.title} plan allows {plan.candidates_per_month} new candidates a month, and this month's are "
        "used. Upgrade to add more.",
        code="candidate_limit_reached",
        details={"limit": plan.candidates_per_month, "plan": plan.name},
    )


# The monthly counters a kind of company record may count its creations against (``Kind.quota`` in
# ``protu.directory.kinds``): counter -> (add one to a transaction, the 402 to answer once the limit is reached).
MONTHLY: dict[str, tuple[Any, Any]] = {"candidates": (count_candidate, candidate_limit_reached)}


def count_monthly(tx: Transaction, tenant_id: str, counter: str) -> plans.Plan:
    """Add one to this month's ``counter`` in ``tx``, conditioned on the plan's limit."""
    return MONTHLY[counter][0](tx, tenant_id)


def monthly_limit_reached(tenant_id: str, counter: str) -> errors.PaymentRequired | None:
    """The 402 to answer when this month's ``counter`` is at the plan's limit (None while there is room)."""
    return MONTHLY[counter][1](tenant_id)


# ------------------------------------------------------------------------------------------------ Stripe
def _origin() -> str:
    return settings().app_origin


def _bucket() -> int:
    return int(time.time()) // SESSION_BUCKET_SECONDS


def checkout(principal: Principal, plan: str, email: str, company_name: str) -> str:
    """A Stripe Checkout Session for a subscription to ``plan``; answers its URL."""
    if plan not in plans.PAID:
        raise errors.ValidationFailed(
            f"Choose one of the paid plans: {', '.join(plans.PAID)}.", code="invalid_plan", details={"field": "plan"}
        )
    found = state(principal.tenant_id)
    if found.subscription_id and found.status in plans.PAYING:
        raise errors.Conflict(
            "Your company already has a subscription. Change or cancel it through 'Manage billing'.",
            code="already_subscribed",
        )
    customer = _customer(principal, found, email, company_name)
    tenant = principal.tenant_id
    params = {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": tenant,
        "line_items": [{"price": plans.price_id(plan), "quantity": 1}],
        "metadata": {"tenant_id": tenant, "plan": plan},
        "subscription_data": {"metadata": {"tenant_id": tenant, "plan": plan}},
        "success_url": f"{_origin()}/billing?checkout=success",
        "cancel_url": f"{_origin()}/billing?checkout=cancelled",
    }
    key = f"checkout-{tenant}-{plan}-{principal.user_id}-{_bucket()}"
    session = stripe_api.call(
        "checkout", lambda c: c.v1.checkout.sessions.create(params=params, options={"idempotency_key": key})
    )
    with Transaction(tenant) as tx:
        tx.audit("billing.checkout_started", f"plan:{plan}", details={"checkout_session": session.id})
    return session.url


def portal(principal: Principal) -> str:
    """A Stripe billing-portal session for the company's customer; answers its URL."""
    found = state(principal.tenant_id)
    if not found.customer_id:
        raise errors.Conflict("There is no subscription to manage yet. Choose a plan first.", code="no_customer")
    params = {"customer": found.customer_id, "return_url": f"{_origin()}/billing"}
    key = f"portal-{principal.tenant_id}-{principal.user_id}-{_bucket()}"
    session = stripe_api.call(
        "portal", lambda c: c.v1.billing_portal.sessions.create(params=params, options={"idempotency_key": key})
    )
    with Transaction(principal.tenant_id) as tx:
        tx.audit("billing.portal_opened", f"customer:{found.customer_id}")
    return session.url


def _customer(principal: Principal, found: BillingState, email: str, company_name: str) -> str:
    """The company's Stripe customer, created the first time (one per company; the index finds it back)."""
    if found.customer_id:
        return found.customer_id
    tenant = principal.tenant_id
    params = {"name": company_name, "email": email, "metadata": {"tenant_id": tenant}}
    key = f"customer-{tenant}-{principal.user_id}"
    customer = stripe_api.call(
        "customer", lambda c: c.v1.customers.create(params=params, options={"idempotency_key": key})
    )
    try:
        with Transaction(tenant) as tx:
            tx.update(
                found,
                [BillingState.customer_id.set(customer.id), BillingState.version.add(1)],
                condition=BillingState.customer_id.does_not_exist(),
            )
            tx.save(StripeCustomer(*StripeCustomer.key(customer.id), tenant_id=tenant), unscoped=True)
            tx.audit("billing.customer_created", f"customer:{customer.id}")
    except errors.Conflict:  # another owner's request stored one first: use theirs
        stored = state(tenant).customer_id
        if stored:
            return stored
        raise
    return customer.id
