"""The app shell (issue 21, item 2, and the outage page's retry of item 10) in real Chromium at 1280x800 and
390x844: the grouped navigation as a sidebar or behind the Menu button, only the pages an account may use, the
signed-out start page, the status page in plain words, tables stacked on a phone, and "Try again"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, new_company, sign_in

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
OWNER_PAGES = ("nav-users", "nav-audit", "nav-incidents", "nav-billing", "nav-settings")


def header_height(page) -> float:
    return page.locator(".site-header").bounding_box()["height"]


def no_sideways_scroll(page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_sidebar_on_a_wide_screen_and_the_menu_button_on_a_phone(page, console_errors):
    people = new_company("Shell Hiring")
    page.set_viewport_size(WIDE)
    sign_in(page, people["owner"], people["password"], "Olga Owner")
    menu, button = page.get_by_test_id("site-menu"), page.get_by_test_id("menu-button")
    expect(menu).to_be_visible()
    expect(button).to_be_hidden()
    for group in ("Company data", "Administration", "Account"):
        expect(menu.get_by_role("group", name=group)).to_be_visible()
    expect(menu.get_by_test_id("header-company")).to_have_text("Shell Hiring")

    page.set_viewport_size(PHONE)
    expect(menu).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "site-menu")
    assert header_height(page) <= 64
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_test_id("header-sign-out")).to_be_visible()  # the user's menu is in the panel
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()

    button.click()
    menu.get_by_test_id("nav-roles").click()
    expect(page).to_have_url(re.compile(r"/roles$"))
    expect(menu).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    no_sideways_scroll(page)
    assert console_errors == []


@pytest.mark.parametrize("size", [WIDE, PHONE], ids=["wide", "phone"])
def test_an_admin_is_not_offered_owner_pages(page, size):
    people = new_company("Admin Shell Hiring")
    page.set_viewport_size(size)
    sign_in(page, people["admin"], people["password"])
    if size is PHONE:
        page.get_by_test_id("menu-button").click()
    menu = page.get_by_test_id("site-menu")
    expect(menu.get_by_test_id("nav-candidates")).to_be_visible()
    expect(menu.get_by_role("group", name="Administration")).to_have_count(0)
    for testid in OWNER_PAGES:
        expect(menu.get_by_test_id(testid)).to_have_count(0)


def test_while_two_factor_is_required_only_the_account_is_offered(page, local_server):
    people = new_company("Strict Shell Hiring")
    owner = Elsewhere(local_server, people["owner"], people["password"])
    current = owner.call("GET", "/api/settings")
    owner.call("PATCH", "/api/settings", {"version": current["version"], "require_mfa": True})
    sign_in(page, people["admin"], people["password"])

    menu = page.get_by_test_id("site-menu")
    expect(menu.get_by_test_id("nav-account")).to_be_visible()
    expect(menu.get_by_role("link")).to_have_count(1)
    expect(menu.get_by_role("group", name="Company data")).to_have_count(0)


def test_a_new_owner_is_offered_the_first_steps(page):
    people = new_company("Welcome Shell Hiring", welcome=True)
    page.goto("/signin")
    page.get_by_label("Email").fill(people["owner"])
    page.get_by_label("Password").fill(people["password"])
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("nav-welcome")).to_have_attribute("href", "/welcome", timeout=15_000)
    page.goto("/")  # signed in, the start page is the person's own
    expect(page).to_have_url(re.compile(r"/welcome$"))


@pytest.mark.parametrize("size", [WIDE, PHONE], ids=["wide", "phone"])
def test_the_signed_out_start_page_explains_protu(page, console_errors, size):
    page.set_viewport_size(size)
    page.goto("/")

    home = page.get_by_test_id("home")
    expect(home).to_contain_text("encrypted")
    expect(home).to_contain_text("audit log")
    expect(home.get_by_test_id("home-security")).to_have_attribute("href", "/security/report")
    expect(page.get_by_test_id("nav-signin")).to_be_visible()
    expect(page.get_by_test_id("menu-button")).to_be_hidden()
    assert header_height(page) <= 64
    no_sideways_scroll(page)
    home.get_by_test_id("home-status").click()
    expect(page).to_have_url(re.compile(r"/status$"))
    expect(page.get_by_test_id("health-status")).to_have_text("Working")
    page.go_back()
    home.get_by_test_id("home-signup").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    assert console_errors == []


def test_the_status_page_uses_human_names(page):
    page.goto("/status")

    expect(page.get_by_test_id("health-check-kms_key")).to_contain_text("Master encryption key")
    expect(page.get_by_test_id("health-check-table")).to_contain_text("Company data")
    expect(page.get_by_test_id("health-check-table")).to_contain_text("Working")
    text = page.locator("main").inner_text()
    for word in ("kms_key", "key_store", "audit_table", "restore_test", "incident_workflow", "table "):
        assert word not in text
    page.get_by_test_id("status-check-again").click()
    expect(page.get_by_test_id("health-status")).to_have_text("Working")


def test_a_table_is_stacked_on_a_phone(page):
    people = new_company("Stacked Hiring")
    page.set_viewport_size(PHONE)
    sign_in(page, people["owner"], people["password"], "Olga Owner")
    page.goto("/users")

    email = page.get_by_test_id("user-email").first
    expect(email).to_have_attribute("data-label", "Email")
    expect(page.locator(".users-table thead")).to_have_css("position", "absolute")
    expect(email).to_have_css("display", "block")
    no_sideways_scroll(page)


def test_the_outage_page_offers_to_try_again(page, local_server):
    people = new_company("Retry Hiring")
    sign_in(page, people["owner"], people["password"], "Olga Owner")
    failed = []

    def fail_once(route):
        if failed:
            return route.continue_()
        failed.append(route.request.url)
        return route.abort()

    page.route(re.compile(r"/pages/roles\.js"), fail_once)
    page.get_by_test_id("nav-roles").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong")
    page.get_by_test_id("error-retry").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Roles")
    assert failed


def test_a_page_that_finishes_loading_leaves_the_focus_where_the_person_moved_it(page, console_errors):
    """A page takes the focus for its heading when it shows, unless the person moved it meanwhile: here the roles page
    waits for the API's schema while the person closes the menu, and the Menu button keeps the focus."""
    people = new_company("Shell Focus")
    page.set_viewport_size(PHONE)
    sign_in(page, people["owner"], people["password"], "Olga Owner")
    held = []
    page.route("**/api/openapi.json", lambda route: held.append(route))  # the first list page waits for the schema
    menu, button = page.get_by_test_id("site-menu"), page.get_by_test_id("menu-button")
    button.click()
    menu.get_by_test_id("nav-roles").click()
    for _ in range(250):
        if held:
            break
        page.wait_for_timeout(20)  # the route handler runs while Playwright waits
    assert held, "the roles page did not ask for the schema"
    page.keyboard.press("Escape")
    expect(button).to_be_focused()
    held[0].continue_()
    expect(page.get_by_test_id("roles-page")).to_be_visible()
    expect(button).to_be_focused()
    assert console_errors == []
