"""Data-protection rights in real Chromium, for owners: exporting the whole company (asked for on the settings page,
watched while the job builds it, downloaded through its short-lived URL), erasing the company (the name typed
exactly, the password given every time, a last dialog naming what goes, everyone signed out and nobody able to sign
in again, every owner emailed), a candidate's export and erasure from their page (an employee who leads a team is
not erased). An admin sees none of it.

The export job runs on the data table's stream; nothing pumps it in tests, so a test's ``StreamPump`` (created
before the request, ``LATEST``) runs it by hand, as the event source mapping would. The download URL is S3's
(presigned, a fake host here): the browser's request for it is answered by the test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jobs
import pytest
import requests
from playwright.sync_api import expect
from protu import audit
from protu.settings import settings

from infra.streams import StreamPump
from tests.browser.conftest import Elsewhere, follow_nav, new_company, sign_in

pytestmark = pytest.mark.browser

ARCHIVE = b"PK\x05\x06" + b"\0" * 18  # an empty ZIP: what the test's S3 answers


def actions(company_id: str) -> list[str]:
    events, _ = audit.events(company_id, limit=100)
    return [event["action"] for event in events]


# ------------------------------------------------------------------------------------------------ export
def test_an_owner_exports_the_company_and_downloads_the_archive(page, console_errors):
    people = new_company("Harbour Hiring")
    company_id = people["company_id"]
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    job = StreamPump(settings().data_table, jobs.company_requests, starting_position="LATEST")

    page.get_by_test_id("nav-settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.get_by_test_id("exports-empty")).to_have_text("No exports in the last 7 days.")

    # Asked for: listed as waiting; asking again while it waits answers the same one.
    page.get_by_test_id("exports-request").click()
    row = page.get_by_test_id("export-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("export-status")).to_have_text("Waiting to start")
    expect(page.get_by_test_id("exports-notice")).to_contain_text("Your export is being prepared.")
    expect(row.get_by_test_id("export-download")).to_have_count(0)
    page.get_by_test_id("exports-request").click()
    expect(page.get_by_test_id("exports-notice")).to_contain_text("An export is already being prepared")
    expect(row).to_have_count(1)
    export_id = row.get_attribute("data-export-id")

    # The job builds it; the page, watching, shows it ready without a reload and offers the download.
    assert job.pump() > 0
    expect(row.get_by_test_id("export-status")).to_have_text("Ready")
    expect(page.get_by_test_id("exports-notice")).to_have_text("Your export is ready. Download it from the list below.")
    expect(row.get_by_test_id("export-size")).to_have_text(re.compile(r"^[0-9.,]+ (bytes|KB|MB)$"))
    assert "company.export_downloaded" not in actions(company_id)  # watching it issued no download URL

    # Download: the URL is asked for only now (and audited), and the browser saves what S3 answers.
    fetched: list[str] = []

    def s3(route) -> None:
        fetched.append(route.request.url)
        headers = {"Content-Type": "application/zip", "Content-Disposition": 'attachment; filename="export.zip"'}
        route.fulfill(status=200, body=ARCHIVE, headers=headers)

    page.route("https://**.amazonaws.com/**", s3)
    with page.expect_download() as download:
        row.get_by_test_id("export-download").click()
    assert download.value.suggested_filename == "export.zip"
    assert len(fetched) == 1 and f"/exports/{company_id}/{export_id}.zip" in fetched[0]
    assert "X-Amz-Expires=300" in fetched[0]
    expect(page.get_by_test_id("exports-notice")).to_contain_text("Your download is starting.")
    expect(page).to_have_url(re.compile(r"/settings$"))
    assert actions(company_id).count("company.export_downloaded") == 1
    assert console_errors == []


# ------------------------------------------------------------------------------------------------ erasure
SIZES = pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])


def told_of_erasure(local_server: str, email: str) -> list[dict]:
    outbox = requests.get(f"{local_server}/_local/outbox", timeout=5).json()
    return [m for m in outbox if m["to"] == email and "was erased" in m["subject"]]


@SIZES
def test_an_owner_erases_the_company_with_the_password_after_a_last_look_at_what_goes(
    page, local_server, console_errors, size
):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    people = new_company("Fjord Analytics")
    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    elsewhere = Elsewhere(local_server, people["owner"], people["password"])
    elsewhere.call("POST", "/api/candidates", {"name": "Cara Candidate"}, status=201)

    follow_nav(page, "nav-settings")
    zone = page.get_by_test_id("danger-zone")
    expect(zone).to_contain_text("The company’s key is destroyed")
    expect(page.get_by_test_id("erase-company-name")).to_have_text("Fjord Analytics")
    typed = page.get_by_label("Type the company’s name, Fjord Analytics, to confirm")
    password = page.get_by_test_id("erase-password")
    erase = page.get_by_test_id("erase-submit")

    # Only the exact name, and a password, enable the button (the sign-in is seconds old: it is asked anyway).
    expect(erase).to_be_disabled()
    for wrong in ("Fjord", "fjord analytics", "Fjord Analytics Ltd"):
        typed.fill(wrong)
        expect(erase).to_be_disabled()
    typed.fill("Fjord Analytics")
    expect(erase).to_be_disabled()
    password.fill("not my password at all")
    expect(erase).to_be_enabled()

    # The last look names what goes; keeping the company sends nothing.
    erase.click()
    dialog = page.get_by_test_id("erase-dialog")
    expect(dialog).to_contain_text("Erase Fjord Analytics for good?")
    counts = page.get_by_test_id("erase-dialog-counts")
    expect(counts).to_contain_text("1 candidate")
    expect(counts).to_contain_text("0 employees")
    expect(counts).to_contain_text("2 users")
    expect(dialog).to_contain_text("The audit log keeps a record")
    page.get_by_test_id("erase-dialog-cancel").click()
    expect(dialog).to_have_count(0)
    assert "company.erase" not in actions(people["company_id"])

    # A wrong password is said at the field, and is on the record as a failed attempt. Nothing is erased.
    erase.click()
    page.get_by_test_id("erase-dialog-ok").click()
    expect(page.get_by_test_id("erase-password-error")).to_have_text("That password is not correct.")
    expect(password).to_have_attribute("aria-invalid", "true")
    assert "company.erase" in actions(people["company_id"])
    elsewhere.call("GET", "/api/me")

    # Renamed elsewhere meanwhile: the server says the name no longer matches, at the field.
    current = elsewhere.call("GET", "/api/settings")
    elsewhere.call("PATCH", "/api/settings", {"version": current["version"], "company_name": "Fjord Analytics AS"})
    password.fill(people["password"])
    erase.click()
    page.get_by_test_id("erase-dialog-ok").click()
    expect(page.get_by_test_id("erase-confirmation-error")).to_contain_text("Type your company's name exactly")
    expect(typed).to_have_attribute("aria-invalid", "true")
    elsewhere.call("GET", "/api/me")

    # The new name (after a reload) and the password: erased, signed out, told so, every owner emailed.
    page.reload()
    expect(page.get_by_test_id("erase-company-name")).to_have_text("Fjord Analytics AS")
    page.get_by_test_id("erase-confirmation").fill("Fjord Analytics AS")
    page.get_by_test_id("erase-password").fill(people["password"])

    # While the erasure runs, another request of the page (the notices, asked again) meets the ended session
    # before the erasure's own answer arrives: that 401 is the erasure, not a session ended elsewhere.
    def erase_while_the_page_asks(route):
        answer = route.fetch()
        with page.expect_response("**/api/me/notices") as notices:
            page.evaluate("window.dispatchEvent(new Event('protu:page'))")
        assert notices.value.status == 401
        route.fulfill(response=answer)

    page.get_by_test_id("erase-submit").click()
    expect(page.get_by_test_id("erase-dialog")).to_contain_text("Erase Fjord Analytics AS for good?")
    page.route("**/api/company/erase", erase_while_the_page_asks)
    page.get_by_test_id("erase-dialog-ok").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_test_id("signin-notice")).to_have_text(
        "Your company was erased. Everyone in it has been signed out."
    )
    expect(page.get_by_test_id("header-user-name")).to_have_count(0)
    elsewhere.call("GET", "/api/me", status=401)
    assert len(told_of_erasure(local_server, people["owner"])) == 1
    assert told_of_erasure(local_server, people["admin"]) == []

    # Nobody of the company can sign in again, and a reload restores no session.
    page.get_by_label("Email").fill(people["owner"])
    page.get_by_label("Password").fill(people["password"])
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fsettings$"))
    assert console_errors == []


# ------------------------------------------------------------------------------------------------ a person
def test_an_owner_exports_and_erases_a_candidate_and_an_admin_cannot(page, second_page, local_server, console_errors):
    people = new_company("Birch Recruiting")
    owner = Elsewhere(local_server, people["owner"], people["password"])
    cara = owner.call("POST", "/api/candidates", {"name": "Cara Candidate", "notes": "prefers mornings"}, status=201)
    other = owner.call("POST", "/api/candidates", {"name": "Otto Other"}, status=201)
    assessment = owner.call(
        "POST",
        "/api/assessments",
        {"title": "Fit", "questions": [{"id": "q1", "text": "Why us?", "kind": "text"}]},
        status=201,
    )
    about_cara = {"subject_type": "candidate", "subject_id": cara["id"], "answers": {"q1": "the mission"}}
    owner.call("POST", f"/api/assessments/{assessment['id']}/responses", about_cara, status=201)

    sign_in(page, people["owner"], people["password"], name="Olga Owner")
    page.goto(f"/candidates/{cara['id']}")
    expect(page.get_by_test_id("candidate-heading")).to_have_text("Cara Candidate")

    # Export: everything about her, opened, saved as candidate-<id>.json.
    with page.expect_download() as download:
        page.get_by_test_id("candidate-export").click()
    assert download.value.suggested_filename == f"candidate-{cara['id']}.json"
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["person"]["name"] == "Cara Candidate" and exported["person"]["notes"] == "prefers mornings"
    assert [response["answers"] for response in exported["responses"]] == [{"q1": "the mission"}]
    expect(page.get_by_test_id("candidate-data-notice")).to_contain_text(f"candidate-{cara['id']}.json")

    # Erase: her name must be typed exactly; then she and the response about her are gone.
    page.get_by_test_id("candidate-erase").click()
    dialog = page.get_by_test_id("erase-person-dialog")
    expect(dialog).to_contain_text("Erase Cara Candidate permanently?")
    ok = page.get_by_test_id("erase-person-ok")
    expect(ok).to_be_disabled()
    page.get_by_test_id("erase-person-name").fill("Cara")
    expect(ok).to_be_disabled()
    page.get_by_test_id("erase-person-name").fill("Cara Candidate")
    ok.click()
    expect(page).to_have_url(re.compile(r"/candidates$"))
    expect(page.get_by_test_id("candidates-notice")).to_have_text("Cara Candidate was erased.")
    owner.call("GET", f"/api/candidates/{cara['id']}", status=404)
    assert owner.call("GET", f"/api/assessments/{assessment['id']}/responses")["items"] == []

    # An employee who leads a team cannot be erased: the API's reason is shown, and they stay.
    lena = owner.call("POST", "/api/employees", {"name": "Lena Lead"}, status=201)
    owner.call("POST", "/api/teams", {"name": "Platform", "lead_employee_id": lena["id"]}, status=201)
    page.goto(f"/employees/{lena['id']}")
    page.get_by_test_id("employee-erase").click()
    page.get_by_test_id("erase-person-name").fill("Lena Lead")
    page.get_by_test_id("erase-person-ok").click()
    expect(page.get_by_test_id("employee-data-error")).to_contain_text("(a team they lead); change those first.")
    expect(page).to_have_url(re.compile(rf"/employees/{lena['id']}$"))
    owner.call("GET", f"/api/employees/{lena['id']}")
    assert console_errors == []

    # An admin sees neither button (and may still delete as before).
    admin_page, admin_errors = second_page, second_page.console_errors
    sign_in(admin_page, people["admin"], people["password"])
    admin_page.goto(f"/candidates/{other['id']}")
    expect(admin_page.get_by_test_id("candidate-heading")).to_have_text("Otto Other")
    expect(admin_page.get_by_test_id("candidate-delete")).to_be_visible()
    expect(admin_page.get_by_test_id("candidate-data-section")).to_have_count(0)
    expect(admin_page.get_by_test_id("candidate-export")).to_have_count(0)
    expect(admin_page.get_by_test_id("candidate-erase")).to_have_count(0)
    admin_page.goto("/settings")
    expect(admin_page.get_by_test_id("settings-not-owner")).to_be_visible()
    expect(admin_page.get_by_test_id("exports-section")).to_have_count(0)
    expect(admin_page.get_by_test_id("danger-zone")).to_have_count(0)
    assert admin_errors == []
