"""The SPA shell in real Chromium, served by the local server under its strict Content-Security-Policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CHECKS = ("table", "key_store", "kms_key")


def test_status_page_shows_health_under_csp(page, console_errors):
    response = page.goto("/status")

    # The page runs under the strict policy, so "no console errors" below also means "no CSP violations".
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_test_id("health-status")).to_have_text("Working")
    for name in CHECKS:
        expect(page.get_by_test_id(f"health-check-{name}")).to_contain_text("Working")
    expect(page).to_have_title("Status · Protu")
    expect(page.get_by_role("main")).to_be_visible()
    assert console_errors == []


def test_nav_link_opens_sign_in_without_reloading(page, console_errors):
    page.goto("/status")
    expect(page.get_by_test_id("health-status")).to_have_text("Working")
    page.evaluate("window.sameDocument = true")  # survives only if no full page load happens

    nav = page.get_by_role("navigation", name="Account")
    nav.get_by_role("link", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page).to_have_title("Sign in · Protu")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Protu")
    expect(nav.get_by_role("link", name="Sign in")).to_have_attribute("aria-current", "page")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The email or password is not correct.")
    assert page.evaluate("window.sameDocument") is True

    page.go_back()
    expect(page.get_by_test_id("health-status")).to_have_text("Working")
    assert page.evaluate("window.sameDocument") is True
    assert console_errors == []


def test_deep_link_to_sign_in(page, console_errors):
    page.goto("/signin")

    expect(page.get_by_label("Email")).to_have_attribute("type", "email")
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    assert console_errors == []


def test_unknown_path_shows_not_found(page, console_errors):
    page.goto("/no/such/page")

    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page).to_have_title("Page not found · Protu")
    expect(page.get_by_test_id("not-found")).to_contain_text("/no/such/page")
    page.get_by_role("link", name="Go to the start page").click()
    expect(page.get_by_test_id("home")).to_contain_text("Protu keeps")
    assert console_errors == []


def test_degraded_health_is_shown_not_hidden(page):
    degraded = {"status": "degraded", "checks": {"table": {"status": "ok"}, "kms_key": {"status": "error"}}}
    page.route("**/api/health", lambda route: route.fulfill(status=503, json=degraded))
    page.goto("/status")

    expect(page.get_by_test_id("health-status")).to_have_text("Some parts are not working")
    expect(page.get_by_test_id("health-check-kms_key")).to_contain_text("Not working")
    expect(page.get_by_test_id("health-check-table")).to_contain_text("Working")


def test_unreachable_api_shows_an_error(page):
    page.route("**/api/health", lambda route: route.abort())
    page.goto("/status")

    expect(page.get_by_role("alert")).to_contain_text("Could not reach Protu")
