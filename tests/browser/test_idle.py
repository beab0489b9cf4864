"""The idle sign-out seen coming, in real Chromium at both sizes: a minute before the company's inactivity timeout
a dialog counts down and offers to stay signed in (which counts as activity) or to sign out; when the time is up,
the page's data leaves the screen and the sign-in page says why.

The page's clock is Playwright's (``page.clock``): the browser's half hour passes in a moment. The server's half
hour is the session's last activity set back, as if it had been that long ago.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect
from protu.identity.models import Session

from tests.browser.conftest import Elsewhere, new_company, sign_in

pytestmark = pytest.mark.browser
SIZES = pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])


def idle_on_the_server(company_id: str, user_id: str, seconds: int) -> None:
    """Every session of the user last did something ``seconds`` ago."""
    for found in Session.query(Session.partition(company_id, user_id), consistent_read=True):
        found.update(actions=[Session.last_seen_at.set(int(time.time()) - seconds)])


@SIZES
def test_a_warning_comes_a_minute_before_and_at_the_end_the_page_is_cleared(page, local_server, console_errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    people = new_company("Idle Hiring")
    Elsewhere(local_server, people["owner"], people["password"]).call(
        "POST", "/api/candidates", {"name": "Cara Candidate", "notes": "prefers mornings"}, status=201
    )
    page.clock.install()
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    page.goto("/candidates")
    expect(page.get_by_text("Cara Candidate")).to_be_visible()

    # The company's timeout is 30 minutes: nothing at 28, the warning at 29, counting down.
    dialog = page.get_by_test_id("idle-dialog")
    page.clock.fast_forward("28:00")
    expect(dialog).to_have_count(0)
    page.clock.fast_forward("01:05")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("you will be signed out in")
    expect(page.get_by_test_id("idle-seconds")).to_have_text(re.compile(r"^\d+ seconds?$"))
    expect(page.get_by_test_id("idle-stay")).to_be_focused()

    # Staying signed in is activity: the count starts again, and the data stays.
    with page.expect_response("**/api/me") as answer:
        page.get_by_test_id("idle-stay").click()
    assert answer.value.status == 200
    expect(dialog).to_have_count(0)
    page.clock.fast_forward("20:00")
    expect(dialog).to_have_count(0)
    expect(page.get_by_text("Cara Candidate")).to_be_visible()

    # Then nothing for the whole half hour, on the server too: the data leaves, and the sign-in page says why.
    idle_on_the_server(people["company_id"], people["owner_id"], 31 * 60)
    page.clock.fast_forward("11:00")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fcandidates$"))
    expect(page.get_by_text("Cara Candidate")).to_have_count(0)
    expect(page.get_by_role("alert")).to_contain_text("You were signed out after a period of inactivity.")
    expect(page.get_by_test_id("header-user-name")).to_have_count(0)
    assert console_errors == []


def test_signing_out_from_the_warning(page, local_server, console_errors):
    people = new_company("Idle Hiring")
    page.clock.install()
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    page.wait_for_load_state("networkidle")  # the account page's own calls answered: the count starts from them
    page.clock.fast_forward("29:05")
    page.get_by_test_id("idle-sign-out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_test_id("header-user-name")).to_have_count(0)
    Elsewhere(local_server, people["owner"], people["password"]).call("GET", "/api/me")  # the account is fine
    assert console_errors == []
