"""The account page tells two sessions apart (browser and version, system, network, sign-in method, started, last
active) and makes new recovery codes after re-authentication (issue 21, item 6), at a desktop's and a phone's
size."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import new_company, sign_in

pytestmark = pytest.mark.browser

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def firefox_session(base: str, email: str, password: str) -> requests.Session:
    """The same person signed in elsewhere (Firefox on Windows), talking to the API directly."""
    http = requests.Session()
    http.headers["User-Agent"] = FIREFOX
    reply = http.post(f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=10)
    assert reply.status_code == 200, reply.text
    http.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
    return http


def turn_on_two_factor(base: str, http: requests.Session) -> None:
    secret = http.post(f"{base}/api/me/mfa/totp", timeout=10).json()["secret"]
    reply = http.post(f"{base}/api/me/mfa/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, timeout=10)
    assert reply.status_code == 200, reply.text


def sign_in_was_long_ago(email: str) -> None:
    from protu.identity import accounts, sessions
    from protu.identity.models import Session

    user, _ = accounts.find_account(email)
    for session in sessions.live_for(user.tenant_id, user.id):
        session.update(actions=[Session.auth_time.set(int(time.time()) - 3600)])


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_two_sessions_told_apart_and_new_recovery_codes(page, local_server, console_errors, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    people = new_company("Lamarr Radio")
    email, password = people["owner"], people["password"]
    sign_in(page, email, password, "Olga Owner")
    elsewhere = firefox_session(local_server, email, password)
    turn_on_two_factor(local_server, elsewhere)  # turned on elsewhere: this page learns it when reloaded
    page.reload()

    # Two sessions, told apart by browser and system, with their network, method and times.
    rows = page.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    mine = page.locator('[data-testid="session-row"][data-current="true"]')
    other = page.locator('[data-testid="session-row"][data-current="false"]')
    expect(mine.get_by_test_id("session-device")).to_have_text(re.compile(r"^Chrome \d+ on Linux$"))
    expect(mine.get_by_test_id("session-current")).to_have_text("This device")
    expect(other.get_by_test_id("session-device")).to_have_text("Firefox 128 on Windows")
    expect(other.get_by_test_id("session-network")).to_have_text("Network 127.0.0.0/16")
    expect(other.get_by_test_id("session-method")).to_have_text("Signed in with password")
    expect(other.get_by_test_id("session-created")).to_have_text("just now")
    expect(other.get_by_test_id("session-last-seen")).to_have_text("just now")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen

    # Recovery codes: how many are left, and a new set after confirming the password.
    expect(page.get_by_test_id("mfa-recovery-left")).to_have_text(re.compile(r"^10 recovery codes left\."))
    sign_in_was_long_ago(email)
    page.get_by_test_id("mfa-recovery-new").click()
    expect(page.get_by_test_id("reauth-dialog")).to_be_visible()
    page.get_by_test_id("reauth-password").fill(password)
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_role("heading", name="Save your new recovery codes")).to_be_focused()
    codes = page.get_by_test_id("mfa-recovery-code")
    expect(codes).to_have_count(10)
    expect(page.get_by_test_id("mfa-recovery-download")).to_be_visible()
    expect(page.get_by_test_id("mfa-recovery-copy")).to_be_visible()
    shown = [code.strip() for code in codes.all_inner_texts()]
    page.get_by_test_id("mfa-recovery-done").click()
    expect(page.get_by_test_id("mfa-notice")).to_have_text(
        "Your new recovery codes are ready. The earlier ones no longer work."
    )
    expect(page.get_by_test_id("mfa-recovery-left")).to_have_text(re.compile(r"^10 recovery codes left\."))

    # The codes shown are the ones that work: one signs in (and then counts as used).
    step = requests.post(f"{local_server}/api/auth/login", json={"email": email, "password": password}, timeout=10)
    finished = requests.post(
        f"{local_server}/api/auth/mfa", json={"mfa_token": step.json()["mfa_token"], "code": shown[0]}, timeout=10
    )
    assert finished.status_code == 200, finished.text
    page.reload()
    expect(page.get_by_test_id("mfa-recovery-left")).to_have_text(re.compile(r"^9 recovery codes left\."))
    assert console_errors == []
