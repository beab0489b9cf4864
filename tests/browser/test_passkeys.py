"""Passkeys in real Chromium (issue 22): real WebAuthn ceremonies, answered by Chromium's virtual authenticator (the
DevTools protocol's WebAuthn domain, through Playwright's CDP session) as a laptop's fingerprint reader would.
Registered from the account page, used as the first factor (no email typed) and as the second; a copy of a passkey
(its counter gone back) and a passkey of another site are refused.

WebAuthn needs a domain: Chromium refuses an IP address as the relying party ("This is an invalid domain"), which is
why the local server is http://localhost:<port> (``LocalServer.url``) and the APP_ORIGIN of the browser tests."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect

from tests.browser.conftest import follow_nav, new_company, sign_in, sign_in_was_long_ago

pytestmark = pytest.mark.browser

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# How the session on screen was started (the account page's sessions section).
CURRENT_METHOD = '[data-testid="session-row"][data-current="true"] [data-testid="session-method"]'


@pytest.fixture(scope="module")
def people():
    return new_company("Hopper Keys")


def authenticator(page) -> tuple:
    """A virtual platform authenticator in ``page``'s browser: answers (CDP session, authenticator id)."""
    client = page.context.new_cdp_session(page)
    client.send("WebAuthn.enable")
    found = client.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return client, found["authenticatorId"]


def add_passkey(page, name: str, *, password: str | None = None):
    """From the account page; with ``password``, the sign-in was long ago and the page asks to confirm it first.
    Answers the passkey's row."""
    section = page.get_by_test_id("passkeys-section")
    expect(section.get_by_test_id("passkeys-none")).to_be_visible()
    section.get_by_test_id("passkey-new-name").fill(name)
    section.get_by_test_id("passkey-add").click()
    if password is not None:
        page.get_by_test_id("reauth-password").fill(password)
        page.get_by_test_id("reauth-submit").click()
    expect(section.get_by_test_id("passkeys-notice")).to_have_text(re.compile(f"Passkey “{name}” added"))
    row = section.get_by_test_id("passkey-row")
    expect(row.get_by_test_id("passkey-name")).to_have_text(name)
    return row


def autofill(page, on: bool) -> None:
    """Whether this browser offers its passkeys among the email field's suggestions (conditional mediation). The
    virtual authenticator picks the first one offered at once, as a person would; off, the browser is one without
    conditional mediation (the sign-in page then waits for its button)."""
    page.evaluate(
        """(on) => {
          window.__conditional ??= PublicKeyCredential.isConditionalMediationAvailable;
          PublicKeyCredential.isConditionalMediationAvailable = on ? window.__conditional : async () => false;
        }""",
        on,
    )


