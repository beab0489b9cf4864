"""The public security-report page in real Chromium: no account, the form, the reference, the acknowledgement in
the outbox, and a refused address shown next to its field."""

from __future__ import annotations

import re
import time
import uuid

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def fresh_limit():
    """Every browser request comes from 127.0.0.1: start from an empty window of the report limit."""
    from protu.security import ratelimit, reports

    ratelimit.reset(reports.RATE_SCOPE, "127.0.0.1", window_seconds=reports.WINDOW_SECONDS)


def outbox_to(local_server: str, to: str) -> dict:
    deadline = time.monotonic() + 5
    while True:
        for message in requests.get(f"{local_server}/_local/outbox", timeout=5).json():
            if message["to"] == to:
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no email to {to}")
        time.sleep(0.1)


def test_anyone_reports_a_vulnerability_and_sees_the_reference(page, console_errors, local_server):
    from protu.security import reports

    marker = uuid.uuid4().hex[:12]
    contact = f"finder-{marker}@example.org"
    description = f"The audit log export leaks another company's events ({marker})."
    page.goto("/security/report")

    expect(page).to_have_title("Report a security issue · Protu")
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a security issue")
    expect(page.get_by_test_id("security-report-commitments")).to_contain_text("within 24 hours")
    page.get_by_label("Description of the vulnerability").fill(description)
    page.get_by_label("Steps to reproduce (optional)").fill("1. Sign in as an owner.\n2. Export the audit log.")
    page.get_by_label("Potential impact (optional)").fill("Cross-tenant disclosure.")
    page.get_by_label("Your email address").fill(contact)
    page.get_by_label("Your name (optional)").fill("Fin Der")
    page.get_by_test_id("security-report-submit").click()

    reference = page.get_by_test_id("security-report-reference")
    expect(reference).to_have_text(re.compile(r"^rep-[0-9a-f]{16}$"))
    report_id = reference.inner_text()
    expect(page.get_by_test_id("security-report-acknowledgement")).to_contain_text(
        f"We emailed an acknowledgement to {contact}"
    )
    expect(page.get_by_test_id("security-report-form")).to_have_count(0)
    assert description not in page.url and "security/report" in page.url  # nothing of the report in the URL

    mail = outbox_to(local_server, contact)
    assert report_id in mail["subject"] and report_id in mail["text"]
    stored = reports.get(report_id)
    assert (stored.description, stored.contact, stored.name) == (description, contact, "Fin Der")
    assert stored.steps_to_reproduce == "1. Sign in as an owner.\n2. Export the audit log."
    assert console_errors == []


def test_an_address_we_cannot_mail_is_shown_next_to_its_field(page, console_errors):
    page.goto("/security/report")
    page.get_by_label("Description of the vulnerability").fill("Something is off.")
    contact = page.get_by_label("Your email address")
    contact.fill("x" * 70 + "@example.com")  # valid for the browser, too long before the "@" for the mailer
    page.get_by_test_id("security-report-submit").click()

    expect(page.get_by_test_id("report-contact-error")).to_contain_text("Enter an email address we can reply to")
    expect(page.get_by_test_id("security-report-error")).to_be_visible()
    expect(contact).to_have_attribute("aria-invalid", "true")
    expect(contact).to_be_focused()
    expect(page.get_by_test_id("security-report-reference")).to_have_count(0)
    assert console_errors == []
