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


def outbox_to(local_server: str, to: str, *, subject: str = "") -> dict:
    deadline = time.monotonic() + 5
    while True:
        for message in requests.get(f"{local_server}/_local/outbox", timeout=5).json():
            if message["to"] == to and subject in message["subject"]:
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


def test_a_credited_reporter_confirms_by_the_fixed_emails_link_and_is_listed_as_text(
    page, console_errors, local_server
):
    from infra import ops

    marker = uuid.uuid4().hex[:8]
    name, contact = f"Ana <b>Bold</b> {marker}", f"credit-{marker}@example.org"
    body = {"description": f"Open redirect on /signin ({marker}).", "contact": contact, "name": name}
    reply = requests.post(f"{local_server}/api/security/reports", json=body, timeout=10)
    assert reply.status_code == 202, reply.text
    report_id = reply.json()["id"]
    for step in ("triaging", "confirmed", "fixed"):
        assert ops.main(["reports", "move", report_id, "--to", step]) == 0

    page.goto("/security/thanks")
    expect(page.get_by_test_id("thanks-list")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_text(name)).to_have_count(0)  # not before the reporter confirms

    fixed = outbox_to(local_server, contact, subject="is fixed")
    path = re.search(r"https?://[^/\s]+(/security/thanks/confirm#token=[\w-]+)", fixed["text"]).group(1)
    page.goto(path)
    expect(page.get_by_test_id("credit-confirmed")).to_contain_text(name)
    assert "#token" not in page.url  # the token leaves the address bar once read
    page.get_by_test_id("credit-thanks").click()
    listed = page.get_by_test_id("thanks-name").filter(has_text=marker)
    expect(listed).to_have_text(re.compile(re.escape(name) + r" — fixed \d{4}-\d{2}$"))
    expect(listed.locator("b")).to_have_count(0)  # the name is text, never markup
    assert console_errors == []
