"""Sign-up asks for the terms and privacy notice and can show the password typed; a two-factor code just used is
told apart from a wrong one (issue 21, items 7 and 11), at a desktop's and a phone's size."""

from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, new_company

pytestmark = pytest.mark.browser


def spend_a_code(base: str, email: str, password: str) -> str:
    """Two-factor on for the account, and a sign-in elsewhere with the app's next code: answers that code."""
    elsewhere = Elsewhere(base, email, password)
    secret = elsewhere.call("POST", "/api/me/mfa/totp")["secret"]
    elsewhere.call("POST", "/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    code = pyotp.TOTP(secret).at(time.time() + 30)  # usable for the next 60 to 90 seconds, unless used
    step = requests.post(f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=10).json()
    reply = requests.post(f"{base}/api/auth/mfa", json={"mfa_token": step["mfa_token"], "code": code}, timeout=10)
    assert reply.status_code == 200, reply.text
    return code


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_sign_up_terms_show_password_and_a_code_just_used(page, local_server, console_errors, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})

    # Sign-up: the password can be shown and hidden again (a toggle button beside it).
    page.goto("/signup")
    page.get_by_label("Company name").fill("Hopper Compilers")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Work email").fill(f"grace-{uuid.uuid4().hex[:12]}@example.com")
    password = page.get_by_test_id("signup-password")
    password.fill(f"Quiet-{uuid.uuid4().hex[:10]}-harbour-lantern")
    reveal = page.get_by_role("button", name="Show password")
    expect(reveal).to_have_attribute("aria-pressed", "false")
    reveal.click()
    expect(reveal).to_have_attribute("aria-pressed", "true")
    expect(password).to_have_attribute("type", "text")
    reveal.click()
    expect(password).to_have_attribute("type", "password")

    # Not without accepting the terms and the privacy notice, which the form links to.
    terms = page.get_by_label("I accept the terms of service and the privacy notice")
    expect(page.get_by_test_id("signup-terms-link")).to_have_attribute("href", "/terms")
    expect(page.get_by_test_id("signup-privacy-link")).to_have_attribute("href", "/privacy")
    page.get_by_test_id("signup-submit").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    assert terms.evaluate("box => box.validity.valueMissing")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    terms.check()
    page.get_by_test_id("signup-submit").click()
    expect(page).to_have_url(re.compile(r"/check-email\?kind=signup$"))
    page.goto("/terms")
    expect(page.get_by_test_id("terms-page")).to_contain_text("Version 2026-12-01")
    page.get_by_test_id("terms-page").get_by_role("link", name="privacy notice").click()
    expect(page.get_by_test_id("privacy-page")).to_contain_text("Version 2026-12-01")

    # Sign-in with two-factor: a code just used elsewhere is named as such, at the code field, and may be retried.
    people = new_company("Hopper Compilers")
    code = spend_a_code(local_server, people["admin"], people["password"])
    page.goto("/signin")
    page.get_by_label("Email").fill(people["admin"])
    page.get_by_label("Password").fill(people["password"])
    expect(page.get_by_role("button", name="Show password")).to_have_attribute("aria-pressed", "false")
    page.get_by_test_id("signin-submit").click()
    expect(page).to_have_url(re.compile(r"/two-factor$"), timeout=15_000)
    page.get_by_test_id("two-factor-code").fill(code)
    page.get_by_test_id("two-factor-submit").click()
    just_used = "This code was just used; wait for the next one."
    expect(page.get_by_test_id("two-factor-code-error")).to_have_text(just_used)
    expect(page.get_by_test_id("two-factor-error")).to_have_text(just_used)
    expect(page.get_by_test_id("two-factor-code")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("two-factor-code")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert console_errors == []
