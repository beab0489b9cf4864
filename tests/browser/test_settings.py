"""Company settings in real Chromium: the owner renames the company and shortens the inactivity timeout (saved,
shown in the header, kept after a reload), is told at the field what is wrong with a domain, is told when someone
else changed the settings meanwhile, and turns on "require two-factor". An admin without two-factor who signs in
then is taken to set it up, cannot open the candidates until they do, and afterwards can; an admin opening the
settings gets an explanation instead of the form. The owner sees the company's data key: its version and when it
was and will be rotated."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from infra import ops
from tests.browser.conftest import Elsewhere, new_company, sign_in

pytestmark = pytest.mark.browser


def test_owner_changes_settings_and_two_factor_becomes_required(page, second_page, local_server, console_errors):
    people = new_company("Quarry Hiring")
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    expect(page.get_by_test_id("header-company")).to_have_text("Quarry Hiring")

    # The current settings, in the form.
    page.get_by_test_id("nav-settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page).to_have_title("Settings · Protu")
    expect(page.get_by_test_id("settings-company-name")).to_have_value("Quarry Hiring")
    expect(page.get_by_test_id("settings-idle")).to_have_value("30")
    expect(page.get_by_test_id("settings-retention")).to_have_value("24")
    expect(page.get_by_test_id("settings-domains")).to_have_value("")
    expect(page.get_by_test_id("settings-require-mfa")).not_to_be_checked()
    expect(page.get_by_test_id("settings-data-key")).to_contain_text("made when you first store people’s details")

    # The company's own data key: its version and rotation dates, once it exists (an operator's first rotation
    # makes it) and after a second rotation.
    for _ in range(2):
        assert ops.main(["keys", "rotate", "--tenant", people["company_id"]]) == 0
    page.reload()
    expect(page.get_by_test_id("settings-data-key-version")).to_have_text("2")
    expect(page.get_by_test_id("settings-data-key")).to_contain_text("It is replaced every 365 days")
    expect(page.get_by_test_id("settings-data-key-next")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))

    # Nothing changed: nothing to save.
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-notice")).to_have_text("Nothing to save: the settings are unchanged.")

    # A new name and a shorter timeout: saved, the header follows, and both survive a reload.
    page.get_by_label("Company name").fill("Quarry & Stone Hiring")
    page.get_by_label("Sign out after inactivity (minutes)").fill("15")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-notice")).to_have_text("Your settings are saved.")
    expect(page.get_by_test_id("header-company")).to_have_text("Quarry & Stone Hiring")
    page.reload()
    expect(page.get_by_test_id("header-company")).to_have_text("Quarry & Stone Hiring")
    expect(page.get_by_test_id("settings-company-name")).to_have_value("Quarry & Stone Hiring")
    expect(page.get_by_test_id("settings-idle")).to_have_value("15")

    # A bad domain is named at the field; good ones are saved lower case, one per line.
    domains = page.get_by_label("Allowed email domains for invitations")
    domains.fill("Quarry.example\nana@quarry.example")
    page.get_by_test_id("settings-save").click()
    error = page.get_by_test_id("settings-domains-error")
    expect(error).to_contain_text("“ana@quarry.example”: Enter the domain only")
    expect(domains).to_have_attribute("aria-invalid", "true")
    domains.fill("Quarry.example\n\n  stone.example  ")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-notice")).to_have_text("Your settings are saved.")
    expect(domains).to_have_value("quarry.example\nstone.example")

    # Someone else changed the settings meanwhile: said, and the latest ones can be loaded.
    other = Elsewhere(local_server, people["owner"], people["password"])
    current = other.call("GET", "/api/settings")
    other.call("PATCH", "/api/settings", {"version": current["version"], "candidate_retention_months": 12})
    page.get_by_label("Keep candidates for (months)").fill("36")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-error")).to_contain_text(
        "Someone else changed the settings after you opened them"
    )
    page.get_by_test_id("settings-reload").click()
    expect(page.get_by_test_id("settings-notice")).to_have_text(
        "These are the latest settings. Make your change again."
    )
    expect(page.get_by_test_id("settings-retention")).to_have_value("12")

    # Two-factor for everyone: the owner, who has none, is told to set it up too.
    page.get_by_label("Require two-factor authentication for everyone").check()
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-notice")).to_contain_text(
        "Two-factor authentication is now required, of you too"
    )
    page.goto("/candidates")
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("mfa-required-notice")).to_be_visible()
    expect(page.get_by_test_id("nav-candidates")).to_have_count(0)  # only the account is offered meanwhile

    # An admin without two-factor signs in: taken to set it up, held there.
    admin_page, admin_errors = second_page, second_page.console_errors
    sign_in(admin_page, people["admin"], people["password"])
    expect(admin_page.get_by_test_id("mfa-required-notice")).to_contain_text(
        "Your company requires two-factor authentication."
    )
    expect(admin_page.get_by_test_id("header-company")).to_have_text("Quarry & Stone Hiring")
    expect(admin_page.get_by_test_id("nav-account")).to_be_visible()
    expect(admin_page.get_by_test_id("nav-candidates")).to_have_count(0)
    admin_page.goto("/candidates")
    expect(admin_page).to_have_url(re.compile(r"/account$"))
    expect(admin_page.get_by_test_id("mfa-required-notice")).to_be_visible()
    api = Elsewhere(local_server, people["admin"], people["password"])
    api.call("GET", "/api/candidates", status=403)

    # Two-factor on: the rest opens.
    admin_page.get_by_test_id("mfa-setup-start").click()
    expect(admin_page.get_by_test_id("mfa-qr")).to_be_visible()
    secret = admin_page.get_by_test_id("mfa-secret").get_attribute("data-secret")
    admin_page.get_by_test_id("mfa-confirm-code").fill(pyotp.TOTP(secret).now())
    admin_page.get_by_test_id("mfa-confirm-submit").click()
    expect(admin_page.get_by_test_id("mfa-recovery-code")).to_have_count(10)
    admin_page.get_by_test_id("mfa-recovery-done").click()
    expect(admin_page.get_by_test_id("mfa-notice")).to_contain_text("The rest of Protu is open to you again")
    expect(admin_page.get_by_test_id("mfa-required-notice")).to_be_hidden()
    admin_page.get_by_test_id("mfa-continue").click()
    expect(admin_page).to_have_url(re.compile(r"/candidates$"))
    expect(admin_page.get_by_test_id("candidates-empty")).to_be_visible()

    # Settings are the owners': the admin is told so.
    admin_page.goto("/settings")
    expect(admin_page.get_by_test_id("settings-not-owner")).to_contain_text(
        "Only owners can manage the company’s settings"
    )
    expect(admin_page.get_by_test_id("settings-form")).to_have_count(0)
    assert admin_errors == []
    assert console_errors == []
