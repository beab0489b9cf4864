"""Company records in real Chromium against the real local server: an admin manages job roles and candidates through
the SPA (lists with filters and "Load more", create and edit forms, version conflicts, deletes refused while in use).

The admin is made in-process the way ``infra/seed.py`` makes the demo people (no sign-up, no rate limit, no email to
confirm). Changes "made elsewhere" go through the HTTP API of the same server with a session of their own.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, sign_in

pytestmark = pytest.mark.browser


# ------------------------------------------------------------------------------------------------ fixtures
# ------------------------------------------------------------------------------------------------ helpers
def candidate_row(page, name: str):
    return page.get_by_test_id("candidate-row").filter(has=page.get_by_test_id("candidate-link").get_by_text(name))


# ------------------------------------------------------------------------------------------------ tests
def test_admin_manages_roles_and_candidates(page, local_server, admin_login, console_errors):
    email, password = admin_login
    sign_in(page, email, password)

    # Roles: none yet; a title of spaces is refused at the field, then the role is added and listed.
    page.get_by_test_id("nav-roles").click()
    expect(page).to_have_url(re.compile(r"/roles$"))
    expect(page).to_have_title("Roles · Protu")
    expect(page.get_by_test_id("roles-empty")).to_have_text("No roles yet. Add the first one below.")
    page.get_by_test_id("role-title").fill("   ")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-title-error")).to_have_text("Enter a title for the role.")
    expect(page.get_by_test_id("role-title")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("role-form-error")).to_be_visible()
    page.get_by_test_id("role-title").fill("Backend engineer")
    page.get_by_test_id("role-department").fill("Engineering")
    page.get_by_test_id("role-level").fill("Senior")
    page.get_by_test_id("role-description").fill("Builds the API.")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-form-notice")).to_have_text("Added the role Backend engineer.")
    expect(page.get_by_test_id("role-title")).to_have_value("")
    roles = page.get_by_test_id("role-row")
    expect(roles).to_have_count(1)
    expect(roles.get_by_test_id("role-link")).to_have_text("Backend engineer")
    expect(roles.get_by_test_id("role-row-department")).to_have_text("Engineering")
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    role_id = roles.get_attribute("data-role-id")

    # Candidates: add one for that role, with notes. An address the server refuses is explained at its field.
    page.get_by_test_id("nav-candidates").click()
    expect(page).to_have_url(re.compile(r"/candidates$"))
    expect(page.get_by_test_id("candidates-empty")).to_have_text("No candidates yet. Add the first one below.")
    page.get_by_test_id("candidate-name").fill("Maria Lopez")
    page.get_by_test_id("candidate-email").fill("maria@localhost")
    page.get_by_test_id("candidate-role").select_option(label="Backend engineer")
    page.get_by_test_id("candidate-stage").select_option("screening")
    page.get_by_test_id("candidate-source").fill("Referral")
    page.get_by_test_id("candidate-notes").fill("Strong in Python.\nAsk about on-call.")
    page.get_by_test_id("candidate-save").click()
    expect(page.get_by_test_id("candidate-email-error")).to_contain_text("Enter a valid email address")
    expect(page.get_by_test_id("candidate-email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("candidate-email")).to_be_focused()
    expect(page.get_by_test_id("candidate-form-error")).to_contain_text("Enter a valid email address")
    page.get_by_test_id("candidate-email").fill("maria@example.com")
    page.get_by_test_id("candidate-save").click()
    expect(page.get_by_test_id("candidate-form-notice")).to_have_text("Added Maria Lopez.")
    maria = candidate_row(page, "Maria Lopez")
    expect(maria).to_have_count(1)
    expect(maria.get_by_test_id("candidate-row-role")).to_have_text("Backend engineer")
    expect(maria.get_by_test_id("candidate-row-stage")).to_have_text("Screening")
    expect(maria.get_by_test_id("candidate-row-email")).to_have_text("maria@example.com")

    # Filters apply on change and live in the address, so a reload keeps them.
    stage_filter = page.get_by_test_id("candidate-filter-stage")
    role_filter = page.get_by_test_id("candidate-filter-role")
    stage_filter.select_option("screening")
    expect(page).to_have_url(re.compile(r"/candidates\?stage=screening$"))
    expect(maria).to_have_count(1)
    stage_filter.select_option("offer")
    expect(page).to_have_url(re.compile(r"/candidates\?stage=offer$"))
    expect(page.get_by_test_id("candidates-empty")).to_have_text("No candidates match these filters.")
    expect(maria).to_have_count(0)
    page.reload()
    expect(stage_filter).to_have_value("offer")
    expect(page.get_by_test_id("candidates-empty")).to_be_visible()
    expect(maria).to_have_count(0)
    stage_filter.select_option("")
    role_filter.select_option(role_id)
    expect(page).to_have_url(re.compile(rf"/candidates\?role={role_id}$"))
    expect(maria).to_have_count(1)
    page.reload()
    expect(role_filter).to_have_value(role_id)
    expect(maria).to_have_count(1)
    page.get_by_test_id("candidate-filter-clear").click()
    expect(page).to_have_url(re.compile(r"/candidates$"))
    expect(role_filter).to_have_value("")
    expect(page.get_by_test_id("candidates-table")).to_have_attribute("aria-busy", "false")  # its rows are shown again

    # The candidate's page: stage, role (linked), source and notes.
    maria.get_by_test_id("candidate-link").click()
    expect(page).to_have_url(re.compile(r"/candidates/cand-[0-9a-f]{20}$"))
    candidate_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("candidate-heading")).to_have_text("Maria Lopez")
    expect(page.get_by_test_id("candidate-detail-stage")).to_have_text("Screening")
    expect(page.get_by_test_id("candidate-detail-role-link")).to_have_text("Backend engineer")
    expect(page.get_by_test_id("candidate-detail-role-link")).to_have_attribute("href", f"/roles/{role_id}")
    expect(page.get_by_test_id("candidate-detail-source")).to_have_text("Referral")
    expect(page.get_by_test_id("candidate-detail-notes")).to_have_text("Strong in Python.\nAsk about on-call.")
    expect(page.get_by_test_id("candidate-notes")).to_have_value("Strong in Python.\nAsk about on-call.")

    # Move them on a stage.
    page.get_by_test_id("candidate-stage").select_option("interview")
    page.get_by_test_id("candidate-save").click()
    expect(page.get_by_test_id("candidate-form-notice")).to_have_text("Your changes are saved.")
    expect(page.get_by_test_id("candidate-detail-stage")).to_have_text("Interview")

    # Someone changes the candidate elsewhere meanwhile: saving from the stale page is refused and explained; loading
    # the latest version shows their change, and the change then goes through.
    elsewhere = Elsewhere(local_server, email, password)
    current = elsewhere.call("GET", f"/api/candidates/{candidate_id}")
    assert (current["stage"], current["version"]) == ("interview", 2)
    elsewhere.call("PATCH", f"/api/candidates/{candidate_id}", {"version": 2, "source": "Job board"})
    page.get_by_test_id("candidate-stage").select_option("offer")
    page.get_by_test_id("candidate-save").click()
    conflict = page.get_by_test_id("candidate-form-error")
    expect(conflict).to_contain_text("Someone else changed this candidate after you opened it")
    expect(conflict).to_contain_text("your changes were not saved")
    expect(page.get_by_test_id("candidate-detail-stage")).to_have_text("Interview")
    page.get_by_test_id("candidate-reload").click()
    expect(page.get_by_test_id("candidate-form-notice")).to_contain_text("This is the latest version")
    expect(page.get_by_test_id("candidate-detail-source")).to_have_text("Job board")
    expect(page.get_by_test_id("candidate-stage")).to_have_value("interview")
    page.get_by_test_id("candidate-stage").select_option("offer")
    page.get_by_test_id("candidate-save").click()
    expect(page.get_by_test_id("candidate-form-notice")).to_have_text("Your changes are saved.")
    expect(page.get_by_test_id("candidate-detail-stage")).to_have_text("Offer")
    assert elsewhere.call("GET", f"/api/candidates/{candidate_id}")["stage"] == "offer"

    # Delete: asked first, then gone from the list.
    page.get_by_test_id("candidate-delete").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Delete Maria Lopez?")
    page.get_by_test_id("confirm-ok").click()
    expect(page).to_have_url(re.compile(r"/candidates$"))
    expect(page.get_by_test_id("candidates-notice")).to_have_text("Maria Lopez was deleted.")
    expect(page.get_by_test_id("candidates-empty")).to_be_visible()
    elsewhere.call("GET", f"/api/candidates/{candidate_id}", status=404)

    # A role that a candidate still uses cannot be deleted: the page says why and where those candidates are.
    elsewhere.call("POST", "/api/candidates", {"name": "Ken Ito", "job_role_id": role_id}, status=201)
    page.get_by_test_id("nav-roles").click()
    page.get_by_test_id("role-link").get_by_text("Backend engineer").click()
    expect(page).to_have_url(re.compile(rf"/roles/{role_id}$"))
    expect(page.get_by_test_id("role-heading")).to_have_text("Backend engineer")
    expect(page.get_by_test_id("role-detail-description")).to_have_text("Builds the API.")
    page.get_by_test_id("role-delete").click()  # checked before asking: nothing to confirm
    in_use = page.get_by_test_id("role-delete-error")
    expect(in_use).to_contain_text("This role cannot be deleted because 1 candidate is linked to it.")
    expect(page).to_have_url(re.compile(rf"/roles/{role_id}$"))
    page.get_by_test_id("role-in-use-candidates").click()
    expect(page).to_have_url(re.compile(rf"/candidates\?role={role_id}$"))
    expect(candidate_row(page, "Ken Ito")).to_have_count(1)
    expect(page.get_by_test_id("candidate-filter-role")).to_have_value(role_id)
    assert console_errors == []


def test_role_edits_conflicts_and_load_more(page, local_server, admin_login, console_errors):
    email, password = admin_login
    elsewhere = Elsewhere(local_server, email, password)
    for n in range(27):
        elsewhere.call("POST", "/api/roles", {"title": f"Role {n:02d}"}, status=201)
    sign_in(page, email, password)

    # 25 a page; "Load more" brings the rest and then goes away.
    page.get_by_test_id("nav-roles").click()
    rows = page.get_by_test_id("role-row")
    expect(rows).to_have_count(25)
    expect(page.get_by_test_id("roles-count")).to_have_text("25 roles shown, more to load.")
    page.get_by_test_id("load-more").click()
    expect(rows).to_have_count(27)
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    expect(page.get_by_test_id("roles-count")).to_have_text("27 roles shown.")

    # Edit a role; a change made elsewhere meanwhile is a conflict the page explains and recovers from.
    rows.first.get_by_test_id("role-link").click()
    expect(page).to_have_url(re.compile(r"/roles/role-[0-9a-f]{20}$"))
    role_id = page.url.rsplit("/", 1)[1]
    original = elsewhere.call("GET", f"/api/roles/{role_id}")
    expect(page.get_by_test_id("role-heading")).to_have_text(original["title"])
    page.get_by_test_id("role-level").fill("Lead")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-form-notice")).to_have_text("Your changes are saved.")
    expect(page.get_by_test_id("role-detail-level")).to_have_text("Lead")
    elsewhere.call("PATCH", f"/api/roles/{role_id}", {"version": 2, "title": "Data engineer"})
    page.get_by_test_id("role-department").fill("Data")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-form-error")).to_contain_text("Someone else changed this role")
    page.get_by_test_id("role-reload").click()
    expect(page.get_by_test_id("role-heading")).to_have_text("Data engineer")
    expect(page.get_by_test_id("role-title")).to_have_value("Data engineer")
    expect(page.get_by_test_id("role-department")).to_have_value(original["department"])
    page.get_by_test_id("role-department").fill("Data")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-form-notice")).to_have_text("Your changes are saved.")
    assert elsewhere.call("GET", f"/api/roles/{role_id}")["department"] == "Data"

    # Unused, it can be deleted: back on the list with a notice.
    page.get_by_test_id("role-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page).to_have_url(re.compile(r"/roles$"))
    expect(page.get_by_test_id("roles-notice")).to_have_text("The role Data engineer was deleted.")
    elsewhere.call("GET", f"/api/roles/{role_id}", status=404)

    # A missing role is a page that says so, not an error.
    page.goto("/roles/role-00000000000000000000")
    expect(page.get_by_test_id("role-error")).to_have_text("There is no such role. It may have been deleted.")
    assert console_errors == []
