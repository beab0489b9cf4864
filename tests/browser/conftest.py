"""Browser fixtures: Debian's Chromium driven by Playwright, one browser per test session.

``local_server`` (tests/conftest.py) gives the base URL of the real local server; ``page`` opens a fresh
context on it, so ``page.goto("/")`` works. ``console_errors`` collects console errors (CSP violations are
reported there) and uncaught page errors, for tests to assert it stays empty.

Every ``page`` and ``second_page`` is checked by axe-core (``axe-playwright-python``'s copy): on each path the SPA
renders (its router's ``protu:page`` event, once the page is quiet; each path once a test) and on the test's final
state. A test that passes otherwise fails on any violation, of any impact, with the rule, its impact, where, and
what to do (``axe_failure``).
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from axe_playwright_python.base import AXE_SCRIPT
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
        "admin_id": admin.id,
        "company_id": company_id,
    }


@pytest.fixture
def page(browser, local_server, request):
    context = browser.new_context(base_url=local_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    request.node.stash.setdefault(AXE_PAGES, []).append(AxeWatch(page))
    yield page
    context.close()


@pytest.fixture
def second_page(browser, local_server, request):
    """A second browser (its own cookies and storage, the same user agent), its console errors watched in
    ``second_page.console_errors``: another person, or the same person on another device."""
    context = browser.new_context(base_url=local_server)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = watch_console(page)
    request.node.stash.setdefault(AXE_PAGES, []).append(AxeWatch(page))
    yield page
    context.close()


# ------------------------------------------------------------------------------------------------ axe-core
# In the page (before the SPA's own scripts, outside its CSP): axe, and a check of each path the router shows once
# the page is quiet: no request of its own under way and no change to the document for a moment (at most 3 s).
# A run during which the document changed (an answer came) is run again, up to twice: axe reads the page in steps,
# and a page changing under it gives findings of neither state. ``__protuAxeCheck(quietMs)`` answers {url,
# changed, violations: [{id, impact, help, targets}]}; runs queue behind each other (axe allows one at a time).
AXE_WATCH = """(() => {
  if (window.top !== window) return;
  const WATCH = { subtree: true, childList: true, attributes: true, characterData: true };
  let queue = Promise.resolve();
  let requests = 0;
  const fetch = window.fetch;
  window.fetch = function (...args) {
    requests += 1;
    return fetch.apply(this, args).finally(() => { requests -= 1; });
  };
  const quiet = (ms) => new Promise((resolve) => {
    let timer = null;
    const wait = () => { clearTimeout(timer); timer = setTimeout(() => (requests > 0 ? wait() : done()), ms); };
    const done = () => { observer.disconnect(); clearTimeout(timer); clearTimeout(limit); resolve(); };
    const observer = new MutationObserver(wait);
    const limit = setTimeout(done, 3000);
    observer.observe(document, WATCH);
    wait();
  });
  const run = async (ms) => {
    for (let attempt = 1; ; attempt += 1) {
      await quiet(ms);
      let changed = false;
      const observer = new MutationObserver(() => { changed = true; });
      observer.observe(document, WATCH);
      const url = location.pathname + location.search;
      const results = await axe.run(document, { resultTypes: ["violations"] }).finally(() => observer.disconnect());
      if (changed && attempt < 3) continue;
      const violations = results.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((node) => node.target.join(" ")),
      }));
      return { url, changed, violations };
    }
  };
  window.__protuAxeCheck = (quietMs) => {
    const checked = queue.then(() => run(quietMs));
    queue = checked.catch(() => {});
    return checked;
  };
  window.addEventListener("protu:page", async () => {
    window.__protuAxeSpa = true;
    const path = location.pathname;
    if (!window.__protuAxeWanted || !(await window.__protuAxeWanted(path))) return;
    const found = await window.__protuAxeCheck(250).catch((error) => ({ url: path, error: String(error) }));
    window.__protuAxeReport(found);
  });
})();"""

AXE_PAGES = pytest.StashKey[list]()


class AxeWatch:
    """axe-core on one page: what the router's pages showed (``found``), and the final state (``finish``)."""

    def __init__(self, page) -> None:
        self.page = page
        self.auto = True  # check each new path the router shows (test_accessibility checks where it wants)
        self.checked: set[str] = set()
        self.found: list[dict] = []
        page.axe = self
        page.context.add_init_script(script=AXE_SCRIPT + "\n" + AXE_WATCH)
        page.context.expose_function("__protuAxeWanted", lambda path: self.auto and path not in self.checked)
        page.context.expose_function("__protuAxeReport", self.report)

    def report(self, found: dict) -> None:
        self.checked.add(found["url"].split("?", 1)[0])
        if found.get("error") or found["violations"]:
            self.found.append(found)

    def check(self, quiet_ms: int = 250) -> dict:
        """axe on the page as it is, once it has been quiet (no request under way, no change) for ``quiet_ms``:
        {url, violations}."""
        return self.page.evaluate("(ms) => window.__protuAxeCheck(ms)", quiet_ms)

    def finish(self) -> list[dict]:
        """Everything found, the final state checked too (when the page shows the SPA, not a file or an answer)."""
        try:
            final = self.page.evaluate("() => window.__protuAxeSpa ? window.__protuAxeCheck(50) : null")
        except Exception:  # noqa: BLE001 - closed, crashed or navigating: the paths seen so far are the answer
            final = None
        if final and final["violations"]:
            self.found.append(final)
        return self.found


def axe_failure(found: list[dict]) -> str:
    """What axe found, readable: one block a page, one line a rule, its targets below."""
    lines = []
    for page in found:
        lines.append(f"axe-core on {page['url']}:")
        if page.get("error"):
            lines.append(f"  could not run: {page['error']}")
        for violation in page.get("violations", []):
            lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
            lines.extend(f"      at {target}" for target in violation["targets"][:5])
            if len(violation["targets"]) > 5:
                lines.append(f"      and {len(violation['targets']) - 5} more")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A browser test that passed fails on what axe found on its pages."""
    result = yield
    found = [violation for watch in item.stash.get(AXE_PAGES, []) for violation in watch.finish()]
    if found:
        pytest.fail(axe_failure(found), pytrace=False)
    return result


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


def follow_nav(page, testid: str) -> None:
    """Click a link of the signed-in navigation (``nav-roles``...), opening the Menu first on a narrow screen."""
    button = page.get_by_test_id("menu-button")
    if button.is_visible() and button.get_attribute("aria-expanded") != "true":
        button.click()
    page.get_by_test_id(testid).click()


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
