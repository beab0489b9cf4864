"""The owner's audit log in real Chromium: the owner reads their company's events (sign-in and creation), filters
them (kept in the address), verifies the hash chain; an admin has no link to it and is told why on /audit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_company, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def company() -> dict[str, str]:
    """A fresh company with an owner and an admin who can sign in at once (one password for both)."""
    return new_company("Audit Works")


def test_owner_reads_filters_and_verifies_the_audit_log(page, company, console_errors):
    sign_in(page, company["owner"], company["password"], "Olga Owner")

    page.get_by_test_id("nav-audit").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page).to_have_title("Audit log · Protu")
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    expect(page.locator('[data-testid="audit-row"][data-action="auth.login"]').first).to_be_visible()
    seed = page.locator('[data-testid="audit-row"][data-action="system.seed"]')
    expect(seed).to_have_count(1)
    expect(seed.get_by_test_id("audit-row-target")).to_have_text(f"user:{company['owner_id']}")
    expect(
        page.locator('[data-testid="audit-row"][data-action="auth.login"]').first.get_by_test_id("audit-row-outcome")
    ).not_to_be_empty()

    # Filter by action: only those events, and the filter lives in the address (a reload keeps it).
    page.get_by_test_id("audit-filter-action").fill("system.seed")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=system\.seed$"))
    expect(rows).to_have_count(1)
    expect(rows.get_by_test_id("audit-row-action")).to_have_text("system.seed")
    page.reload()
    expect(page.get_by_test_id("audit-filter-action")).to_have_value("system.seed")
    expect(rows).to_have_count(1)
    page.get_by_test_id("audit-filter-action").fill("no.such.action")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page.get_by_test_id("audit-empty")).to_have_text("No events match these filters.")
    page.get_by_test_id("audit-filter-clear").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_test_id("audit-filter-action")).to_have_value("")
    expect(seed).to_have_count(1)

    # A date range: events from today are in, ones up to a day long past are not.
    page.get_by_test_id("audit-filter-to").fill("2001-01-01")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page).to_have_url(re.compile(r"/audit\?to=2001-01-01$"))
    expect(page.get_by_test_id("audit-empty")).to_be_visible()
    page.get_by_test_id("audit-filter-clear").click()
    expect(seed).to_have_count(1)

    # The chain verifies.
    page.get_by_test_id("audit-verify").click()
    expect(page.get_by_test_id("audit-verify-notice")).to_have_text(
        re.compile(r"^The chain is intact: \d+ events checked\.$")
    )
    assert console_errors == []


def test_admin_has_no_audit_log(page, company, console_errors):
    sign_in(page, company["admin"], company["password"], "Adam Admin")
    expect(page.get_by_test_id("nav-account")).to_be_visible()
    expect(page.get_by_test_id("nav-audit")).to_have_count(0)
    page.goto("/audit")
    expect(page.get_by_test_id("audit-forbidden")).to_have_text("Only owners can read the audit log.")
    expect(page.get_by_test_id("audit-table")).to_have_count(0)
    assert console_errors == []
