"""Identity in real Chromium against the real local server: sign-up to two-factor sign-in, revoking a session from
another browser, and the owner's users page.

Email goes where ``make run`` sends it: the local server's Mailgun stand-in, read back from ``/_local/outbox``.
The shared ``cloud`` fixture keeps the template's defaults (Mailgun's real API, links to ``http://127.0.0.1:8000``),
so ``mail_to_outbox`` points this module's mail and links at the test server for as long as the module runs.

Accounts the tests need but do not sign up through the page are created in-process (``accounts.signup``): sign-up
is rate limited per source address and every browser test comes from 127.0.0.1.
"""

from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


# ------------------------------------------------------------------------------------------------ fixtures
# ------------------------------------------------------------------------------------------------ helpers
def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


def new_password() -> str:
    return f"Quiet-{uuid.uuid4().hex[:10]}-harbour-lantern"


def create_owner(company: str, name: str) -> tuple[str, str]:
    """A company and its owner, made in-process (no sign-up rate limit, email verified). Answers (email, password)."""
    from protu.identity.models import User

    from infra.seed import add_company

    email, password = unique_email("owner"), new_password()
    (owner,) = add_company("c-" + uuid.uuid4().hex[:12], company, [("owner", name, email)], password)
    owner.update(actions=[User.welcome_done_at.set(int(time.time()))])  # put the first steps away
    return email, password


def mail_link(local_server: str, to: str, path: str) -> str:
    """The newest ``{origin}{path}#token=...`` link emailed to ``to``."""
    pattern = re.compile(rf"https?://[^\s\"'<>]+{re.escape(path)}#token=[A-Za-z0-9_-]+")
    deadline = time.monotonic() + 5
    while True:
        for message in requests.get(f"{local_server}/_local/outbox", timeout=5).json():
            if to in message["to"] and (found := pattern.search(message["text"])):
                link = found.group(0)
                assert link.startswith(f"{local_server}{path}#"), link  # links point at the app's origin
                return link
        if time.monotonic() > deadline:
            raise AssertionError(f"no email to {to} with a {path} link")
        time.sleep(0.1)


def sign_in(page, email: str, password: str) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_test_id("signin-submit").click()


def sign_in_to_account(page, email: str, password: str) -> None:
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("header-user-name")).to_have_count(1)  # on a phone, behind the Menu button


