"""Browser fixtures: Debian's Chromium driven by Playwright, one browser per test session.

``local_server`` (tests/conftest.py) gives the base URL of the real local server; ``page`` opens a fresh
context on it, so ``page.goto("/")`` works. ``console_errors`` collects console errors (CSP violations are
reported there) and uncaught page errors, for tests to assert it stays empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import mail_to_local_outbox

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
    with mail_to_local_outbox(local_server):
        yield


@pytest.fixture
def page(browser, local_server):
    context = browser.new_context(base_url=local_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
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