def sign_out(page) -> None:
    follow_nav(page, "header-sign-out")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_register_sign_in_with_a_passkey_and_a_copy_refused(page, people, console_errors):
    client, authenticator_id = authenticator(page)
    sign_in(page, people["owner"], people["password"], "Olga Owner")
    sign_in_was_long_ago(people["company_id"], people["owner_id"])
    row = add_passkey(page, "Work laptop", password=people["password"])
    # The first second factor: ten recovery codes, shown once, as after turning on the app.
    expect(page.locator("#passkey-recovery-title")).to_be_focused()
    expect(page.get_by_test_id("passkey-recovery-code")).to_have_count(10)
    page.get_by_test_id("passkey-recovery-done").click()
    expect(page.get_by_test_id("passkey-recovery")).to_have_count(0)
    expect(row.get_by_test_id("passkey-kind")).to_have_text("This device only")
    expect(row.get_by_test_id("passkey-created")).to_have_text("just now")
    expect(row.get_by_test_id("passkey-last-used")).to_have_text("Never")

    row.get_by_test_id("passkey-rename").click()
    expect(page.get_by_test_id("passkey-rename-name")).to_be_focused()
    assert page.axe.check()["violations"] == []  # the dialog too
    page.get_by_test_id("passkey-rename-name").fill("Laptop")
    page.get_by_test_id("passkey-rename-save").click()
    expect(row.get_by_test_id("passkey-name")).to_have_text("Laptop")
    expect(row.get_by_test_id("passkey-rename")).to_be_focused()

    # The section at a phone's size: nothing wider than the screen, and axe finds nothing.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(row.get_by_test_id("passkey-remove")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.axe.check()["violations"] == []
    page.set_viewport_size({"width": 1280, "height": 800})

    # Signed out, then in with the passkey alone: no email typed.
    autofill(page, on=False)
    sign_out(page)
    page.get_by_test_id("signin-passkey").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("header-user-name")).to_have_text("Olga Owner")
    expect(row.get_by_test_id("passkey-last-used")).to_have_text("just now")
    expect(page.locator(CURRENT_METHOD)).to_have_text("Signed in with a passkey")

    # A copy of the passkey whose counter is behind the one Protu saw last: refused, said plainly.
    sign_out(page)
    [credential] = client.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert credential["signCount"] > 0
    held = {"authenticatorId": authenticator_id}
    client.send("WebAuthn.removeCredential", {**held, "credentialId": credential["credentialId"]})
    client.send("WebAuthn.addCredential", {**held, "credential": {**credential, "signCount": 0}})
    page.get_by_test_id("signin-passkey").click()
    expect(page.get_by_test_id("signin-error")).to_have_text(re.compile(r"passkey looks copied"))
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert console_errors == []


def test_a_passkey_as_the_second_factor_from_the_suggestions_then_removed(page, people, console_errors):
    authenticator(page)
    sign_in(page, people["admin"], people["password"])
    add_passkey(page, "Phone")
    autofill(page, on=False)
    sign_out(page)

    # The password first; the passkey is the second factor the step asks for.
    page.get_by_label("Email").fill(people["admin"])
    page.get_by_label("Password").fill(people["password"])
    page.get_by_test_id("signin-submit").click()
    expect(page).to_have_url(re.compile(r"/two-factor$"))
    page.get_by_test_id("two-factor-passkey").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator(CURRENT_METHOD)).to_have_text("Signed in with password and passkey")

    # Signed out where the browser offers passkeys among the email field's suggestions: picked, signed in.
    autofill(page, on=True)
    follow_nav(page, "header-sign-out")  # the sign-in page is shown, then left at once: no sign_out() here
    expect(page.locator(CURRENT_METHOD)).to_have_text("Signed in with a passkey")

    # Removed, after a confirmation; the sign-in was long ago, and the passkey confirms it is Adam instead of the
    # password.
    sign_in_was_long_ago(people["company_id"], people["admin_id"])
    page.get_by_test_id("passkey-remove").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("reauth-dialog")).to_be_visible()
    page.get_by_test_id("reauth-passkey").click()
    expect(page.get_by_test_id("passkeys-notice")).to_have_text("Passkey “Phone” removed.")
    expect(page.get_by_test_id("passkeys-none")).to_be_visible()
    assert console_errors == []


def test_a_passkey_of_another_site_is_not_offered(page, console_errors):
    """The device holds a passkey, but for evil.example: the browser offers none to Protu, and nobody is signed in."""
    client, authenticator_id = authenticator(page)
    key = ec.generate_private_key(ec.SECP256R1())
    der, pkcs8 = serialization.Encoding.DER, serialization.PrivateFormat.PKCS8
    pkcs8 = key.private_bytes(der, pkcs8, serialization.NoEncryption())
    credential = {
        "credentialId": base64.b64encode(b"evil-credential-0001").decode(),
        "isResidentCredential": True,
        "rpId": "evil.example",
        "privateKey": base64.b64encode(pkcs8).decode(),
        "userHandle": base64.b64encode(b"somebody").decode(),
        "signCount": 1,
    }
    client.send("WebAuthn.addCredential", {"authenticatorId": authenticator_id, "credential": credential})
    page.goto("/signin")
    page.get_by_test_id("signin-passkey").click()
    expect(page.get_by_test_id("signin-error")).to_have_text(re.compile(r"^No passkey was used"))
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert console_errors == []