def sign_out(page) -> None:
    page.get_by_test_id("header-sign-out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_test_id("signin-notice")).to_have_text("You are signed out.")


def age_sessions(email: str, seconds: int) -> None:
    """Make the user's sessions authenticated ``seconds`` ago, as if they had been open that long."""
    from protu.identity import accounts, sessions
    from protu.identity.models import Session

    user, _ = accounts.find_account(email)
    for session in sessions.live_for(user.tenant_id, user.id):
        session.update(actions=[Session.auth_time.set(int(time.time()) - seconds)])


def user_row(page, email: str):
    return page.get_by_test_id("user-row").filter(has=page.get_by_test_id("user-email").get_by_text(email, exact=True))


def expect_session_ended(page) -> None:
    """In-app navigation to a protected page: the server refuses the session, the page moves to sign-in."""
    page.get_by_test_id("nav-status").click()
    page.get_by_test_id("nav-account").click()
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Faccount$"))
    expect(page.get_by_test_id("signin-error")).to_have_text("This session was signed out. Sign in again.")
    expect(page.get_by_test_id("header-sign-out")).to_have_count(0)


# ------------------------------------------------------------------------------------------------ tests
def test_sign_up_verify_and_sign_in_with_two_factor(page, local_server, console_errors):
    email, password = unique_email("ada"), new_password()

    # Sign up, then confirm the address with the emailed link.
    page.goto("/signup")
    page.get_by_label("Company name").fill("Lovelace Analytics")
    page.get_by_label("Your name").fill("Ada Byron")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("I accept the terms of service and the privacy notice").check()
    page.get_by_test_id("signup-submit").click()
    expect(page).to_have_url(re.compile(r"/check-email\?kind=signup$"))
    expect(page.get_by_test_id("check-email-address")).to_have_text(email)

    page.goto(mail_link(local_server, email, "/verify-email"))
    expect(page.get_by_test_id("verify-email-success")).to_have_text("Your email address is confirmed.")
    expect(page).to_have_url(re.compile(r"/verify-email$"))  # the token left the address bar
    page.get_by_test_id("verify-email-continue").click()

    # Sign in with the password.
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_test_id("signin-submit")).to_be_visible()  # the sign-in page, not the one before it
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_test_id("signin-submit").click()

    # A new owner lands on their first steps, not on the account page; the address is ticked, two-factor is not.
    expect(page).to_have_url(re.compile(r"/welcome$"))
    expect(page.get_by_test_id("welcome-step-verify_email")).to_have_attribute("data-done", "true")
    expect(page.get_by_test_id("welcome-step-two_factor")).to_have_attribute("data-done", "false")
    expect(page.get_by_test_id("welcome-summary")).to_have_text("1 of 5 done.")
    page.get_by_test_id("welcome-step-two_factor").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("profile-email")).to_have_text(email)
    expect(page.get_by_test_id("profile-email-status")).to_have_text("Confirmed")
    expect(page.get_by_test_id("mfa-status")).to_have_text("Off")

    # Turn two-factor on. The sign-in is made older than the recent-authentication window: the page asks for the
    # password first, then carries on.
    age_sessions(email, 3600)
    page.get_by_test_id("mfa-setup-start").click()
    expect(page.get_by_test_id("reauth-dialog")).to_be_visible()
    page.get_by_test_id("reauth-password").fill(password)
    page.get_by_test_id("reauth-submit").click()
    expect(page.get_by_test_id("reauth-dialog")).to_have_count(0)
    expect(page.get_by_test_id("mfa-qr")).to_be_visible()
    secret = page.get_by_test_id("mfa-secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]{16,}", secret)
    totp = pyotp.TOTP(secret)

    enabled_step = int(time.time() // 30)
    page.get_by_test_id("mfa-confirm-code").fill(totp.at(enabled_step * 30))
    page.get_by_test_id("mfa-confirm-submit").click()
    codes = page.get_by_test_id("mfa-recovery-code")
    expect(codes).to_have_count(10)
    recovery_codes = [text.strip() for text in codes.all_inner_texts()]
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code) for code in recovery_codes)
    page.get_by_test_id("mfa-recovery-done").click()
    expect(page.get_by_test_id("mfa-notice")).to_have_text("Two-factor authentication is on.")
    expect(page.get_by_test_id("mfa-status")).to_have_text("On")
    sign_out(page)

    # Password, then the two-factor step: a wrong code is refused and may be retried; a fresh one signs in. A code
    # counts once and within one 30 s step either side of now: use the step after the enabling one (or now's).
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/two-factor$"))
    step = max(enabled_step + 1, int(time.time() // 30))
    valid = {totp.at((step + delta) * 30) for delta in (-2, -1, 0, 1, 2)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    page.get_by_test_id("two-factor-code").fill(wrong)
    page.get_by_test_id("two-factor-submit").click()
    expect(page.get_by_test_id("two-factor-error")).to_have_text("The code is not correct.")
    expect(page.get_by_test_id("two-factor-code")).to_have_attribute("aria-invalid", "true")
    page.get_by_test_id("two-factor-code").fill(totp.at(step * 30))
    page.get_by_test_id("two-factor-submit").click()
    expect(page).to_have_url(re.compile(r"/welcome$"))  # the first steps again, two-factor now ticked
    expect(page.get_by_test_id("welcome-step-two_factor")).to_have_attribute("data-done", "true")
    expect(page.get_by_test_id("welcome-summary")).to_have_text("2 of 5 done.")
    page.get_by_test_id("welcome-done").click()  # put away: from now on a sign-in lands on the account page
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("header-user-name")).to_have_text("Ada Byron")
    expect(page.get_by_test_id("mfa-status")).to_have_text("On")
    sign_out(page)

    # A saved recovery code works in place of the app, once.
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/two-factor$"))
    page.get_by_test_id("two-factor-toggle").click()
    page.get_by_test_id("two-factor-recovery").fill(recovery_codes[0])
    page.get_by_test_id("two-factor-submit").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("header-company")).to_have_text("Lovelace Analytics")
    assert console_errors == []


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_revoking_a_session_signs_the_other_browser_out(page, second_page, console_errors, size):
    # The other browser is told in plain words (issue 21, item 10: no "access token" jargon), at both sizes.
    second_page.set_viewport_size({"width": size[0], "height": size[1]})
    email, password = create_owner("Hopper Systems", "Grace Hopper")
    sign_in_to_account(second_page, email, password)
    sign_in_to_account(page, email, password)

    sessions = page.get_by_test_id("session-row")
    expect(sessions).to_have_count(2)
    current = page.locator('[data-testid="session-row"][data-current="true"]')
    expect(current).to_have_count(1)
    expect(current.get_by_test_id("session-current")).to_have_text("This device")
    expect(current.get_by_test_id("session-revoke")).to_have_count(0)
    other = page.locator('[data-testid="session-row"][data-current="false"]')
    expect(other.get_by_test_id("session-device")).to_have_text(re.compile(r"^Chrome \d+ on Linux$"))
    other.get_by_test_id("session-revoke").click()
    expect(page.get_by_test_id("sessions-notice")).to_have_text(re.compile(r"^Signed out Chrome \d+ on Linux\.$"))
    expect(sessions).to_have_count(1)
    expect(page.get_by_test_id("sessions-revoke-others")).to_be_hidden()

    # The other browser, reloaded, cannot restore its session and says why.
    second_page.reload()
    expect(second_page).to_have_url(re.compile(r"/signin\?next=%2Faccount$"))
    expect(second_page.get_by_test_id("signin-error")).to_have_text("This session was signed out. Sign in again.")
    expect(second_page.get_by_test_id("header-sign-out")).to_have_count(0)

    # This browser is unaffected.
    page.reload()
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    expect(page.get_by_test_id("header-user-name")).to_have_text("Grace Hopper")
    assert second_page.console_errors == []
    assert console_errors == []


def test_owner_manages_users(page, second_page, local_server, console_errors):
    owner_email, owner_password = create_owner("Curie Labs", "Marie Curie")
    admin_email, admin_password = unique_email("pierre"), new_password()
    sign_in_to_account(page, owner_email, owner_password)

    # Owners have the Users link; the only owner cannot demote or remove themselves.
    page.get_by_test_id("nav-users").click()
    expect(page).to_have_url(re.compile(r"/users$"))
    expect(page).to_have_title("Users · Protu")
    rows = page.get_by_test_id("user-row")
    expect(rows).to_have_count(1)
    me = user_row(page, owner_email)
    expect(me).to_have_attribute("data-me", "true")
    expect(me.get_by_test_id("user-you")).to_have_text("You")
    expect(me.get_by_test_id("user-role")).to_have_text("Owner")
    expect(me.get_by_test_id("user-role-locked")).to_have_text("A company needs at least one owner.")
    expect(me.get_by_test_id("user-status")).to_have_text("Active")
    expect(me.get_by_test_id("user-last-sign-in")).to_have_text("just now")
    expect(me.get_by_role("button")).to_have_count(0)

    # Invite an admin: an address the server refuses is explained at the field, then a good one goes out.
    page.get_by_label("Email").fill("pierre@localhost")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_test_id("invite-email-error")).to_contain_text("email address")
    expect(page.get_by_test_id("invite-error")).to_contain_text("email address")
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Email").fill(admin_email)
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_test_id("invite-notice")).to_have_text(
        f"Invitation sent to {admin_email}. It is valid for 7 days."
    )
    expect(page.get_by_label("Email")).to_have_value("")
    invitee = user_row(page, admin_email)
    expect(invitee.get_by_test_id("user-status")).to_have_text("Invited")
    expect(invitee.get_by_test_id("user-name")).to_have_text("Not joined yet")
    expect(invitee.get_by_test_id("user-last-sign-in")).to_have_text("Never")
    expect(invitee.get_by_test_id("user-role-select")).to_have_value("admin")

    # The invitee accepts in their own browser. As an admin there is no Users link, and the page shows no controls.
    second_page.goto(mail_link(local_server, admin_email, "/accept-invitation"))
    second_page.get_by_label("Your name").fill("Pierre Curie")
    second_page.get_by_label("Choose a password").fill(admin_password)
    second_page.get_by_test_id("accept-submit").click()
    expect(second_page).to_have_url(re.compile(r"/account$"))
    expect(second_page.get_by_test_id("account-notice")).to_have_text("Welcome to Curie Labs on Protu.")
    expect(second_page.get_by_test_id("profile-role")).to_have_text("Admin")
    expect(second_page.get_by_test_id("nav-account")).to_be_visible()
    expect(second_page.get_by_test_id("nav-users")).to_have_count(0)
    second_page.goto("/users")
    expect(second_page.get_by_test_id("users-not-owner")).to_contain_text("Only owners can manage users.")
    expect(second_page.get_by_test_id("invite-form")).to_have_count(0)
    expect(second_page.get_by_test_id("users-table")).to_have_count(0)

    # The owner sees them active and makes them an owner: now the owner's own row may change too.
    page.reload()
    expect(invitee.get_by_test_id("user-status")).to_have_text("Active")
    expect(invitee.get_by_test_id("user-name")).to_have_text("Pierre Curie")
    expect(invitee.get_by_test_id("user-mfa")).to_have_text("Off")
    expect(invitee.get_by_test_id("user-last-sign-in")).to_have_text("just now")
    expect(invitee.get_by_test_id("user-role-save")).to_be_disabled()
    invitee.get_by_test_id("user-role-select").select_option("owner")
    invitee.get_by_test_id("user-role-save").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Make Pierre Curie an owner?")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("users-notice")).to_have_text("Pierre Curie is now an owner.")
    expect(invitee).to_have_attribute("data-role", "owner")
    expect(invitee.get_by_test_id("user-role-select")).to_have_value("owner")
    expect(me.get_by_test_id("user-role-select")).to_have_value("owner")
    expect(me.get_by_test_id("user-remove")).to_be_visible()

    # Force sign-out: confirmed first; the invitee's next step lands on sign-in.
    invitee.get_by_test_id("user-sign-out").click()
    expect(page.get_by_test_id("confirm-message")).to_contain_text("Every session of Pierre Curie ends now")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("users-notice")).to_have_text("Pierre Curie was signed out everywhere.")
    expect_session_ended(second_page)

    # Remove: cancelling keeps them, confirming removes them.
    invitee.get_by_test_id("user-remove").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Remove Pierre Curie?")
    page.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    expect(rows).to_have_count(2)
    invitee.get_by_test_id("user-remove").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("users-notice")).to_have_text("Pierre Curie was removed.")
    expect(rows).to_have_count(1)
    expect(me.get_by_test_id("user-role-locked")).to_be_visible()

    # The removed person can no longer sign in.
    sign_in(second_page, admin_email, admin_password)
    expect(second_page.get_by_test_id("signin-error")).to_have_text("The email or password is not correct.")
    assert second_page.console_errors == []
    assert console_errors == []


def test_a_step_up_after_failed_attempts_asks_for_the_email_link_in_plain_words(page, local_server, console_errors):
    """Issue 15, attack 2: after a stranger's failed attempts the right password no longer signs in alone; the page
    says why and where the link went, and the link signs in."""
    from protu.security import login_guard

    email, password = create_owner("Noether Research", "Emmy Noether")
    for n in range(login_guard.ACCOUNT_LIMIT):  # five wrong passwords, from five other addresses
        login_guard.record_failure(email, f"198.51.100.{n + 1}")
    sign_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/check-email\?kind=stepup$"))
    message = page.get_by_test_id("check-email-message")
    expect(message).to_contain_text("Your password was right")
    expect(message).to_contain_text("failed to sign in to your account several times")
    expect(page.get_by_test_id("check-email-address")).to_have_text(email)
    expect(page.get_by_test_id("header-user-name")).to_have_count(0)

    page.goto(mail_link(local_server, email, "/magic"))
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("header-user-name")).to_have_text("Emmy Noether")
    assert console_errors == []
