"""An owner manages the users of their company; an admin cannot; nobody reaches another company's users."""

from __future__ import annotations

import time

from protu import audit
from protu.identity import tokens
from protu.identity.models import Session

from tests.api.people import STRONG, Browser, invite, link_token, new_email, sign_up


def signed_in_long_ago(account) -> None:
    """The account's session last authenticated an hour ago (past the recent-sign-in window)."""
    token = tokens.read_access_token(account.browser.access_token)
    Session.get(*Session.key(token.tenant_id, token.user_id, token.session_id)).update(
        actions=[Session.auth_time.set(int(time.time()) - 3600)]
    )


def actions(tenant_id: str) -> list[str]:
    events, _ = audit.events(tenant_id, limit=100)
    return [e["action"] for e in events]


def test_an_invited_admin_joins_and_appears_in_the_list(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun, "admin", name="Adam")
    me = admin.me
    assert (me["role"], me["name"], me["company"]["name"], me["email_verified"]) == (
        "admin",
        "Adam",
        owner.company,
        True,
    )
    listed = {u["email"]: u for u in owner.browser.get("/api/users").json()}
    assert listed[admin.email]["role"] == "admin" and listed[admin.email]["status"] == "active"
    fields = {"id", "email", "name", "role", "mfa_enabled", "status", "last_sign_in_at", "second_factor"}
    assert set(listed[owner.email]) == fields and listed[owner.email]["second_factor"] is False
    assert {"users.invited", "users.invitation_accepted"} <= set(actions(owner.me["company"]["id"]))


def test_a_pending_invitation_is_listed_and_its_link_works_once(api, mailgun):
    owner = sign_up(api, mailgun)
    email = new_email("invitee")
    invitation = {"email": email, "role": "owner", "confirm_owner": True}
    assert owner.browser.post("/api/users/invitations", invitation).status == 201
    listed = {u["email"]: u for u in owner.browser.get("/api/users").json()}
    assert listed[email]["status"] == "invited"
    message = mailgun.to(email)[-1]
    assert owner.company in message["text"] and "/accept-invitation#token=" in message["text"]
    token = link_token(message)
    first = Browser(api).post("/api/auth/invitations/accept", {"token": token, "name": "Olga", "password": STRONG})
    assert first.status == 200 and first.json()["user"]["role"] == "owner"
    again = Browser(api).post("/api/auth/invitations/accept", {"token": token, "name": "Eve", "password": STRONG})
    assert again.json()["error"]["code"] == "invalid_token"


