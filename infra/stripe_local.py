"""A small Stripe: the part of Stripe's HTTP API Protu calls, and the events Stripe would send back.

The outside world, simulated at its HTTP boundary. The tests route ``https://api.stripe.com/v1/...`` here through
``responses``; ``make run`` serves it at ``/_local/stripe/v1/...`` with pages standing in for Stripe Checkout and
the billing portal (``/_local/stripe/checkout/<id>``, ``/_local/stripe/portal/<id>``) that, when used, send the
webhooks Stripe would send, signed as Stripe signs them.

What it answers, as Stripe does (form-encoded requests, JSON objects with ``id`` and ``object``):

* ``POST /v1/customers`` → a ``customer``;
* ``POST /v1/checkout/sessions`` → a ``checkout.session`` whose ``url`` is the local checkout page;
* ``POST /v1/billing_portal/sessions`` → a ``billing_portal.session`` whose ``url`` is the local portal page;
* ``GET /v1/prices/<id>`` → the ``price`` of a plan (``prices``: what the Stripe dashboard would say: 49 and 199
  euros a month for the configured Team and Business prices);
* ``GET /v1/invoices?customer=...&limit=...`` → the customer's invoices, newest first (one per payment made
  through ``pay``), each with a ``hosted_invoice_url`` (the local invoice page) and an ``invoice_pdf``.
A request repeating an ``Idempotency-Key`` gets the first answer again (Stripe's rule). ``fail(...)`` makes the
next requests fail (a status, or an exception such as a timeout) before it answers normally again; ``requests``
keeps every request it received.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from protu import caches
from protu.settings import settings

API_VERSION = "2026-10-28.endive"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with ``payload``: ``t=<unix time>,v1=<HMAC-SHA256 of
    "<t>.<payload>" keyed with the endpoint's signing secret, hex>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event(kind: str, obj: dict[str, Any], *, created: int | None = None, event_id: str | None = None) -> bytes:
    """A Stripe event document (as the webhook body carries it)."""
    return json.dumps(
        {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()) if created is None else created,
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": obj},
        }
    ).encode()


@dataclass
class Request:
    method: str
    path: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class StripeStandIn:
    """Stripe's state for one run: customers, sessions and subscriptions, in memory."""

    checkout_base: str = "https://checkout.stripe.test"
    portal_base: str = "https://billing.stripe.test"
    invoice_base: str = "https://invoice.stripe.test"
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    deliver: Callable[[bytes, str], Any] | None = None  # sends a signed event to the webhook endpoint
    requests: list[Request] = field(default_factory=list)
    delivered: list[Any] = field(default_factory=list)  # what ``deliver`` answered, oldest first
    customers: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    prices: dict[str, dict] = field(default_factory=lambda: _dashboard_prices())
    # events of API calls, sent by ``send_pending`` (not while answering: Stripe sends them after its answer)
    pending_events: list[tuple[str, dict]] = field(default_factory=list)
    _failures: list = field(default_factory=list)
    _idempotent: dict[str, tuple[int, dict]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -------------------------------------------------------------------------------------------- the API
    def fail(self, *answers: Any) -> None:
        """The next requests fail in order: a status (``503``) or an exception to raise."""
        self._failures.extend(answers)

    def answer(self, method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, dict]:
        """Stripe's answer to one API request: (status, JSON body)."""
        path, _, query = path.partition("?")  # a GET's parameters are in its query string
        form = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(body or "", keep_blank_values=True))
        headers = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append(Request(method, path, form, headers))
            if self._failures:
                failure = self._failures.pop(0)
                if isinstance(failure, BaseException):
                    raise failure
                return failure, {"error": {"type": "api_error", "message": f"simulated {failure}"}}
            if not headers.get("authorization", "").startswith("Bearer "):
                return 401, {"error": {"type": "invalid_request_error", "message": "No API key provided."}}
            key = headers.get("idempotency-key")
            if key and key in self._idempotent:
                return self._idempotent[key]
            answer = self._route(method, path, form)
            if key:
                self._idempotent[key] = answer
            return answer

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/customers":
            customer = {
                "id": f"cus_{secrets.token_hex(7)}",
                "object": "customer",
                "name": form.get("name"),
                "email": form.get("email"),
                "metadata": _nested(form, "metadata"),
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if method == "POST" and path == "/v1/checkout/sessions":
            if form.get("customer") not in self.customers:
                return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
            session_id = f"cs_test_{secrets.token_hex(12)}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": form.get("mode"),
                "customer": form["customer"],
                "client_reference_id": form.get("client_reference_id"),
                "metadata": _nested(form, "metadata"),
                "subscription_metadata": _nested(form, "subscription_data[metadata]"),
                "price": form.get("line_items[0][price]"),
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "status": "open",
                "subscription": None,
                "url": f"{self.checkout_base}/{session_id}",
            }
            self.sessions[session_id] = session
            return 200, session
        if method == "POST" and path == "/v1/billing_portal/sessions":
            if form.get("customer") not in self.customers:
                return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
            session_id = f"bps_{secrets.token_hex(12)}"
            session = {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": form["customer"],
                "return_url": form.get("return_url"),
                "url": f"{self.portal_base}/{session_id}",
            }
            self.sessions[session_id] = session
            return 200, session
        if method == "GET" and path.startswith("/v1/prices/"):
            price = self.prices.get(path.removeprefix("/v1/prices/"))
            if price is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such price"}
                }
            return 200, price
        if method == "GET" and path == "/v1/invoices":
            found = [i for i in self.invoices.values() if i["customer"] == form.get("customer")]
            found.sort(key=lambda invoice: invoice["created"], reverse=True)
            limit = int(form.get("limit") or 10)
            return 200, {"object": "list", "url": "/v1/invoices", "has_more": len(found) > limit, "data": found[:limit]}
        if method == "DELETE" and path.startswith("/v1/customers/"):
            return self._delete_customer(path.rsplit("/", 1)[1])
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})"}}

    def _delete_customer(self, customer_id: str) -> tuple[int, dict]:
        """Stripe deletes the customer and cancels their subscriptions at once (with the events it sends then)."""
        if self.customers.pop(customer_id, None) is None:
            missing = {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer"}
            return 404, {"error": missing}
        for subscription in self.subscriptions.values():
            if subscription["customer"] == customer_id and subscription["status"] != "canceled":
                subscription["status"] = "canceled"
                self.pending_events.append(("customer.subscription.deleted", dict(subscription)))
        return 200, {"id": customer_id, "object": "customer", "deleted": True}

    # -------------------------------------------------------------------------------------------- the customer
    def pay(self, session_id: str) -> list[bytes]:
        """The customer completes Checkout: a subscription starts; Stripe sends its events (answered, in order)."""
        session = self.sessions[session_id]
        now = int(time.time())
        subscription = {
            "id": f"sub_{secrets.token_hex(7)}",
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "cancel_at_period_end": False,
            "metadata": session["subscription_metadata"],
            "items": {
                "object": "list",
                "data": [{"price": {"id": session["price"]}, "current_period_end": now + 30 * 86400}],
            },
        }
        self.subscriptions[subscription["id"]] = subscription
        session.update(status="complete", subscription=subscription["id"])
        invoice = self._invoice(session["customer"], session["price"], now)
        return [
            self.send("checkout.session.completed", dict(session), created=now),
            self.send("customer.subscription.created", dict(subscription), created=now),
            self.send("invoice.paid", invoice, created=now),
        ]

    def _invoice(self, customer_id: str, price_id: str | None, now: int) -> dict[str, Any]:
        """The paid invoice of a payment, as Stripe keeps it (and shows it on its hosted page)."""
        price = self.prices.get(price_id or "", {"unit_amount": 0, "currency": "eur"})
        invoice_id = f"in_{secrets.token_hex(7)}"
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": customer_id,
            "number": f"PROTU-{len(self.invoices) + 1:04d}",
            "created": now,
            "status": "paid",
            "total": price["unit_amount"],
            "amount_paid": price["unit_amount"],
            "currency": price["currency"],
            "hosted_invoice_url": f"{self.invoice_base}/{invoice_id}",
            "invoice_pdf": f"{self.invoice_base}/{invoice_id}/pdf",
        }
        self.invoices[invoice_id] = invoice
        return invoice

    def update_subscription(self, subscription_id: str, **changes: Any) -> bytes:
        """The customer changes their subscription in the portal (``cancel_at_period_end=True``, ``status=...``)."""
        subscription = self.subscriptions[subscription_id]
        subscription.update(changes)
        deleted = changes.get("status") == "canceled"
        return self.send(f"customer.subscription.{'deleted' if deleted else 'updated'}", dict(subscription))

    def fail_payment(self, customer_id: str) -> bytes:
        invoice = {"id": f"in_{secrets.token_hex(7)}", "object": "invoice", "customer": customer_id}
        return self.send("invoice.payment_failed", invoice)

    def send_pending(self) -> list[bytes]:
        """Send the events that API calls caused (a deleted customer's cancelled subscriptions)."""
        with self._lock:
            pending, self.pending_events = self.pending_events, []
        return [self.send(kind, obj) for kind, obj in pending]

    def send(self, kind: str, obj: dict[str, Any], *, created: int | None = None) -> bytes:
        """Make an event as Stripe would and deliver it (signed) when a ``deliver`` is set; answers the body."""
        payload = event(kind, obj, created=created)
        if self.deliver is not None:
            self.delivered.append(self.deliver(payload, sign(payload, self.webhook_secret)))
        return payload


