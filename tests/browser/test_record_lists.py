"""The record lists (frontend/list.js, declared in frontend/kinds.js) in real Chromium, at 1280x800 and 390x844:
people found by name or email (``?q=``, kept in the address with the filters), every cell naming its column, and
a create form's message at the top of the form, in view once the record is added.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, new_company, sign_in

pytestmark = pytest.mark.browser

SIZES = pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])


def signed_in_admin(page, local_server, size) -> Elsewhere:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    people = new_company("Search Hiring")
    sign_in(page, people["admin"], people["password"])
    return Elsewhere(local_server, people["admin"], people["password"])


def names(page, kind: str):
    return page.get_by_test_id(f"{kind}-row").get_by_test_id(f"{kind}-link")


@SIZES
def test_people_are_found_by_name_or_email(page, local_server, console_errors, size):
    api = signed_in_admin(page, local_server, size)
    for name, email, stage in [
        ("María López", "maria@example.com", "screening"),
        ("Mario Rossi", "rossi@example.com", "interview"),
        ("Jane Doe", "jd@corp.example", "screening"),
    ]:
        api.call("POST", "/api/candidates", {"name": name, "email": email, "stage": stage}, status=201)
    api.call("POST", "/api/employees", {"name": "Lena Park", "email": "lena@example.com"}, status=201)
    api.call("POST", "/api/employees", {"name": "Omar Diaz"}, status=201)

    # A word beginning names (accents ignored), kept in the address; then an email address.
    page.goto("/candidates")
    expect(names(page, "candidate")).to_have_count(3)
    page.get_by_test_id("candidate-search").fill("mari")
    expect(page).to_have_url(re.compile(r"/candidates\?q=mari$"))
    expect(names(page, "candidate")).to_have_text(["María López", "Mario Rossi"])
    page.get_by_test_id("candidate-search").fill("jd@corp")
    page.get_by_test_id("candidate-search").press("Enter")
    expect(names(page, "candidate")).to_have_text(["Jane Doe"])
    row = page.get_by_test_id("candidate-row")
    expect(row.get_by_test_id("candidate-row-email")).to_have_attribute("data-label", "Email")

    # Search and filters together, from a shared address; nothing found says what was looked for.
    page.goto("/candidates?q=lopez&stage=screening")
    expect(page.get_by_test_id("candidate-search")).to_have_value("lopez")
    expect(page.get_by_test_id("candidate-filter-stage")).to_have_value("screening")
    expect(names(page, "candidate")).to_have_text(["María López"])
    page.get_by_test_id("candidate-filter-stage").select_option("offer")
    expect(page.get_by_test_id("candidates-empty")).to_have_text("No candidates match “lopez” with these filters.")
    page.get_by_test_id("candidate-filter-clear").click()
    expect(page).to_have_url(re.compile(r"/candidates$"))
    expect(page.get_by_test_id("candidate-search")).to_have_value("")
    expect(names(page, "candidate")).to_have_count(3)

    # Employees too.
    page.goto("/employees?q=lena")
    expect(page.get_by_test_id("employee-search")).to_have_value("lena")
    expect(names(page, "employee")).to_have_text(["Lena Park"])
    page.get_by_test_id("employee-search").fill("lena@example.com")
    expect(page).to_have_url(re.compile(r"/employees\?q=lena%40example\.com$"))
    expect(names(page, "employee")).to_have_text(["Lena Park"])
    assert console_errors == []


@SIZES
def test_the_create_message_shows_at_the_top_of_the_form(page, local_server, console_errors, size):
    signed_in_admin(page, local_server, size)
    page.goto("/candidates")
    form = page.get_by_test_id("candidate-form")
    form.get_by_test_id("candidate-name").fill("Ada Byron")
    form.get_by_test_id("candidate-notes").fill("Met at a conference.")
    form.get_by_test_id("candidate-save").click()

    notice = form.get_by_test_id("candidate-form-notice")
    expect(notice).to_have_text("Added Ada Byron.")
    expect(notice).to_be_in_viewport()
    assert notice.bounding_box()["y"] < form.get_by_test_id("candidate-name").bounding_box()["y"]
    expect(form.get_by_test_id("candidate-name")).to_be_focused()
    expect(names(page, "candidate")).to_have_text(["Ada Byron"])
    assert console_errors == []
