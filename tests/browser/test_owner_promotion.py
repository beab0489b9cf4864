"""Making someone an owner in real Chromium (issue 21, item 3), by a role change or an invitation: the users page asks
first (owners can erase the company), then, when the sign-in is not recent, for the password; the API refuses the
change without either."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import new_company, sign_in, sign_in_was_long_ago

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_making_an_admin_an_owner_is_confirmed_then_needs_the_password(page, console_errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    people = new_company("Granite Hiring")
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    sign_in_was_long_ago(people["company_id"], people["owner_id"])
    page.goto("/users")
    adam = page.get_by_test_id("user-row").filter(has_text=people["admin"])
    select, save = adam.get_by_test_id("user-role-select"), adam.get_by_test_id("user-role-save")

    # Asked first; "Cancel" keeps them an admin.
    select.select_option("owner")
    save.click()
    question = page.get_by_test_id("confirm-dialog")
    expect(question).to_contain_text("Make Adam Admin an owner?")
    expect(question).to_contain_text("erase the company")
    page.get_by_test_id("confirm-cancel").click()
    expect(question).to_have_count(0)
    expect(select).to_have_value("admin")

    # Confirmed: the sign-in is an hour old, so the password is asked for, then the change is made.
    select.select_option("owner")
    save.click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("reauth-dialog")).to_contain_text("Making someone an owner needs a recent sign-in")
    page.get_by_test_id("reauth-password").fill(people["password"])
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("users-notice")).to_have_text("Adam Admin is now an owner.")
    expect(adam).to_have_attribute("data-role", "owner")

    # Inviting an owner is asked about the same way (the sign-in is recent now: no password this time).
    address = f"new-owner-{uuid.uuid4().hex[:10]}@example.com"
    page.get_by_label("Email").fill(address)
    page.get_by_label("Role", exact=True).select_option("owner")
    page.get_by_test_id("invite-submit").click()
    expect(question).to_contain_text(f"Make {address} an owner?")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("invite-notice")).to_have_text(f"Invitation sent to {address}. It is valid for 7 days.")
    expect(page.get_by_test_id("user-row").filter(has_text=address)).to_have_attribute("data-role", "owner")
    assert console_errors == []