def _dashboard_prices() -> dict[str, dict]:
    """The prices the configured price ids have in this Stripe (monthly, in euros)."""
    amounts = {"team": 4900, "business": 19900}
    return {
        price_id: {
            "id": price_id,
            "object": "price",
            "active": True,
            "currency": "eur",
            "unit_amount": amounts.get(plan, 1000),
            "recurring": {"interval": "month", "interval_count": 1},
        }
        for plan, price_id in settings().stripe_prices.items()
    }


def ensure_local_keys() -> dict[str, str]:
    """The local ``StripeKeys`` secret, given test keys the first time (the template's placeholder has no webhook
    secret, which refuses every event). Every stand-in of one local cloud shares them."""
    import boto3
    from protu.settings import settings

    client = boto3.client("secretsmanager", region_name=settings().region)
    current = json.loads(client.get_secret_value(SecretId=settings().stripe_secret_id)["SecretString"])
    if not str(current.get("webhook_secret") or "").startswith("whsec_"):
        current = {"secret_key": "sk_test_" + secrets.token_hex(12), "webhook_secret": "whsec_" + secrets.token_hex(16)}
        client.put_secret_value(SecretId=settings().stripe_secret_id, SecretString=json.dumps(current))

        caches.reset()
    return current


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """``metadata[tenant_id]=x`` → ``{"tenant_id": "x"}`` (Stripe's form encoding of a hash)."""
    start = f"{prefix}["
    return {k[len(start) : -1]: v for k, v in form.items() if k.startswith(start) and k.endswith("]")}


