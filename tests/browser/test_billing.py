"""Billing in real Chromium against the real local server, with Stripe's API, Checkout page and billing portal played
by the local server's Stripe stand-in (``infra/stripe_local.py``), which sends Stripe's signed events to
``/webhooks/stripe`` as Stripe would.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import follow_nav, new_company, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def company() -> dict[str, str]:
    return new_company("Lantern Billing")


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_owner_upgrades_through_checkout_and_manages_the_subscription(page, company, console_errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, company["owner"], company["password"], "Olga Owner")
    page.goto("/billing")
    expect(page).to_have_title("Billing · Protu")
    expect(page.get_by_test_id("billing-plan")).to_have_text("Free")
    expect(page.get_by_test_id("billing-status")).to_have_text("No subscription")
    expect(page.get_by_test_id("billing-seats")).to_contain_text("2 of 3")
    expect(page.get_by_test_id("billing-candidates")).to_contain_text("0 of 25")
    # The prices, as Stripe has them; no invoices before the first payment.
    expect(page.get_by_test_id("plan-team-price")).to_have_text(re.compile(r"^€49 a month$"))
    expect(page.get_by_test_id("plan-business-price")).to_have_text(re.compile(r"^€199 a month$"))
    expect(page.get_by_test_id("plan-free-price")).to_have_text("Free")
    expect(page.get_by_test_id("billing-invoices-none")).to_be_visible()

    page.get_by_test_id("plan-team-choose").click()
    expect(page).to_have_url(re.compile(r"/_local/stripe/checkout/cs_test_"))
    page.get_by_test_id("stripe-pay").click()  # Stripe sends checkout.session.completed, subscription, invoice

    expect(page.get_by_test_id("billing-notice")).to_contain_text("Stripe has confirmed")
    expect(page).to_have_url(re.compile(r"/billing$"))  # the notice is said once: a reload does not repeat it
    expect(page.get_by_test_id("billing-plan")).to_have_text("Team")
    # The invoice of the payment, with Stripe's page for it; the Free card says what moving back means.
    invoice = page.get_by_test_id("billing-invoice")
    expect(invoice).to_have_count(1)
    expect(invoice).to_contain_text(re.compile(r"PROTU-\d{4}.*€49.*Paid"))
    stripes_page = re.compile(r"/_local/stripe/invoice/in_")
    expect(invoice.get_by_role("link", name="View")).to_have_attribute("href", stripes_page)
    expect(page.get_by_test_id("plan-free-downgrade")).to_contain_text("You keep all your data")
    page.reload()
    expect(page.get_by_test_id("billing-plan")).to_have_text("Team")
    expect(page.get_by_test_id("billing-notice")).to_have_count(0)
    expect(page.get_by_test_id("billing-status")).to_have_text("Active")
    expect(page.get_by_test_id("billing-seats")).to_contain_text("2 of 15")
    expect(page.get_by_test_id("plan-business-choose")).to_have_count(0)  # changes go through the portal

    page.get_by_test_id("billing-manage").click()
    expect(page).to_have_url(re.compile(r"/_local/stripe/portal/bps_"))
    page.get_by_test_id("stripe-fail_payment").click()
    page.get_by_test_id("stripe-cancel_at_period_end").click()
    page.get_by_test_id("stripe-back").click()

    expect(page).to_have_url(re.compile(r"/billing$"))
    expect(page.get_by_test_id("billing-payment-failed")).to_be_visible()
    expect(page.get_by_test_id("billing-cancelling")).to_be_visible()
    expect(page.get_by_test_id("notice-payment_failed")).to_be_visible()  # above every page, for owners
    follow_nav(page, "nav-candidates")
    expect(page.get_by_test_id("notice-payment_failed")).to_be_visible()


def test_cancelling_checkout_changes_nothing(page, company, console_errors):
    sign_in(page, company["owner"], company["password"], "Olga Owner")
    page.goto("/billing")
    page.get_by_test_id("plan-business-choose").click()
    expect(page).to_have_url(re.compile(r"/_local/stripe/checkout/cs_test_"))
    page.get_by_test_id("stripe-cancel").click()  # back to /billing?checkout=cancelled, which the page says once
    expect(page.get_by_test_id("billing-notice")).to_contain_text("Nothing was charged")
    expect(page).to_have_url(re.compile(r"/billing$"))
    expect(page.get_by_test_id("billing-plan")).to_have_text("Free")


def test_an_admin_reaches_none_of_the_owners_pages(page, company, console_errors):
    sign_in(page, company["admin"], company["password"])
    nav = page.get_by_test_id("site-menu")
    expect(nav.get_by_test_id("nav-candidates")).to_be_visible()
    for link in ("nav-billing", "nav-settings", "nav-users", "nav-audit"):
        expect(nav.get_by_test_id(link)).to_have_count(0)
    for path, explanation in [
        ("/billing", "billing-not-owner"),
        ("/settings", "settings-not-owner"),
        ("/users", "users-not-owner"),
        ("/audit", "audit-forbidden"),
    ]:
        page.goto(path)
        expect(page.get_by_test_id(explanation)).to_be_visible()
