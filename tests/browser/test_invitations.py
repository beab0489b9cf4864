"""Invitations in real Chromium: the refuse link of an invitation email, and the owner's users page explaining the
answers an invitation can get (here: an address that refuses invitations)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, new_company, sign_in
from tests.browser.test_identity import mail_link

pytestmark = pytest.mark.browser


def test_the_refuse_link_asks_first_then_stops_invitations(page, second_page, local_server, console_errors):
    people = new_company("Refusal Works")
    email = f"unwilling-{uuid.uuid4().hex[:12]}@example.com"
    owner = Elsewhere(local_server, people["owner"], people["password"])
    owner.call("POST", "/api/users/invitations", {"email": email, "role": "admin"}, status=201)

    # The invitee opens the refuse link: nothing happens until they confirm (a mail scanner must not refuse).
    link = mail_link(local_server, email, "/refuse-invitation")
    second_page.goto(link)
    expect(second_page).to_have_url(re.compile(r"/refuse-invitation$"))  # the token left the address bar
    expect(second_page.get_by_test_id("refuse-form")).to_contain_text("nobody on Protu can invite this email address")
    second_page.get_by_test_id("refuse-submit").click()
    expect(second_page.get_by_test_id("refuse-done")).to_have_text(
        "Done. You will get no more invitations to Protu at this address."
    )
    second_page.goto("about:blank")
    second_page.goto(link)  # the link worked once
    second_page.get_by_test_id("refuse-submit").click()
    expect(second_page.get_by_test_id("refuse-link-error")).to_be_visible()

    # The owner tries again from the users page and is told why it cannot be sent, in plain words.
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    page.goto("/users")
    page.get_by_label("Email").fill(email)
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_test_id("invite-error")).to_have_text(
        "The owner of this address asked not to receive invitations to Protu. Ask them for another address, or to "
        "sign up themselves."
    )
    expect(page.get_by_test_id("invite-email-error")).to_be_visible()
    assert second_page.console_errors == []
    assert console_errors == []
