"""A new owner's first steps through the API (issue 21, item 5): ``GET /api/me/welcome`` ticks each step from the
company's own state, ``POST /api/me/welcome/done`` puts them away (once; again changes nothing), owners only."""

from __future__ import annotations

from protu import audit

from tests.api.people import invite, sign_up


def steps(browser) -> dict[str, bool]:
    reply = browser.get("/api/me/welcome")
    assert reply.status == 200, reply.text
    return {step["id"]: step["done"] for step in reply.json()["steps"]}


def test_the_steps_follow_the_company_and_put_away_they_stay_away(api, mailgun):
    owner_account = sign_up(api, mailgun)
    owner = owner_account.browser
    assert owner.get("/api/me").json()["show_welcome"] is True
    assert steps(owner) == {
        "verify_email": True,
        "two_factor": False,
        "invite": False,
        "first_role": False,
        "first_candidate": False,
    }

    admin = invite(owner_account, mailgun, "admin").browser
    assert owner.post("/api/roles", {"title": "Chemist"}).status == 201
    assert steps(owner) == {
        "verify_email": True,
        "two_factor": False,
        "invite": True,
        "first_role": True,
        "first_candidate": False,
    }

    # An admin has no first steps to take, nor to put away; nor is a sign-in of theirs sent to them.
    assert admin.get("/api/me").json()["show_welcome"] is False
    assert admin.get("/api/me/welcome").status == 403
    assert admin.post("/api/me/welcome/done").status == 403

    assert owner.post("/api/me/welcome/done").status == 204
    assert owner.post("/api/me/welcome/done").status == 204  # again: nothing changes
    assert owner.get("/api/me").json()["show_welcome"] is False
    assert owner.get("/api/me/welcome").json()["shown"] is False
    tenant = owner.get("/api/me").json()["company"]["id"]
    events, _ = audit.events(tenant, limit=100)
    assert [e["action"] for e in events].count("user.welcome_done") == 1