def test_an_admin_cannot_manage_users(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    owner_id = owner.me["id"]
    for method, path, body in [
        ("GET", "/api/users", None),
        ("POST", "/api/users/invitations", {"email": new_email(), "role": "admin"}),
        ("PATCH", f"/api/users/{owner_id}", {"role": "admin"}),
        ("DELETE", f"/api/users/{owner_id}", None),
        ("POST", f"/api/users/{owner_id}/sign-out", None),
    ]:
        reply = admin.browser.request(method, path, json=body)
        assert (reply.status, reply.json()["error"]["code"]) == (403, "forbidden"), path
    allowed = admin.me["permissions"]  # what the SPA shows an admin comes from the same table
    assert "users" not in allowed and "billing" not in allowed and {"candidates", "assessments"} <= set(allowed)


def test_a_role_change_takes_effect_on_the_next_request(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    admin_id = admin.me["id"]
    assert admin.browser.get("/api/users").status == 403
    reply = owner.browser.patch(f"/api/users/{admin_id}", {"role": "owner", "confirm_owner": True})
    assert reply.status == 200 and reply.json()["role"] == "owner"
    assert admin.browser.get("/api/users").status == 200
    assert owner.browser.patch(f"/api/users/{admin_id}", {"role": "admin"}).status == 200
    assert admin.browser.get("/api/users").status == 403
    assert "users.role_changed" in actions(owner.me["company"]["id"])


def test_making_someone_an_owner_needs_a_confirmation_and_a_recent_sign_in(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    admin_id = admin.me["id"]
    for body in ({"role": "owner"}, {"role": "owner", "confirm_owner": False}):
        reply = owner.browser.patch(f"/api/users/{admin_id}", body)
        assert reply.status == 422, body
        assert reply.json()["error"]["code"] == "owner_confirmation_required"
        assert reply.json()["error"]["details"]["field"] == "confirm_owner"
    assert owner.browser.patch(f"/api/users/{admin_id}", {"role": "owner", "confirm_owner": "yes"}).status == 422

    signed_in_long_ago(owner)
    reply = owner.browser.patch(f"/api/users/{admin_id}", {"role": "owner", "confirm_owner": True})
    assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert admin.me["role"] == "admin" and "users.role_changed" not in actions(owner.me["company"]["id"])
    assert owner.browser.patch(f"/api/users/{admin_id}", {"role": "admin"}).status == 200  # no-op, no proof needed

    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    reply = owner.browser.patch(f"/api/users/{admin_id}", {"role": "owner", "confirm_owner": True})
    assert reply.status == 200 and admin.me["role"] == "owner"
    signed_in_long_ago(owner)
    assert owner.browser.patch(f"/api/users/{admin_id}", {"role": "admin"}).status == 200  # demoting needs neither


def test_inviting_an_owner_needs_a_confirmation_and_a_recent_sign_in_too(api, mailgun):
    """Else an invitation would be the way around the role change's checks."""
    owner = sign_up(api, mailgun)
    email = new_email("invitee")
    reply = owner.browser.post("/api/users/invitations", {"email": email, "role": "owner"})
    assert (reply.status, reply.json()["error"]["code"]) == (422, "owner_confirmation_required")
    signed_in_long_ago(owner)
    reply = owner.browser.post("/api/users/invitations", {"email": email, "role": "owner", "confirm_owner": True})
    assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert mailgun.to(email) == [] and email not in {u["email"] for u in owner.browser.get("/api/users").json()}
    assert owner.browser.post("/api/users/invitations", {"email": email, "role": "admin"}).status == 201
    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    reply = owner.browser.post("/api/users/invitations", {"email": email, "role": "owner", "confirm_owner": True})
    assert reply.status == 201 and reply.json()["role"] == "owner"


def test_the_last_owner_cannot_be_demoted_or_removed(api, mailgun):
    owner = sign_up(api, mailgun)
    me = owner.me["id"]
    demote = owner.browser.patch(f"/api/users/{me}", {"role": "admin"})
    assert (demote.status, demote.json()["error"]["code"]) == (409, "last_owner")
    remove = owner.browser.delete(f"/api/users/{me}")
    assert (remove.status, remove.json()["error"]["code"]) == (409, "last_owner")
    second = invite(owner, mailgun, "owner")
    assert second.browser.patch(f"/api/users/{me}", {"role": "admin"}).status == 200
    assert owner.browser.get("/api/users").status == 403
    second_id = second.me["id"]
    assert second.browser.patch(f"/api/users/{second_id}", {"role": "admin"}).json()["error"]["code"] == "last_owner"


def test_removing_a_user_ends_their_sessions_and_frees_the_email(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    admin_id = admin.me["id"]
    assert owner.browser.delete(f"/api/users/{admin_id}").status == 204
    assert admin.browser.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert Browser(api).login(admin.email).status == 401
    assert owner.browser.delete(f"/api/users/{admin_id}").status == 404
    assert owner.browser.post("/api/users/invitations", {"email": admin.email, "role": "admin"}).status == 201


def test_an_owner_forces_a_user_out_everywhere(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    second_device = Browser(api)
    second_device.login(admin.email)
    admin_id = admin.me["id"]
    assert owner.browser.post(f"/api/users/{admin_id}/sign-out").status == 204
    assert admin.browser.get("/api/me").status == 401
    assert second_device.get("/api/me").status == 401
    assert admin.browser.post("/api/auth/refresh").status == 401
    assert "users.force_sign_out" in actions(owner.me["company"]["id"])


def test_another_companys_users_are_out_of_reach(api, mailgun):
    first = sign_up(api, mailgun)
    other = sign_up(api, mailgun)
    stranger = other.me["id"]
    assert first.browser.patch(f"/api/users/{stranger}", {"role": "admin"}).status == 404
    assert first.browser.delete(f"/api/users/{stranger}").status == 404
    assert first.browser.post(f"/api/users/{stranger}/sign-out").status == 404
    assert other.browser.get("/api/me").status == 200
    assert stranger not in {u["id"] for u in first.browser.get("/api/users").json()}


def test_invitations_refuse_bad_input_and_taken_emails(api, mailgun):
    owner = sign_up(api, mailgun)
    for body in (
        {"email": new_email(), "role": "superuser"},
        {"email": "nope", "role": "admin"},
        {"email": new_email()},
        {"email": new_email(), "role": "admin", "extra": 1},
    ):
        reply = owner.browser.post("/api/users/invitations", body)
        assert (reply.status, reply.json()["error"]["code"]) == (422, "validation_failed"), body
    other = sign_up(api, mailgun)  # another company's address answers as a new one: test_invitation_abuse.py
    assert owner.browser.post("/api/users/invitations", {"email": other.email, "role": "admin"}).status == 201
    taken = owner.browser.post("/api/users/invitations", {"email": owner.email, "role": "admin"})
    assert (taken.status, taken.json()["error"]["code"]) == (409, "email_in_use")
    bad_role = owner.browser.patch(f"/api/users/{owner.me['id']}", {"role": "root"})
    assert bad_role.status == 422
