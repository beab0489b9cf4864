"""Billing through the API and Stripe's webhooks, with Stripe's HTTP API simulated at its boundary
(``infra/stripe_local.py``) and its events signed exactly as Stripe signs them.

Checkout creates the company's Stripe customer once, with idempotency keys; the subscription changes only through
verified webhooks, each processed once and newest-first; limits follow the plan (402 with a code naming the
limit); Stripe's failures are a clear 503 with nothing half-done.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests
from protu import audit
from protu.security import signals

from infra.stripe_local import event, sign
from tests.api.people import invite, sign_up


def tenant(account) -> str:
    return account.me["company"]["id"]


def error(reply) -> tuple[int, str]:
    return reply.status, reply.json()["error"]["code"]


def subscribe(owner, stripe_api, plan: str = "team") -> dict:
    """Checkout through the API, then the customer pays on Stripe's page: Stripe's events reach the webhook."""
    reply = owner.browser.post("/api/billing/checkout", {"plan": plan})
    assert reply.status == 200, reply.body
    session_id = reply.json()["url"].rsplit("/", 1)[1]
    stripe_api.pay(session_id)
    assert [r.json()["status"] for r in stripe_api.delivered[-3:]] == ["processed"] * 3
    return stripe_api.sessions[session_id]


def post_event(webhooks, stripe_api, payload: bytes, *, signature: str | None = None):
    headers = {"Stripe-Signature": signature or sign(payload, stripe_api.webhook_secret)}
    return webhooks.post("/webhooks/stripe", body=payload, headers={**headers, "Content-Type": "application/json"})


# ------------------------------------------------------------------------------------------------ plan and checkout
def test_a_new_company_is_on_the_free_plan_with_its_limits(api, mailgun):
    owner = sign_up(api, mailgun)
    billing = owner.browser.get("/api/billing").json()
    assert billing["plan"] == "free" and billing["status"] == "none" and billing["payment_failed"] is False
    assert billing["seats_used"] == 1 and billing["seats_limit"] == 3
    assert billing["candidates_this_month"] == 0 and billing["candidates_limit"] == 25
    assert [p["name"] for p in billing["plans"]] == ["free", "team", "business"]


def test_checkout_creates_the_customer_once_and_sends_the_company_in_metadata(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    first = owner.browser.post("/api/billing/checkout", {"plan": "team"})
    again = owner.browser.post("/api/billing/checkout", {"plan": "business"})
    assert first.status == again.status == 200
    assert first.json()["url"].startswith(stripe_api.checkout_base + "/cs_test_")
    posts = [(r.path, r.form, r.headers) for r in stripe_api.requests]
    customers = [form for path, form, _ in posts if path == "/v1/customers"]
    sessions = [form for path, form, _ in posts if path == "/v1/checkout/sessions"]
    assert len(customers) == 1 and customers[0]["metadata[tenant_id]"] == tenant(owner)
    assert len(sessions) == 2 and {s["customer"] for s in sessions} == set(stripe_api.customers)
    assert sessions[0]["mode"] == "subscription" and sessions[0]["line_items[0][price]"] == "price_team_monthly"
    assert sessions[1]["line_items[0][price]"] == "price_business_monthly"
    assert sessions[0]["subscription_data[metadata][tenant_id]"] == tenant(owner)
    assert sessions[0]["success_url"].endswith("/billing?checkout=success")
    assert all(headers.get("idempotency-key") for _, _, headers in posts)  # every call names one
    events = audit.events(tenant(owner), action="billing.customer_created")[0]
    assert len(events) == 1


def test_paying_subscribes_the_company_and_raises_its_limits(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    billing = owner.browser.get("/api/billing").json()
    assert billing["plan"] == "team" and billing["status"] == "active" and billing["seats_limit"] == 15
    assert billing["current_period_end"] > time.time() + 29 * 86400 and billing["cancel_at_period_end"] is False
    outcomes = [e["details"]["type"] for e in audit.events(tenant(owner), action="billing.webhook")[0]]
    assert outcomes == ["invoice.paid", "customer.subscription.created", "checkout.session.completed"]
    again = owner.browser.post("/api/billing/checkout", {"plan": "business"})
    assert error(again) == (409, "already_subscribed")
    portal = owner.browser.post("/api/billing/portal")
    assert portal.status == 200 and portal.json()["url"].startswith(stripe_api.portal_base)
    assert stripe_api.requests[-1].form["customer"] == session["customer"]


def test_cancelling_at_period_end_then_deletion_returns_to_the_free_plan(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    stripe_api.update_subscription(session["subscription"], cancel_at_period_end=True)
    assert owner.browser.get("/api/billing").json()["cancel_at_period_end"] is True
    time.sleep(1.01)  # Stripe's ``created`` is in seconds: the deletion is a later event
    stripe_api.update_subscription(session["subscription"], status="canceled")
    billing = owner.browser.get("/api/billing").json()
    assert billing["plan"] == "free" and billing["status"] == "canceled" and billing["seats_limit"] == 3


# ------------------------------------------------------------------------------------------------ webhooks
def test_a_redelivered_event_changes_nothing(api, mailgun, stripe_api, webhooks):
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    payload = stripe_api.send("customer.subscription.updated", {**stripe_api.subscriptions[session["subscription"]]})
    before = len(audit.events(tenant(owner), action="billing.webhook")[0])
    again = post_event(webhooks, stripe_api, payload)
    assert again.status == 200 and again.json() == {"status": "duplicate"}
    assert len(audit.events(tenant(owner), action="billing.webhook")[0]) == before


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(api, mailgun, stripe_api, webhooks):
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    subscription = stripe_api.subscriptions[session["subscription"]]
    now = int(time.time())
    newer = event("customer.subscription.updated", {**subscription, "status": "past_due"}, created=now + 5)
    older = event("customer.subscription.updated", {**subscription, "status": "active"}, created=now + 2)
    assert post_event(webhooks, stripe_api, newer).json() == {"status": "processed"}
    assert post_event(webhooks, stripe_api, older).json() == {"status": "stale"}
    assert owner.browser.get("/api/billing").json()["status"] == "past_due"
    stale = audit.events(tenant(owner), action="billing.webhook", limit=1)[0][0]
    assert stale["details"]["outcome"] == "stale"


def test_forged_tampered_stale_and_unsigned_events_are_refused_and_signalled(api, mailgun, stripe_api, webhooks):
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    subscription = {**stripe_api.subscriptions[session["subscription"]], "status": "canceled"}
    payload = event("customer.subscription.deleted", subscription)
    before = len([s for s in signals.list_global(datetime.now(UTC).date()) if s["kind"] == "webhook.bad_signature"])
    forged = post_event(webhooks, stripe_api, payload, signature=sign(payload, "whsec_not_the_secret"))
    tampered = post_event(
        webhooks,
        stripe_api,
        payload.replace(b"canceled", b"cancelled"),
        signature=sign(payload, stripe_api.webhook_secret),
    )
    stale = post_event(
        webhooks, stripe_api, payload, signature=sign(payload, stripe_api.webhook_secret, int(time.time()) - 301)
    )
    unsigned = webhooks.post("/webhooks/stripe", body=payload, headers={"Content-Type": "application/json"})
    for reply in (forged, tampered, stale, unsigned):
        assert error(reply) == (400, "invalid_signature")
    after = [s for s in signals.list_global(datetime.now(UTC).date()) if s["kind"] == "webhook.bad_signature"]
    assert len(after) == before + 4 and after[0]["details"]["provider"] == "stripe"
    assert owner.browser.get("/api/billing").json()["status"] == "active"  # nothing changed


def test_correctly_signed_events_dated_in_the_future_are_refused_and_signalled(api, mailgun, stripe_api, webhooks):
    """OWASP ASVS 5.0 9.2.1 (a signed message is accepted only within its validity time span: 'nbf' as well as
    'exp'; here Stripe's ``t=`` ± 300 s). Security issue 15, item 9: stripe's ``verify_header`` refuses only
    timestamps older than the tolerance, so a delivery signed with the real secret and ``t=`` an hour ahead was
    accepted. Such a message is a pre-signed replay (valid for as long as its date is ahead) or a clock gone
    wrong: refused as a stale one is, 400 ``invalid_signature`` and the ``webhook.bad_signature`` signal."""
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    subscription = {**stripe_api.subscriptions[session["subscription"]], "status": "canceled"}
    today = datetime.now(UTC).date()
    before = len([s for s in signals.list_global(today) if s["kind"] == "webhook.bad_signature"])
    refused = []
    for ahead in (3600, 301, 10**6):
        payload = event("customer.subscription.deleted", subscription, created=int(time.time()) + ahead)
        signed = sign(payload, stripe_api.webhook_secret, int(time.time()) + ahead)  # the real secret
        refused.append(post_event(webhooks, stripe_api, payload, signature=signed))
    for reply in refused:
        assert reply.status == 400, reply.body  # before the fix: 200 {"status":"processed"}, the subscription gone
        assert error(reply) == (400, "invalid_signature")
    after = [s for s in signals.list_global(today) if s["kind"] == "webhook.bad_signature"]
    assert len(after) == before + 3
    assert after[0]["details"] == {"provider": "stripe", "problem": "timestamp in the future"}
    assert owner.browser.get("/api/billing").json()["status"] == "active"  # nothing changed
    assert [e["details"]["type"] for e in audit.events(tenant(owner), action="billing.webhook")[0]] == [
        "invoice.paid",
        "customer.subscription.created",
        "checkout.session.completed",
    ]  # and nothing was marked: the event, sent again in time, is still processed

    # a clock a little ahead (within the tolerance) is still heard
    payload = event("customer.subscription.updated", {**subscription, "status": "past_due"})
    signed = sign(payload, stripe_api.webhook_secret, int(time.time()) + 250)
    ahead = post_event(webhooks, stripe_api, payload, signature=signed)
    assert ahead.status == 200 and ahead.json() == {"status": "processed"}
    assert owner.browser.get("/api/billing").json()["status"] == "past_due"


@pytest.mark.parametrize(
    "header",
    [
        "v1={v1}",  # no timestamp
        "t=,v1={v1}",
        "t=soon,v1={v1}",
        "t={now}",  # no signature
        "t={now},t={later},v1={v1}",  # two timestamps: the signed one is not the one checked against the clock
        "t={later},t={now},v1={v1}",
        "t=+{now},v1={v1}",  # what int() reads, but not a Stripe timestamp
    ],
)
def test_malformed_signature_headers_are_refused(stripe_api, webhooks, header):
    """OWASP ASVS 5.0 9.2.1: the timestamp checked against the clock must be the one that was signed, so a header
    that is not exactly Stripe's (one ``t=`` of digits) is refused as a signature that does not verify."""
    payload = event("customer.created", {"id": "cus_x", "object": "customer"})
    now = int(time.time())
    v1 = sign(payload, stripe_api.webhook_secret, now).split("v1=")[1]  # a valid signature of ``now``
    reply = post_event(webhooks, stripe_api, payload, signature=header.format(now=now, later=now + 3600, v1=v1))
    assert reply.status == 400, reply.body
    assert error(reply) == (400, "invalid_signature")


def test_unknown_event_types_and_events_for_no_company_are_ignored(api, mailgun, stripe_api, webhooks):
    unknown = post_event(webhooks, stripe_api, event("customer.created", {"id": "cus_x", "object": "customer"}))
    assert unknown.status == 200 and unknown.json() == {"status": "ignored"}
    orphan = event("customer.subscription.updated", {"id": "sub_x", "customer": "cus_nobody", "status": "active"})
    assert post_event(webhooks, stripe_api, orphan).json() == {"status": "ignored"}
    bogus = event(
        "checkout.session.completed", {"id": "cs_x", "customer": "cus_y", "metadata": {"tenant_id": "NOT A ID"}}
    )
    assert post_event(webhooks, stripe_api, bogus).json() == {"status": "ignored"}


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"id": 1}',
        json.dumps({"id": "evt_1", "type": "invoice.paid", "created": "x"}).encode(),
        b"",
    ],
)
def test_verified_bodies_that_are_not_events_are_400(stripe_api, webhooks, payload):
    reply = post_event(webhooks, stripe_api, payload)
    assert reply.status == 400 and reply.json()["error"]["code"] in ("invalid_payload", "invalid_signature")


