"""Security incidents in real Chromium: an owner finds none at first, then (once one concerns the company) sees it
in the list, opens it and reads where it stands and its timeline; an admin has no link to the page and is told why
on /incidents. The sign-in page links to the public security-report page.

The incident is opened in this process, as the detection would (a locked account raised as a signal, the owners'
view written): the local server runs here too, over the same moto cloud, so the page reads it at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_company, sign_in

pytestmark = pytest.mark.browser


def incident_about(tenant_id: str, user_id: str) -> str:
    """An incident that concerns the company (a locked account), with its owners' view written."""
    from protu.security import incidents, response, signals

    signal = signals.raise_signal("login.locked", tenant_id=tenant_id, user_id=user_id, source_ip="198.51.100.9")
    incident, _ = incidents.detect(signal)
    response.sync_company_view(tenant_id, incident.id)
    return incident.id


def test_owner_reads_an_incident_and_an_admin_has_no_incidents_page(page, console_errors):
    people = new_company("Incident Works")
    sign_in(page, people["owner"], people["password"], "Olga Owner")

    # None yet: the list says so.
    page.get_by_test_id("nav-incidents").click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    expect(page).to_have_title("Incidents · Protu")
    expect(page.get_by_test_id("incidents-empty")).to_have_text("No security incidents have concerned your company.")

    # One concerns the company: listed with its severity, title, status and when it was detected.
    incident_id = incident_about(people["company_id"], people["owner_id"])
    page.reload()
    row = page.get_by_test_id("incident-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-incident-id", incident_id)
    expect(row.get_by_test_id("incident-row-severity")).to_have_text("Low")
    expect(row.get_by_test_id("incident-link")).to_have_text("An account was locked after repeated failed sign-ins")
    expect(row.get_by_test_id("incident-row-status")).to_have_text("Open")
    expect(row.get_by_test_id("incident-row-detected").locator("xpath=self::time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d{2}-\d{2}T")
    )
    expect(page.get_by_test_id("incidents-empty")).to_have_count(0)

    # Opened: where it stands (open, detected, not contained yet), nothing assessed yet, and the timeline.
    row.get_by_test_id("incident-link").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident_id}$"))
    expect(page.get_by_test_id("incident-heading")).to_have_text("An account was locked after repeated failed sign-ins")
    expect(page.get_by_test_id("incident-status")).to_have_text("Open")
    expect(page.get_by_test_id("incident-severity")).to_have_text("Low")
    expect(page.get_by_test_id("incident-detected")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    expect(page.get_by_test_id("incident-resolved")).to_have_text("Not yet")
    expect(page.get_by_test_id("incident-affected")).to_be_visible()
    entries = page.get_by_test_id("incident-timeline-entry")
    expect(entries.first).to_have_attribute("data-step", "detected")
    expect(entries.first.get_by_test_id("incident-timeline-note")).to_have_text("We detected the incident.")

    # Back to the list; an address that names no incident says so.
    page.get_by_test_id("incident-back").click()
    expect(page).to_have_url(re.compile(r"/incidents$"))
    expect(row).to_have_count(1)
    page.goto("/incidents/inc-20000101-0123456789")
    expect(page.get_by_test_id("incident-error")).to_have_text("There is no such incident.")

    # An admin: no link, and the page says it is for owners (without asking the API).
    page.get_by_test_id("header-sign-out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    sign_in(page, people["admin"], people["password"], "Adam Admin")
    expect(page.get_by_test_id("nav-account")).to_be_visible()
    expect(page.get_by_test_id("nav-incidents")).to_have_count(0)
    page.goto("/incidents")
    expect(page.get_by_test_id("incidents-forbidden")).to_have_text(
        "Only your company's owners can see its security incidents."
    )
    expect(page.get_by_test_id("incidents-table")).to_have_count(0)
    page.goto(f"/incidents/{incident_id}")
    expect(page.get_by_test_id("incident-forbidden")).to_be_visible()
    expect(page.get_by_test_id("incident-heading")).to_have_count(0)
    assert console_errors == []


def test_the_sign_in_page_links_to_the_security_report_page(page, console_errors):
    page.goto("/signin")
    page.get_by_test_id("signin-security-report").click()
    expect(page).to_have_url(re.compile(r"/security/report$"))
    expect(page.get_by_test_id("security-report-page")).to_be_visible()
    expect(page).to_have_title("Report a security issue · Protu")
    assert console_errors == []
