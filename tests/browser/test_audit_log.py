"""The owner's audit log in real Chromium: the owner reads their company's events with people and records by name
(the ids still there), filters them by a choice of the log's actions (kept in the address), verifies the hash chain,
exports a range for an auditor and downloads it with the public key, and streams the log to a SIEM (the local
server's receiver), confirming it is them and seeing the secret once; the page fits a phone without breaking an
action, a button, a name or an id inside a word. An admin has no link to it and is told why on /audit.

The export job runs on the data table's stream and signs through the audit mirror; nothing pumps them in tests, so
the test's ``StreamPump``s run them by hand, as the event source mappings (``infra/background.py`` under ``make
run``) would. The download URL is S3's (presigned, a fake host here): the browser's request for it is answered with
the stored object by the test.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jobs
import pytest
import requests
from playwright.sync_api import expect
from protu import audit
from protu.ops import backup
from protu.settings import reload, settings
from standardwebhooks.webhooks import Webhook

from infra.streams import StreamPump
from tests.browser.conftest import Elsewhere, follow_nav, new_company, sign_in, sign_in_was_long_ago

pytestmark = pytest.mark.browser


@pytest.fixture
def company() -> dict[str, str]:
    """A fresh company with an owner and an admin who can sign in at once (one password for both)."""
    return new_company("Audit Works")


def row(page, action: str):
    return page.locator(f'[data-testid="audit-row"][data-action="{action}"]')


def open_audit_log(page, company) -> None:
    sign_in(page, company["owner"], company["password"], "Olga Owner")
    follow_nav(page, "nav-audit")
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.get_by_test_id("audit-row").first).to_be_visible()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_owner_reads_names_filters_and_verifies_the_audit_log(page, company, local_server, console_errors, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    owner_id = company["owner_id"]
    elsewhere = Elsewhere(local_server, company["owner"], company["password"])
    candidate = elsewhere.call(
        "POST", "/api/candidates", {"name": "Carla Candidate", "email": "carla@example.com"}, status=201
    )
    elsewhere.call("GET", "/api/candidates")  # a read of personal data: on the record, naming whom
    open_audit_log(page, company)
    expect(page).to_have_title("Audit log · Protu")

    # People, records and Protu's own actors by name, their ids under the names.
    login = row(page, "auth.login").first
    expect(login.get_by_test_id("audit-row-actor-name")).to_have_text("Olga Owner")
    expect(login.get_by_test_id("audit-row-actor-name-id")).to_have_text(owner_id)
    expect(login).to_have_attribute("data-actor", owner_id)
    expect(login.get_by_test_id("audit-row-outcome")).to_have_text("success")
    seed = row(page, "system.seed")
    expect(seed).to_have_count(1)
    expect(seed.get_by_test_id("audit-row-actor-name")).to_have_text("Protu (automatic)")
    expect(seed.get_by_test_id("audit-row-actor-name-id")).to_have_text("system")
    expect(seed.get_by_test_id("audit-row-target-name")).to_have_text("Olga Owner")
    expect(seed.get_by_test_id("audit-row-target-name-id")).to_have_text(f"user:{owner_id}")
    expect(seed.get_by_test_id("audit-row-target-name-id")).to_have_attribute("title", f"user:{owner_id}")
    created = row(page, "candidate.created")
    expect(created.get_by_test_id("audit-row-target-name")).to_have_text("Carla Candidate")
    expect(created.get_by_test_id("audit-row-target-name-id")).to_have_text(f"candidate:{candidate['id']}")
    read = row(page, "candidate.read").first
    expect(read.get_by_test_id("audit-row-subjects")).to_have_text("Read 1 person: Carla Candidate")
    expect(read.locator(f'[data-id="{candidate["id"]}"]')).to_have_attribute("title", candidate["id"])

    # The action filter is a choice of what the log holds, grouped by area; it lives in the address.
    action = page.get_by_label("Action", exact=True)
    expect(action.locator('optgroup[label="Sign-in"] > option[value="auth.login"]')).to_have_count(1)
    expect(action.locator('optgroup[label="Candidates"] > option[value="candidate.created"]')).to_have_count(1)
    expect(action.locator('optgroup[label="System"] > option[value="system.seed"]')).to_have_count(1)
    expect(action.locator("option").first).to_have_text("All events")
    action.select_option("system.seed")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=system\.seed$"))
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(1)
    expect(rows.get_by_test_id("audit-row-action")).to_have_text("system.seed")
    page.reload()
    expect(action).to_have_value("system.seed")
    expect(rows).to_have_count(1)
    expect(action.locator('option[value="candidate.read"]')).to_have_count(1)  # the choices came back too

    # An action the log does not hold (an address from elsewhere) stays chosen, and nothing matches it.
    page.goto("/audit?action=no.such.action")
    expect(action).to_have_value("no.such.action")
    expect(page.get_by_test_id("audit-empty")).to_have_text("No events match these filters.")
    page.get_by_test_id("audit-filter-clear").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(action).to_have_value("")
    expect(seed).to_have_count(1)

    # A date range: events from today are in, ones up to a day long past are not.
    page.get_by_test_id("audit-filter-to").fill("2001-01-01")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page).to_have_url(re.compile(r"/audit\?to=2001-01-01$"))
    expect(page.get_by_test_id("audit-empty")).to_be_visible()
    page.get_by_test_id("audit-filter-clear").click()
    expect(seed).to_have_count(1)

    # Who acted: a choice of the company's people by name, and of Protu's own actors; it lives in the address.
    who = page.get_by_label("Who", exact=True)
    expect(who.locator('optgroup[label="People"] > option')).to_have_text(["Adam Admin", "Olga Owner"])
    who.select_option(label="Olga Owner")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page).to_have_url(re.compile(rf"/audit\?actor={owner_id}$"))
    expect(seed).to_have_count(0)
    expect(page.locator(f'[data-testid="audit-row"]:not([data-actor="{owner_id}"])')).to_have_count(0)
    expect(created).to_have_count(1)
    who.select_option(label="Protu (automatic)")
    page.get_by_test_id("audit-filter-apply").click()
    expect(page).to_have_url(re.compile(r"/audit\?actor=system$"))
    expect(seed).to_have_count(1)
    expect(page.locator('[data-testid="audit-row"]:not([data-actor="system"])')).to_have_count(0)
    page.get_by_test_id("audit-filter-clear").click()

    # The chain verifies.
    page.get_by_test_id("audit-verify").click()
    expect(page.get_by_test_id("audit-verify-notice")).to_have_text(
        re.compile(r"^The chain is intact: \d+ events checked\.$")
    )
    assert console_errors == []


# ------------------------------------------------------------------------------------------------ export
def serve_from_s3(route) -> None:
    """S3 answering a presigned GET: the stored object, with the headers the URL asks for."""
    url = urlsplit(route.request.url)
    asked = parse_qs(url.query)
    headers = {
        "Content-Type": asked["response-content-type"][0],
        "Content-Disposition": asked["response-content-disposition"][0],
    }
    route.fulfill(status=200, body=backup.read(url.path.lstrip("/")), headers=headers)


def test_owner_exports_a_range_and_downloads_it_and_the_public_key(page, company, local_server, console_errors):
    job = StreamPump(settings().data_table, jobs.company_requests, starting_position="LATEST")
    mirror = StreamPump(settings().audit_table, jobs.mirror_audit)  # digests sign only what it has copied
    open_audit_log(page, company)
    section = page.get_by_test_id("audit-export")
    expect(section.get_by_test_id("audit-exports-empty")).to_have_text("No exports in the last 7 days.")

    # Today, as the browser's calendar has it: asked for, waiting; asking again answers the same one.
    today = page.evaluate("new Date().toLocaleDateString('en-CA')")
    section.get_by_label("From", exact=True).fill(today)
    section.get_by_label("To", exact=True).fill(today)
    section.get_by_test_id("audit-export-request").click()
    export = section.get_by_test_id("audit-export-row")
    expect(export).to_have_count(1)
    expect(export.get_by_test_id("audit-export-status")).to_have_text("Waiting to start")
    expect(page.get_by_test_id("audit-export-notice")).to_contain_text("Your export is being prepared.")
    expect(export.get_by_test_id("audit-export-download")).to_have_count(0)
    section.get_by_test_id("audit-export-request").click()
    expect(page.get_by_test_id("audit-export-notice")).to_contain_text("An export is already being prepared")
    expect(export).to_have_count(1)
    export_id = export.get_attribute("data-export-id")

    # The job builds it, signed; the page, watching, shows it ready without a reload.
    mirror.pump()
    assert job.pump() > 0
    expect(export.get_by_test_id("audit-export-status")).to_have_text("Ready")
    expect(page.get_by_test_id("audit-export-notice")).to_have_text(
        "Your export is ready: download it from the list below."
    )
    expect(export.get_by_test_id("audit-export-contents")).to_have_text(
        re.compile(r"^\d+ events \(\d+ to \d+\), \d+ digests?, [0-9.,]+ kB")
    )
    expect(export.get_by_test_id("audit-export-contents")).not_to_contain_text("not signed yet")
    expect(export.get_by_test_id("audit-export-range")).to_contain_text("–")
    assert "audit.export_downloaded" not in actions(company["company_id"])  # watching issued no link

    # Download: a fresh link is asked for only now (and audited); the browser saves the JSON Lines it gives.
    page.route("https://**.amazonaws.com/**", serve_from_s3)
    with page.expect_download() as download:
        export.get_by_test_id("audit-export-download").click()
    assert re.fullmatch(rf"protu-audit-{company['company_id']}-\d{{8}}\.jsonl", download.value.suggested_filename)
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "header" and header["format"] == "protu-audit-export" and header["version"] == 1
    assert header["tenant"] == company["company_id"] and header["export_id"] == export_id
    assert all(json.loads(line)["type"] in ("event", "digest") for line in lines[1:])
    expect(page.get_by_test_id("audit-export-notice")).to_contain_text("Your download is starting.")
    assert actions(company["company_id"]).count("audit.export_downloaded") == 1

    # The public key, named and saved as a .pem file.
    published = requests.get(f"{local_server}/api/audit-events/public-key", timeout=10).json()
    expect(section.get_by_test_id("audit-key-id")).to_have_text(published["key_id"])
    expect(section.get_by_test_id("audit-key")).to_contain_text("tools/verify_audit_export.py")
    with page.expect_download() as key:
        section.get_by_test_id("audit-key-download").click()
    assert key.value.suggested_filename == "protu-audit-public-key.pem"
    assert Path(key.value.path()).read_text(encoding="ascii") == published["public_key_pem"]
    assert console_errors == []


def actions(company_id: str) -> list[str]:
    events, _ = audit.events(company_id, limit=100)
    return [event["action"] for event in events]


# ------------------------------------------------------------------------------------------------ streams
@pytest.fixture
def local_siem(local_server, monkeypatch):
    """The local server's SIEM receiver may be a stream's endpoint (as under ``make run``). Answers a fresh
    receiving address on it."""
    monkeypatch.setenv("AUDIT_STREAMS_LOCAL_ORIGIN", local_server)
    reload()
    yield f"{local_server}/_local/siem/test-{uuid.uuid4().hex[:12]}"
    monkeypatch.undo()
    reload()


def test_owner_streams_the_log_to_a_siem_after_confirming_it_is_them(
    page, company, local_server, local_siem, console_errors
):
    open_audit_log(page, company)
    section = page.get_by_test_id("audit-streams")
    expect(section.get_by_test_id("audit-streams-empty")).to_be_visible()
    expect(section).to_contain_text("webhook-signature")

    # Signed in a while ago: adding one asks for the password first, then shows the secret once.
    sign_in_was_long_ago(company["company_id"], company["owner_id"])
    section.get_by_label("Endpoint address").fill(local_siem)
    section.get_by_label("Description (optional)").fill("Our test SIEM")
    section.get_by_test_id("audit-stream-add").click()
    page.get_by_test_id("reauth-password").fill(company["password"])
    page.get_by_test_id("reauth-submit").click()
    secret_field = section.get_by_test_id("audit-stream-secret")
    expect(secret_field).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/=]+$"))
    expect(secret_field).to_be_focused()
    expect(section.get_by_test_id("audit-stream-secret-panel")).to_contain_text("Shown only now")
    expect(page.get_by_test_id("audit-streams-notice")).to_contain_text("Stream added.")
    secret = secret_field.input_value()
    section.get_by_test_id("audit-stream-secret-copy").click()  # to the clipboard, or selected to copy by hand
    expect(page.get_by_test_id("audit-streams-notice")).to_have_text(
        re.compile(r"^(Secret copied\.|Press Ctrl\+C \(or ⌘C\) to copy the selected secret\.)$")
    )
    stream = section.get_by_test_id("audit-stream")
    expect(stream).to_have_count(1)
    expect(stream.get_by_test_id("audit-stream-url-shown")).to_have_text(local_siem)
    expect(stream.get_by_test_id("audit-stream-status")).to_have_text("Active")
    stored = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}, location.href, document.cookie])")
    assert secret not in stored
    section.get_by_test_id("audit-stream-secret-done").click()
    expect(section.get_by_test_id("audit-stream-secret-panel")).to_have_count(0)
    assert secret not in page.content()

    # A test ping reaches the receiver, signed with that secret.
    stream.get_by_test_id("audit-stream-test").click()
    expect(page.get_by_test_id("audit-streams-notice")).to_have_text(
        "Test delivered: the endpoint accepted it (HTTP 200)."
    )
    name = local_siem.rsplit("/", 1)[1]
    received = [r for r in requests.get(f"{local_server}/_local/siem", timeout=10).json() if r["name"] == name]
    assert received
    for delivery in received:
        Webhook(secret).verify(delivery["body"].encode(), delivery["headers"])

    # An address that may not receive the log is refused at its field.
    section.get_by_label("Endpoint address").fill("https://10.0.0.7/collector")
    section.get_by_test_id("audit-stream-add").click()
    expect(section.get_by_test_id("audit-stream-url-error")).to_contain_text("cannot receive the audit log")
    expect(section.get_by_label("Endpoint address")).to_have_attribute("aria-invalid", "true")
    expect(stream).to_have_count(1)

    # A new secret, once more shown once; the old one signs nothing more.
    stream.get_by_test_id("audit-stream-rotate").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("audit-streams-notice")).to_contain_text("Secret rotated.")
    expect(secret_field).to_have_value(re.compile(r"^whsec_"))
    assert secret_field.input_value() != secret
    section.get_by_test_id("audit-stream-secret-done").click()

    # Removed after a confirmation.
    stream.get_by_test_id("audit-stream-remove").click()
    page.get_by_test_id("confirm-ok").click()
    expect(stream).to_have_count(0)
    expect(page.get_by_test_id("audit-streams-notice")).to_have_text("Stream removed.")
    assert console_errors == []


def test_a_server_without_streams_says_so(page, company, console_errors):
    missing = {"error": {"code": "route_not_found", "message": "No such route."}}
    page.route("**/api/audit-streams", lambda route: route.fulfill(status=404, json=missing))
    open_audit_log(page, company)
    expect(page.get_by_test_id("audit-streams-unavailable")).to_have_text(
        "Streaming the log to a SIEM is not available on this server yet."
    )
    expect(page.get_by_test_id("audit-stream-form")).to_have_count(0)
    expect(page.get_by_test_id("audit-export")).to_be_visible()
    assert console_errors == []


# ------------------------------------------------------------------------------------------------ layout
# Every action, button and badge of the page on one line, inside its box; and the page no wider than the screen.
NOTHING_BROKEN = """() => {
  const problems = [];
  for (const el of document.querySelectorAll(".audit-action, .audit .button, .audit .badge")) {
    if (el.offsetParent === null) continue;
    const text = document.createRange();
    text.selectNodeContents(el);
    const lines = new Set([...text.getClientRects()].map((rect) => Math.round(rect.top)));
    if (lines.size > 1 || el.scrollWidth > el.clientWidth + 1) problems.push(el.textContent);
  }
  return {problems, width: document.documentElement.scrollWidth};
}"""

# Names, ids and details wrap only at a space, after a hyphen or where an id may wrap (a <wbr>: after a separator,
# between groups of a long token), never inside a word: two letters of one text next to each other are on one line.
# Answers the texts where they are not.
WORDS_BROKEN = r"""() => {
  const broken = new Set();
  for (const el of document.querySelectorAll(".audit-name, .audit-id, .audit-raw, .audit-details > li")) {
    if (el.offsetParent === null) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let top = null;
    let before = " ";
    for (let node = walker.nextNode(); node; node = walker.nextNode(), before = " ") {
      for (let i = 0; i < node.length; i += 1) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        const char = node.data[i];
        if (!rect || /\s/.test(char)) { before = " "; continue; }
        if (top !== null && rect.top > top + 2 && !/[ -]/.test(before)) broken.add(el.textContent);
        top = rect.top;
        before = char;
      }
    }
  }
  return [...broken];
}"""


# Landmarks with the same role and name (axe's landmark-unique), by their aria-label or aria-labelledby.
SAME_LANDMARKS = """() => {
  const implicit = { NAV: "navigation", MAIN: "main", SECTION: "region", FORM: "form", ASIDE: "complementary" };
  const text = (id) => document.getElementById(id)?.textContent.trim();
  const labelledBy = (el) => (el.getAttribute("aria-labelledby") || "").split(" ").map(text).join(" ");
  const named = (el) => el.getAttribute("aria-label") || labelledBy(el);
  const seen = new Map();
  for (const el of document.querySelectorAll("nav, main, section, form, aside, [role]")) {
    const role = el.getAttribute("role") || implicit[el.tagName];
    const name = named(el);
    if (!["navigation", "main", "region", "form", "search", "complementary"].includes(role)) continue;
    if ((role === "region" || role === "form") && !name) continue;  // not a landmark without a name
    const key = `${role}: ${name}`;
    seen.set(key, (seen.get(key) || 0) + 1);
  }
  return [...seen].filter(([, count]) => count > 1).map(([key]) => key);
}"""


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_the_page_fits_and_nothing_breaks_inside_a_word(page, company, local_server, size):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    owner = Elsewhere(local_server, company["owner"], company["password"])
    long_name = "Maximiliane Featherstonehaugh-Worthington of Llanfairpwllgwyngyll"
    candidate = owner.call("POST", "/api/candidates", {"name": long_name}, status=201)
    owner.call("GET", f"/api/candidates/{candidate['id']}")  # a read naming her, in the details
    open_audit_log(page, company)
    expect(page.get_by_test_id("audit-key-id")).not_to_have_text("…")
    created = row(page, "candidate.created")
    expect(created.get_by_test_id("audit-row-target-name")).to_have_text(long_name)
    expect(created.get_by_test_id("audit-row-target-name-id")).to_have_text(f"candidate:{candidate['id']}")
    found = page.evaluate(NOTHING_BROKEN)
    assert found["problems"] == []
    assert page.evaluate(WORDS_BROKEN) == []
    assert found["width"] <= width  # nothing wider than the screen: the events stack on a phone
    assert page.evaluate(SAME_LANDMARKS) == []
    if width < 600:
        cell = row(page, "auth.login").first.get_by_test_id("audit-row-action")
        assert page.evaluate("(el) => getComputedStyle(el, '::before').content", cell.element_handle()) == '"Action"'


def test_admin_has_no_audit_log(page, company, console_errors):
    sign_in(page, company["admin"], company["password"], "Adam Admin")
    expect(page.get_by_test_id("nav-account")).to_be_visible()
    expect(page.get_by_test_id("nav-audit")).to_have_count(0)
    page.goto("/audit")
    expect(page.get_by_test_id("audit-forbidden")).to_have_text("Only owners can read the audit log.")
    expect(page.get_by_test_id("audit-table")).to_have_count(0)
    assert console_errors == []
