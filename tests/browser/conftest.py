"""Browser fixtures: Debian's Chromium driven by Playwright, one browser per test session.

``local_server`` (tests/conftest.py) gives the base URL of the real local server; ``page`` opens a fresh
context on it, so ``page.goto("/")`` works. ``console_errors`` collects console errors (CSP violations are
reported there) and uncaught page errors, for tests to assert it stays empty.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import providers_on_local_server

# Assertions wait up to 10 s (as actions do, below) instead of Playwright's 5: on two busy cores, a request's answer
# (an argon2 check, a transaction with its audit event) can take longer than 5 s. A passing assertion waits no longer.
expect.set_options(timeout=10_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; `make test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", autouse=True)
def mail_to_outbox(local_server):
    """Every browser module: mail lands in the local server's outbox, as under ``make run``."""
    with providers_on_local_server(local_server):
        yield


def new_company(name: str, *, welcome: bool = False) -> dict[str, str]:
    """A fresh company with an owner ("Olga Owner") and an admin ("Adam Admin") who can sign in at once, with one
    password, created in-process (sign-up through the page is rate limited per address, and every browser test
    comes from 127.0.0.1). Answers their emails, the password, the owner's id and the company's id. The owner has
    put the first steps away (their sign-in lands on the account page) unless ``welcome``."""
    from protu.identity import accounts
    from protu.identity.models import User

    from infra.seed import add_company

    suffix = uuid.uuid4().hex[:12]
    password = f"Quiet-{uuid.uuid4().hex[:10]}-harbour-lantern"
    company_id = accounts.new_id("c")
    owner, admin = add_company(
        company_id,
        name,
        [
            ("owner", "Olga Owner", f"owner-{suffix}@example.com"),
            ("admin", "Adam Admin", f"admin-{suffix}@example.com"),
        ],
        password,
    )
    if not welcome:
        owner.update(actions=[User.welcome_done_at.set(int(time.time()))])
    return {
        "owner": owner.email,
        "admin": admin.email,
        "password": password,
        "owner_id": owner.id,
        "company_id": company_id,
    }


@pytest.fixture
def page(browser, local_server):
    context = browser.new_context(base_url=local_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def second_page(browser, local_server):
    """A second browser (its own cookies and storage, the same user agent), its console errors watched in
    ``second_page.console_errors``: another person, or the same person on another device."""
    context = browser.new_context(base_url=local_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = watch_console(page)
    yield page
    context.close()


def watch_console(page) -> list[str]:
    """Console errors (including CSP violations) and uncaught exceptions seen by ``page``, as strings, as they come.

    Chromium logs every 4xx answer as "Failed to load resource"; for ``/api/`` calls such an answer is part of the
    conversation (a wrong password is a 401 the page shows), so those are left out. A missing page module or
    asset is still an error."""
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if message.text.startswith("Failed to load resource: the server responded with a status of 4") and (
            "/api/" in url
        ):
            return
        errors.append(f"console: {message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    return errors


@pytest.fixture
def console_errors(page):
    """``watch_console`` on the test's ``page``."""
    return watch_console(page)


@pytest.fixture
def admin_login() -> tuple[str, str]:
    """A fresh company's admin, who can sign in at once. Answers (email, password). (``admin`` of tests/api is an
    account already signed in.)"""
    people = new_company("Lopez Hiring")
    return people["admin"], people["password"]


def sign_in(page, email: str, password: str, name: str = "Adam Admin") -> None:
    """Sign in through the page and wait until the header names the person. The password check (argon2) is slow on
    purpose: on a busy machine running two workers it may take longer than an assertion's usual 5 s."""
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_test_id("signin-submit").click()
    expect(page).to_have_url(re.compile(r"/account$"), timeout=15_000)
    expect(page.get_by_test_id("header-user-name")).to_have_text(name)


def sign_in_was_long_ago(company_id: str, user_id: str) -> None:
    """Every session of the user last authenticated an hour ago: the next sensitive step asks to confirm it."""
    from protu.identity.models import Session

    for found in Session.query(Session.partition(company_id, user_id), consistent_read=True):
        found.update(actions=[Session.auth_time.set(int(time.time()) - 3600)])


class Elsewhere:
    """Another session of the same person, talking to the API directly (as another tab or device would)."""

    def __init__(self, base: str, email: str, password: str) -> None:
        self.base = base
        self.http = requests.Session()
        reply = self.http.post(f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=10)
        assert reply.status_code == 200, reply.text
        self.http.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def call(self, method: str, path: str, body: dict | None = None, status: int = 200) -> dict | None:
        reply = self.http.request(method, f"{self.base}{path}", json=body, timeout=10)
        assert reply.status_code == status, reply.text
        return reply.json() if reply.content else None
