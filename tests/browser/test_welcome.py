"""A new owner's first sign-in lands on a short checklist (issue 21, item 5), in real Chromium at both sizes: each
step ticked from the company's own state and linked to where it is done; put away, sign-ins land on the account
page again."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, new_company

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_a_new_owner_lands_on_their_first_steps_until_they_put_them_away(page, local_server, console_errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    people = new_company("Meitner Hiring", welcome=True)  # the owner has not put the first steps away

    page.goto("/signin")
    page.get_by_label("Email").fill(people["owner"])
    page.get_by_label("Password").fill(people["password"])
    page.get_by_test_id("signin-submit").click()
    expect(page).to_have_url(re.compile(r"/welcome$"), timeout=15_000)

    # Verified (they signed in with it) and a colleague there (the company's admin); no two-factor, role, candidate.
    done = {"verify_email": "true", "two_factor": "false", "invite": "true", "first_role": "false"}
    for step, state in done.items():
        expect(page.get_by_test_id(f"welcome-step-{step}")).to_have_attribute("data-done", state)
    expect(page.get_by_test_id("welcome-summary")).to_have_text("2 of 5 done.")
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]

    # A step links to where it is done; back on the list, it is ticked.
    page.get_by_test_id("welcome-step-first_role").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/roles$"))
    page.get_by_test_id("role-title").fill("Physicist")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-row")).to_have_count(1)
    page.goto("/welcome")
    expect(page.get_by_test_id("welcome-step-first_role")).to_have_attribute("data-done", "true")
    expect(page.get_by_test_id("welcome-summary")).to_have_text("3 of 5 done.")

    # Put away: the account page now, and sign-ins land there again.
    page.get_by_test_id("welcome-done").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    elsewhere = Elsewhere(local_server, people["owner"], people["password"])
    assert elsewhere.http.get(f"{local_server}/api/me", timeout=10).json()["show_welcome"] is False
    assert console_errors == []