def test_a_failed_payment_emails_the_owners_and_shows_until_paid(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    session = subscribe(owner, stripe_api)
    admin = invite(owner, mailgun, "admin")
    stripe_api.fail_payment(session["customer"])
    billing = owner.browser.get("/api/billing").json()
    assert billing["payment_failed"] is True
    sent = mailgun.to(owner.email)[-1]
    assert "payment" in sent["subject"].lower() and "/billing" in sent["text"]
    assert not [m for m in mailgun.to(admin.email) if "payment" in m["subject"].lower()]  # owners only
    stripe_api.send("invoice.paid", {"id": "in_2", "object": "invoice", "customer": session["customer"]})
    assert owner.browser.get("/api/billing").json()["payment_failed"] is False


# ------------------------------------------------------------------------------------------------ limits
def test_the_free_plan_refuses_a_fourth_seat_and_the_26th_candidate_of_the_month(api, mailgun):
    owner = sign_up(api, mailgun)
    invite(owner, mailgun, "admin")
    invite(owner, mailgun, "admin")
    fourth = owner.browser.post("/api/users/invitations", {"email": "fourth@example.com", "role": "admin"})
    assert error(fourth) == (402, "seat_limit_reached") and fourth.json()["error"]["details"]["limit"] == 3
    for i in range(25):
        assert owner.browser.post("/api/candidates", {"name": f"Person {i}"}).status == 201
    refused = owner.browser.post("/api/candidates", {"name": "One too many"})
    assert error(refused) == (402, "candidate_limit_reached")
    listed = owner.browser.get("/api/candidates?limit=100").json()["items"]
    assert len(listed) == 25 and owner.browser.get("/api/billing").json()["candidates_this_month"] == 25


def test_a_paid_plan_lifts_the_limits(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    subscribe(owner, stripe_api)
    for _ in range(3):
        invite(owner, mailgun, "admin")
    assert owner.browser.get("/api/billing").json()["seats_used"] == 4


# ------------------------------------------------------------------------------------------------ access and faults
def test_admins_cannot_see_or_change_billing(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun, "admin")
    for method, path, body in [
        ("GET", "/api/billing", None),
        ("POST", "/api/billing/checkout", {"plan": "team"}),
        ("POST", "/api/billing/portal", None),
    ]:
        assert error(admin.browser.request(method, path, json=body)) == (403, "forbidden")
    assert stripe_api.requests == []


def test_bad_checkout_bodies_are_422(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    for body in ({}, {"plan": "free"}, {"plan": "gold"}, {"plan": 1}, {"plan": "team", "coupon": "x"}):
        reply = owner.browser.post("/api/billing/checkout", body)
        assert reply.status == 422, (body, reply.body)
    assert error(owner.browser.post("/api/billing/portal")) == (409, "no_customer")
    assert stripe_api.requests == []


@pytest.mark.parametrize(
    "failure", [503, 500, 429, requests.exceptions.ConnectTimeout(), requests.exceptions.ReadTimeout()]
)
def test_stripe_failing_is_a_clear_503_and_a_retry_works(api, mailgun, stripe_api, failure):
    owner = sign_up(api, mailgun)
    stripe_api.fail(*[failure] * 3)  # more than the library's own retries (it retries 5xx and timeouts, not 429)
    reply = owner.browser.post("/api/billing/checkout", {"plan": "team"})
    assert error(reply) == (503, "billing_unavailable") and "Nothing was charged" in reply.json()["error"]["message"]
    retries = [owner.browser.post("/api/billing/checkout", {"plan": "team"}).status for _ in range(3)]
    assert retries[-1] == 200 and set(retries) <= {200, 503}
    customers = [r for r in stripe_api.requests if r.path == "/v1/customers"]
    assert len({r.headers["idempotency-key"] for r in customers}) == 1  # retried with the same key: one customer
    assert len(stripe_api.customers) == 1


def test_stripe_refusing_is_a_502_that_names_no_key(api, mailgun, stripe_api, caplog):
    owner = sign_up(api, mailgun)
    stripe_api.fail(401)
    reply = owner.browser.post("/api/billing/checkout", {"plan": "team"})
    assert error(reply) == (502, "billing_rejected")
    assert "sk_test_" not in caplog.text and "whsec_" not in caplog.text


# ------------------------------------------------------------------------------------------------ prices and invoices
def test_prices_and_invoices_come_from_stripe_and_only_the_companys_own(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    reply = owner.browser.get("/api/billing/prices")
    assert reply.status == 200, reply.body
    assert reply.json() == {
        "plans": {
            "team": {"amount": 4900, "currency": "EUR", "interval": "month"},
            "business": {"amount": 19900, "currency": "EUR", "interval": "month"},
        }
    }
    assert owner.browser.get("/api/billing/invoices").json() == {"items": []}  # no customer yet: Stripe not asked

    subscribe(owner, stripe_api)
    other = sign_up(api, mailgun)
    subscribe(other, stripe_api, plan="business")
    (invoice,) = owner.browser.get("/api/billing/invoices").json()["items"]
    assert invoice["total"] == 4900 and invoice["currency"] == "EUR" and invoice["status"] == "paid"
    assert invoice["number"].startswith("PROTU-") and invoice["url"].startswith("https://invoice.stripe.test/in_")
    asked = [r for r in stripe_api.requests if r.path == "/v1/invoices"]
    assert asked[-1].form["customer"] == stripe_api.sessions[next(iter(stripe_api.sessions))]["customer"]


def test_prices_are_kept_and_a_stripe_outage_shows_none_and_invoices_say_so(api, mailgun, stripe_api):
    from protu import caches

    owner = sign_up(api, mailgun)
    caches.reset()
    stripe_api.fail(503, 503, 503)
    assert owner.browser.get("/api/billing/prices").json() == {"plans": {}}  # the page shows the plans without
    caches.reset()
    assert len(owner.browser.get("/api/billing/prices").json()["plans"]) == 2
    asked = len(stripe_api.requests)
    assert len(owner.browser.get("/api/billing/prices").json()["plans"]) == 2
    assert len(stripe_api.requests) == asked  # kept: Stripe is not asked again

    subscribe(owner, stripe_api)
    stripe_api.fail(503, 503, 503)
    assert error(owner.browser.get("/api/billing/invoices")) == (503, "billing_unavailable")
