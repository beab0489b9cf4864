"""Maintenance windows (issue 20, part 2) in real Chromium: once an operator schedules one, the owner finds the
email in the outbox, every signed-in page shows the banner, and the public status page lists the window. A window
concerns every company, so the module runs in a stack of its own (the other browser modules' pages stay as they
are), its mail still in the local server's outbox."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from playwright.sync_api import expect

from infra import ops
from tests.browser.conftest import new_company, sign_in
from tests.conftest import providers_on_local_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def own_cloud_and_outbox(own_cloud, local_server):
    with providers_on_local_server(local_server):  # again: the own stack's environment replaced the outbox's
        yield own_cloud


def test_the_banner_shows_on_signed_in_pages_and_the_status_page_lists_the_window(page, console_errors, local_server):
    people = new_company("Beacon Hiring")
    summary = f"Moving to a new database version ({uuid.uuid4().hex[:6]})"
    start = datetime.fromtimestamp(int(time.time() + 80 * 3600) // 60 * 60, UTC)
    argv = ["maintenance", "schedule", "--start", start.isoformat(), "--minutes", "90", "--summary", summary]
    assert ops.main(argv) == 0
    outbox = requests.get(f"{local_server}/_local/outbox", timeout=5).json()
    assert any(m["to"] == people["owner"] and summary in m["text"] for m in outbox)

    sign_in(page, people["admin"], people["password"])
    banner = page.get_by_test_id("notice-maintenance")
    expect(banner).to_contain_text(summary)
    expect(banner).to_contain_text(f"{start.day} {start:%B %Y, %H:%M} to ")

    banner.get_by_role("link", name="Open").click()  # to the public status page
    expect(page).to_have_url(f"{local_server}/status")
    row = page.get_by_test_id("maintenance-window").filter(has_text=summary)
    expect(row).to_contain_text(f"{start.day} {start:%B %Y, %H:%M} to ")
    expect(page.get_by_test_id("notice-maintenance")).to_have_count(0)  # notices stay on the signed-in pages
    assert console_errors == []
