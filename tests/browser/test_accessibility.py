"""axe-core on every route of the SPA (frontend/app.js), signed out and signed in as an owner whose company has one
record of each kind, at 1280x800 and 390x844: no violation of any impact. (Every other browser test checks the pages
it reaches too: tests/browser/conftest.py.) The pages are reached as a reader would, through the router (no reload
between them), and checked once each has been quiet for a moment. Each walk is done at one size, then at the other in
the same page (the layout is CSS alone: no script reads the viewport), so a company and a sign-in serve both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import Elsewhere, axe_failure, new_company, sign_in

pytestmark = pytest.mark.browser

APP = (Path(__file__).parents[2] / "frontend" / "app.js").read_text(encoding="utf-8")
ROUTES = re.findall(r'\{ path: "([^"]+)"', APP)
SIZES = [(1280, 800), (390, 844)]

# Through the router, as a click on a link would: resolves with the path shown once the page is rendered.
SHOW = """(path) => new Promise((resolve, reject) => {
  addEventListener("protu:page", () => resolve(location.pathname), { once: true });
  setTimeout(() => reject(new Error(`${path} was not shown within 10 s`)), 10_000);
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
})"""


def records(base: str, people: dict[str, str]) -> dict[str, str]:
    """One record of each kind in the company, and an incident that concerns it: the id for each list's path."""
    from protu.security import incidents, response, signals

    owner = Elsewhere(base, people["owner"], people["password"])
    role = owner.call("POST", "/api/roles", {"title": "Support lead"}, status=201)
    candidate = owner.call("POST", "/api/candidates", {"name": "Carla Candidate"}, status=201)
    employee = owner.call("POST", "/api/employees", {"name": "Lena Lead"}, status=201)
    team = owner.call("POST", "/api/teams", {"name": "Platform", "lead_employee_id": employee["id"]}, status=201)
    questions = [{"id": "q1", "text": "Why us?", "kind": "text"}, {"id": "q2", "text": "Relocate?", "kind": "yes_no"}]
    assessment = owner.call("POST", "/api/assessments", {"title": "Culture", "questions": questions}, status=201)
    answer = {"subject_type": "candidate", "subject_id": candidate["id"], "answers": {"q1": "The mission."}}
    owner.call("POST", f"/api/assessments/{assessment['id']}/responses", answer | {"score": 80}, status=201)
    signal = signals.raise_signal(
        "login.locked", tenant_id=people["company_id"], user_id=people["owner_id"], source_ip="198.51.100.9"
    )
    incident, _ = incidents.detect(signal)
    response.sync_company_view(people["company_id"], incident.id)
    ids = {"roles": role, "candidates": candidate, "employees": employee, "teams": team, "assessments": assessment}
    return {kind: found["id"] for kind, found in ids.items()} | {"incidents": incident.id}


def visit_every_route(page, ids: dict[str, str]) -> list[dict]:
    """axe on each route (and a path no route matches) at each size: what it found, page by page. A route that sends
    the reader to a page checked already at that size (a protected page to the sign-in page) is not checked again."""
    page.axe.auto = False
    found = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        seen = set()
        for route in [*ROUTES, "/no-such-page"]:
            path = re.sub(r":\w+", lambda _, route=route: ids.get(route.split("/")[1], "r_missing"), route)
            shown = page.evaluate("() => location.pathname")
            if shown != path:
                shown = page.evaluate(SHOW, path)
            if shown != path and shown in seen:
                continue
            seen.add(shown)
            checked = page.axe.check(quiet_ms=100)
            checked["url"] = f"{path} at {width}x{height} (shown: {checked['url']})"
            if checked["violations"]:
                found.append(checked)
    return found


def test_every_page_signed_out(page):
    assert len(ROUTES) == APP.count("path:") > 30  # every route of app.js is read
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    page.goto("/")
    page.wait_for_function("() => document.title.endsWith('Protu')")
    found = visit_every_route(page, {})
    assert not found, axe_failure(found)


def test_every_page_signed_in_as_an_owner(page, local_server):
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    people = new_company("Axe Works")
    ids = records(local_server, people)
    sign_in(page, people["owner"], people["password"], "Olga Owner")
    found = visit_every_route(page, ids)
    assert not found, axe_failure(found)
