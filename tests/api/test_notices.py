"""``GET /api/me/notices``: what a person must know now, computed from the current state (it goes away with its
cause): a failed payment (people who see billing), email that cannot reach them with the security alerts we
could not send, and two-factor required by their company."""

from __future__ import annotations

from protu.mail import suppression

from tests.api.people import invite, sign_up


def kinds(account) -> list[str]:
    reply = account.browser.get("/api/me/notices")
    assert reply.status == 200, reply.body
    return [item["kind"] for item in reply.json()["items"]]


def test_a_failed_payment_is_a_notice_for_owners_until_paid(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun, "admin")
    assert kinds(owner) == [] and kinds(admin) == []
    reply = owner.browser.post("/api/billing/checkout", {"plan": "team"})
    session = stripe_api.sessions[reply.json()["url"].rsplit("/", 1)[1]]
    stripe_api.pay(session["id"])
    stripe_api.fail_payment(session["customer"])
    assert kinds(owner) == ["payment_failed"] and kinds(admin) == []
    stripe_api.send("invoice.paid", {"id": "in_ok", "object": "invoice", "customer": session["customer"]})
    assert kinds(owner) == []


def test_a_bouncing_address_shows_the_security_alerts_it_could_not_receive(api, mailgun):
    owner = sign_up(api, mailgun)
    suppression.suppress(owner.email, "bounced", "evt-test")
    try:
        for n in range(5):  # wrong passwords until the account needs a step-up: an alert we would have emailed
            wrong = {"email": owner.email, "password": "not the password at all"}
            api.post("/api/auth/login", json=wrong, source_ip=f"198.51.100.{n + 60}")
        items = owner.browser.get("/api/me/notices").json()["items"]
        assert items[0]["kind"] == "email_bouncing" and "bounces" in items[0]["message"]
        alerts = [item for item in items if item["kind"] == "security_alert"]
        assert alerts and "confirm it is you" in alerts[0]["message"] and alerts[0]["at"] > 0
        assert not [m for m in mailgun.to(owner.email) if "failed attempts" in m["subject"].lower()]
    finally:
        suppression.lift(owner.email)
    assert kinds(owner) == []


def test_two_factor_required_by_the_company_is_a_notice(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun, "admin")
    current = owner.browser.get("/api/settings").json()
    assert owner.browser.patch("/api/settings", {"version": current["version"], "require_mfa": True}).status == 200
    assert "mfa_setup_required" in kinds(admin) and "mfa_setup_required" in kinds(owner)


def test_notices_need_a_session(api):
    assert api.get("/api/me/notices").status == 401