# ------------------------------------------------------------------------------------------------ local pages
def page(stripe: StripeStandIn, kind: str, session: dict[str, Any]) -> str:
    """The stand-in for the page Stripe hosts: Checkout (pay or go back) or the billing portal (change the
    subscription, fail a payment, go back). Plain HTML forms; each button posts its ``action``."""
    from html import escape

    if kind == "checkout":
        title = "Checkout (local Stripe stand-in)"
        lines = [f"Subscription to price <code>{escape(str(session['price']))}</code>."]
        if session["status"] == "complete":
            lines.append("This checkout is complete.")
            buttons = [("back", "Back to Protu")]
        else:
            buttons = [("pay", "Pay with a test card"), ("cancel", "Cancel and go back")]
    else:
        title = "Billing portal (local Stripe stand-in)"
        subscription = next((s for s in stripe.subscriptions.values() if s["customer"] == session["customer"]), None)
        if subscription is None:
            lines, buttons = ["No subscription."], [("back", "Back to Protu")]
        else:
            lines = [
                f"Subscription <code>{escape(subscription['id'])}</code>: {escape(subscription['status'])}"
                + (", cancels at the end of the period" if subscription["cancel_at_period_end"] else "")
            ]
            buttons = [
                ("cancel_at_period_end", "Cancel at the end of the period"),
                ("resume", "Keep the subscription"),
                ("cancel_now", "Cancel now"),
                ("fail_payment", "Simulate a failed payment"),
                ("back", "Back to Protu"),
            ]
    forms = "".join(
        f'<form method="post"><input type="hidden" name="action" value="{a}">'
        f'<button type="submit" data-testid="stripe-{a}">{escape(label)}</button></form>'
        for a, label in buttons
    )
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<body style='font-family:sans-serif;max-width:40rem;margin:3rem auto'><h1>{title}</h1>"
        f"{paragraphs}{forms}</body></html>"
    )


def act(stripe: StripeStandIn, kind: str, session: dict[str, Any], action: str) -> str:
    """Do what the button says (sending Stripe's events); answers where the browser goes next."""
    if kind == "checkout":
        if action == "pay" and session["status"] == "open":
            stripe.pay(session["id"])
            return session["success_url"]
        return session["cancel_url"] if session["status"] == "open" else session["success_url"]
    subscription = next((s for s in stripe.subscriptions.values() if s["customer"] == session["customer"]), None)
    if subscription is not None:
        if action == "cancel_at_period_end":
            stripe.update_subscription(subscription["id"], cancel_at_period_end=True)
        elif action == "resume":
            stripe.update_subscription(subscription["id"], cancel_at_period_end=False)
        elif action == "cancel_now":
            stripe.update_subscription(subscription["id"], status="canceled")
        elif action == "fail_payment":
            stripe.fail_payment(session["customer"])
    return session["return_url"] if action == "back" else f"{stripe.portal_base}/{session['id']}"


def invoice_page(invoice: dict[str, Any]) -> str:
    """The stand-in for an invoice's page on Stripe (and its PDF): number, date, total, status."""
    from html import escape

    when = time.strftime("%d %B %Y", time.gmtime(invoice["created"]))
    total = f"{invoice['total'] / 100:.2f} {invoice['currency'].upper()}"
    title = f"Invoice {escape(invoice['number'])} (local Stripe stand-in)"
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<body style='font-family:sans-serif;max-width:40rem;margin:3rem auto'><h1>{title}</h1>"
        f"<p>{escape(when)}: {escape(total)}, {escape(invoice['status'])}.</p></body></html>"
    )
