"""Employees and teams in real Chromium: an admin adds an employee, then a team led by them with them as a member;
the membership shows on both pages (names linked), members are added and removed from the team's page, and an
employee who leads a team cannot be deleted (the page says which team)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def employee_row(page, name: str):
    return page.get_by_test_id("employee-row").filter(has=page.get_by_test_id("employee-link").get_by_text(name))


def test_admin_manages_employees_and_teams(page, admin_login, console_errors):
    email, password = admin_login
    sign_in(page, email, password)

    # Two employees.
    page.get_by_test_id("nav-employees").click()
    expect(page).to_have_url(re.compile(r"/employees$"))
    expect(page).to_have_title("Employees · Protu")
    expect(page.get_by_test_id("employees-empty")).to_have_text("No employees yet. Add the first one below.")
    page.get_by_test_id("employee-name").fill("Lena Park")
    page.get_by_test_id("employee-email").fill("lena@example.com")
    page.get_by_test_id("employee-start-date").fill("2024-03-01")
    page.get_by_test_id("employee-save").click()
    expect(page.get_by_test_id("employee-form-notice")).to_have_text("Added Lena Park.")
    page.get_by_test_id("employee-name").fill("Omar Diaz")
    page.get_by_test_id("employee-status").select_option("on_leave")
    page.get_by_test_id("employee-save").click()
    expect(page.get_by_test_id("employee-form-notice")).to_have_text("Added Omar Diaz.")
    lena = employee_row(page, "Lena Park")
    expect(lena).to_have_count(1)
    expect(lena.get_by_test_id("employee-row-email")).to_have_text("lena@example.com")
    expect(lena.get_by_test_id("employee-row-status")).to_have_text("Active")
    expect(employee_row(page, "Omar Diaz").get_by_test_id("employee-row-status")).to_have_text("On leave")
    lena_id = lena.get_attribute("data-employee-id")

    # A team led by Lena, with her as a member.
    page.get_by_test_id("nav-teams").click()
    expect(page).to_have_url(re.compile(r"/teams$"))
    expect(page.get_by_test_id("teams-empty")).to_have_text("No teams yet. Add the first one below.")
    page.get_by_test_id("team-name").fill("Platform")
    page.get_by_test_id("team-lead").select_option(label="Lena Park")
    page.get_by_test_id("team-description").fill("Keeps the lights on.")
    page.locator(f'[data-testid="team-members-option"][data-value="{lena_id}"]').check()
    page.get_by_test_id("team-save").click()
    expect(page.get_by_test_id("team-form-notice")).to_have_text("Added the team Platform.")
    team_row = page.get_by_test_id("team-row")
    expect(team_row).to_have_count(1)
    expect(team_row.get_by_test_id("team-row-lead")).to_have_text("Lena Park")
    expect(team_row.get_by_test_id("team-row-members")).to_have_text("1 member")
    team_id = team_row.get_attribute("data-team-id")

    # The team's page: lead and members linked; add Omar as a member.
    team_row.get_by_test_id("team-link").click()
    expect(page).to_have_url(re.compile(rf"/teams/{team_id}$"))
    expect(page.get_by_test_id("team-heading")).to_have_text("Platform")
    expect(page.get_by_test_id("team-detail-lead-link")).to_have_text("Lena Park")
    expect(page.get_by_test_id("team-detail-lead-link")).to_have_attribute("href", f"/employees/{lena_id}")
    expect(page.get_by_test_id("team-detail-member-link")).to_have_text(["Lena Park"])
    page.get_by_label("Omar Diaz").check()
    page.get_by_test_id("team-save").click()
    expect(page.get_by_test_id("team-form-notice")).to_have_text("Your changes are saved.")
    expect(page.get_by_test_id("team-detail-member-link")).to_have_text(["Lena Park", "Omar Diaz"])

    # Omar's page shows the team (kept on both sides); removing him from the team there shows on the team.
    page.get_by_test_id("team-detail-member-link").get_by_text("Omar Diaz").click()
    expect(page.get_by_test_id("employee-heading")).to_have_text("Omar Diaz")
    expect(page.get_by_test_id("employee-detail-team-link")).to_have_text(["Platform"])
    page.get_by_label("Platform").uncheck()
    page.get_by_test_id("employee-save").click()
    expect(page.get_by_test_id("employee-form-notice")).to_have_text("Your changes are saved.")
    expect(page.get_by_test_id("employee-detail-team-link")).to_have_count(0)

    # Lena's page shows her team, linked; she leads it, so she cannot be deleted.
    page.goto(f"/employees/{lena_id}")
    expect(page.get_by_test_id("employee-heading")).to_have_text("Lena Park")
    expect(page.get_by_test_id("employee-detail-team-link")).to_have_text(["Platform"])
    expect(page.get_by_test_id("employee-detail-team-link")).to_have_attribute("href", f"/teams/{team_id}")
    expect(page.get_by_test_id("employee-detail-start-date")).to_have_text("2024-03-01")
    page.get_by_test_id("employee-delete").click()  # checked before asking: nothing to confirm
    in_use = page.get_by_test_id("employee-delete-error")
    expect(in_use).to_contain_text("This employee cannot be deleted because they lead a team: Platform.")
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/employees/{lena_id}$"))
    page.get_by_test_id("employee-in-use-team").click()
    expect(page).to_have_url(re.compile(rf"/teams/{team_id}$"))
    expect(page.get_by_test_id("team-detail-member-link")).to_have_text(["Lena Park"])

    # The team filter on the employees list.
    page.goto(f"/employees?team={team_id}")
    expect(page.get_by_test_id("employee-filter-team")).to_have_value(team_id)
    expect(page.get_by_test_id("employee-row")).to_have_count(1)
    expect(employee_row(page, "Lena Park").get_by_test_id("employee-row-teams")).to_have_text("Platform")
    assert console_errors == []
