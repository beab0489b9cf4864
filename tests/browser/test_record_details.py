"""A record's page (frontend/detail.js) when things do not go as planned, in real Chromium at 1280x800 and 390x844:
an edit that crosses someone else's keeps what was typed and shows what differs, a delete of a record in use is
explained before anything is asked, and a page Protu could not answer offers to try again.

Changes "made elsewhere" go through the HTTP API of the same server with a session of their own; Protu being
unreachable is the browser's request failing (Playwright's ``page.route``), the outside world failing.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, sign_in

pytestmark = pytest.mark.browser

SIZES = pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])


def signed_in(page, local_server, admin_login, size) -> Elsewhere:
    email, password = admin_login
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, email, password)
    return Elsewhere(local_server, email, password)


@SIZES
def test_an_edit_conflict_keeps_what_was_typed_and_can_go_over_the_latest(
    page, local_server, admin_login, console_errors, size
):
    elsewhere = signed_in(page, local_server, admin_login, size)
    role = elsewhere.call("POST", "/api/roles", {"title": "Backend engineer", "department": "Engineering"}, status=201)
    page.goto(f"/roles/{role['id']}")
    expect(page.get_by_test_id("role-heading")).to_have_text("Backend engineer")

    # Someone renames the role and moves it meanwhile; here the department and the level are changed.
    elsewhere.call(
        "PATCH",
        f"/api/roles/{role['id']}",
        {"version": role["version"], "title": "Platform engineer", "department": "Platform"},
    )
    page.get_by_test_id("role-department").fill("Infrastructure")
    page.get_by_test_id("role-level").fill("Senior")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-form-error")).to_contain_text("Someone else changed this role after you opened it")
    expect(page.get_by_test_id("role-form-error")).to_contain_text("What you typed is still in the form")
    expect(page.get_by_test_id("role-department")).to_have_value("Infrastructure")
    expect(page.get_by_test_id("role-level")).to_have_value("Senior")

    # Field by field: the department both changed, the level only here, the title only there (kept).
    rows = page.get_by_test_id("role-conflict-field")
    expect(rows).to_have_count(3)
    department = rows.and_(page.locator("[data-field=department]"))
    expect(department.get_by_test_id("conflict-yours")).to_have_text("Infrastructure")
    expect(department.get_by_test_id("conflict-saved")).to_have_text("Platform")
    title = rows.and_(page.locator("[data-field=title]"))
    expect(title).to_contain_text("When you opened it: Backend engineer")
    expect(title.get_by_test_id("conflict-saved")).to_have_text("Platform engineer")
    expect(page.get_by_test_id("role-overwrite")).to_be_focused()

    # Theirs over the latest version: the other change to a field not touched here stays.
    page.get_by_test_id("role-overwrite").click()
    expect(page.get_by_test_id("role-form-notice")).to_have_text(
        "Your changes are saved over the latest version of the role."
    )
    expect(page.get_by_test_id("role-conflict")).to_be_hidden()
    expect(page.get_by_test_id("role-heading")).to_have_text("Platform engineer")
    expect(page.get_by_test_id("role-detail-department")).to_have_text("Infrastructure")
    saved = elsewhere.call("GET", f"/api/roles/{role['id']}")
    assert (saved["title"], saved["department"], saved["level"]) == ("Platform engineer", "Infrastructure", "Senior")
    assert console_errors == []


@SIZES
def test_a_delete_says_what_uses_the_record_before_asking(page, local_server, admin_login, console_errors, size):
    elsewhere = signed_in(page, local_server, admin_login, size)
    role = elsewhere.call("POST", "/api/roles", {"title": "Designer"}, status=201)
    questions = [{"id": "q1", "text": "Show us your work.", "kind": "text"}]
    assessment = elsewhere.call(
        "POST",
        "/api/assessments",
        {"title": "Portfolio", "job_role_id": role["id"], "questions": questions},
        status=201,
    )
    page.goto(f"/roles/{role['id']}")
    expect(page.get_by_test_id("role-heading")).to_have_text("Designer")

    # In use by an assessment: said at once, with where to look, and nothing is asked.
    page.get_by_test_id("role-delete").click()
    in_use = page.get_by_test_id("role-delete-error")
    expect(in_use).to_contain_text("This role cannot be deleted because 1 assessment is linked to it.")
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    expect(page.get_by_test_id("role-in-use-assessments")).to_have_attribute("href", f"/assessments?role={role['id']}")

    # Once nothing uses it, the delete is asked, then done.
    elsewhere.call("DELETE", f"/api/assessments/{assessment['id']}", status=204)
    page.get_by_test_id("role-delete").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Delete the role Designer?")
    page.get_by_test_id("confirm-ok").click()
    expect(page).to_have_url(re.compile(r"/roles$"))
    expect(page.get_by_test_id("roles-notice")).to_have_text("The role Designer was deleted.")
    elsewhere.call("GET", f"/api/roles/{role['id']}", status=404)
    assert console_errors == []


@SIZES
def test_a_record_protu_could_not_send_can_be_tried_again(page, local_server, admin_login, console_errors, size):
    elsewhere = signed_in(page, local_server, admin_login, size)
    team = elsewhere.call("POST", "/api/teams", {"name": "Platform"}, status=201)

    # The network fails for that one request: the page says so and offers to try again, which works.
    page.route(f"**/api/teams/{team['id']}", lambda route: route.abort("internetdisconnected"), times=1)
    page.goto(f"/teams/{team['id']}")
    expect(page.get_by_test_id("team-error")).to_contain_text("The team could not be loaded: Could not reach Protu.")
    retry = page.get_by_test_id("team-retry")
    expect(retry).to_have_text("Try again")
    retry.click()
    expect(page.get_by_test_id("team-heading")).to_have_text("Platform")
    expect(page.get_by_test_id("team-error")).to_have_count(0)

    # A missing record is no outage: nothing to try again.
    page.goto("/teams/team-00000000000000000000")
    expect(page.get_by_test_id("team-error")).to_have_text("There is no such team. It may have been deleted.")
    expect(page.get_by_test_id("team-retry")).to_have_count(0)
    assert [error for error in console_errors if "ERR_INTERNET_DISCONNECTED" not in error] == []
