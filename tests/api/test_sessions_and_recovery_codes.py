"""Telling sessions apart (browser, system, network, sign-in method, started, last active) and recovery codes: how
many are left, and a new set made after a recent authentication (issue 21, item 6)."""

from __future__ import annotations

import json
import time

import pyotp
from protu import audit
from protu.identity import tokens
from protu.identity.models import Session

from tests.api.people import FIREFOX, STRONG, Browser, invite, link_token, sign_up

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1"
)
FIELDS = {
    "id",
    "created_at",
    "last_seen_at",
    "ip",
    "user_agent",
    "current",
    "browser",
    "browser_version",
    "system",
    "network",
    "sign_in_method",
}


def session_of(browser: Browser) -> Session:
    claims = tokens.read_access_token(browser.access_token)
    return Session.get(*Session.key(claims.tenant_id, claims.user_id, claims.session_id), consistent_read=True)


def enable_totp(account) -> tuple[str, list[str]]:
    secret = account.browser.post("/api/me/mfa/totp").json()["secret"]
    reply = account.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    assert reply.status == 200, reply.body
    return secret, reply.json()["recovery_codes"]


def two_factor_sign_in(api, email: str, code: str, **browser) -> tuple[Browser, object]:
    client = Browser(api, **browser)
    step = client.login(email).json()
    return client, client.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": code})


def audit_events(tenant_id: str, action: str) -> list[dict]:
    events, _ = audit.events(tenant_id, limit=100)
    return [e for e in events if e["action"] == action]


def test_sessions_say_browser_system_network_and_how_they_started(api, mailgun):
    owner = sign_up(api, mailgun)  # Chrome on Linux, password
    laptop = Browser(api, user_agent=FIREFOX, ip="198.51.100.9")
    assert laptop.login(owner.email).status == 200
    phone = Browser(api, user_agent=IPHONE, ip="2001:db8:abcd:12::7")
    phone.post("/api/auth/magic-link", {"email": owner.email})
    assert phone.post("/api/auth/magic-link/verify", {"token": link_token(mailgun.to(owner.email)[-1])}).status == 200

    listed = owner.browser.get("/api/me/sessions").json()
    assert all(set(s) == FIELDS for s in listed)  # nothing else: no refresh token, hash or fingerprint
    by_agent = {s["user_agent"]: s for s in listed}
    mine, firefox, iphone = by_agent[owner.browser.user_agent], by_agent[FIREFOX], by_agent[IPHONE]
    assert (mine["browser"], mine["browser_version"], mine["system"]) == ("Chrome", "126", "Linux")
    assert (firefox["browser"], firefox["browser_version"], firefox["system"]) == ("Firefox", "128", "Windows")
    assert (iphone["browser"], iphone["browser_version"], iphone["system"]) == ("Safari", "17", "iOS 17.5")
    assert firefox["network"] == "198.51.0.0/16" and iphone["network"] == "2001:db8:abcd::/48"
    assert mine["network"] == ".".join(owner.browser.ip.split(".")[:2]) + ".0.0/16"
    assert [mine["sign_in_method"], firefox["sign_in_method"], iphone["sign_in_method"]] == [
        "password",
        "password",
        "magic_link",
    ]
    assert [s["current"] for s in (mine, firefox, iphone)] == [True, False, False]
    assert listed == sorted(listed, key=lambda s: s["created_at"], reverse=True)
    assert all(s["created_at"] <= s["last_seen_at"] for s in listed)

    # A session from before the method was recorded answers none, and the list still works.
    session_of(laptop).update(actions=[Session.sign_in_method.remove()])
    listed = owner.browser.get("/api/me/sessions").json()
    assert next(s for s in listed if s["user_agent"] == FIREFOX)["sign_in_method"] is None

    # The owner's view of a user's sessions tells them apart the same way (without "this device").
    admin = invite(owner, mailgun, "admin")
    seen = owner.browser.get(f"/api/users/{admin.me['id']}/sessions").json()
    assert [(s["browser"], s["system"], s["network"], s["sign_in_method"]) for s in seen] == [
        ("Firefox", "Windows", "198.51.0.0/16", "invitation")
    ]
    assert set(seen[0]) == FIELDS - {"current"}


def test_two_factor_sign_ins_say_which_first_factor_they_followed(api, mailgun):
    owner = sign_up(api, mailgun)
    _, codes = enable_totp(owner)
    by_password, reply = two_factor_sign_in(api, owner.email, codes[0], user_agent=FIREFOX, ip="198.51.100.40")
    assert reply.status == 200
    by_link = Browser(api, user_agent=IPHONE, ip="198.51.100.41")
    by_link.post("/api/auth/magic-link", {"email": owner.email})
    step = by_link.post("/api/auth/magic-link/verify", {"token": link_token(mailgun.to(owner.email)[-1])}).json()
    assert by_link.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": codes[1]}).status == 200
    methods = {s["user_agent"]: s["sign_in_method"] for s in owner.browser.get("/api/me/sessions").json()}
    assert methods[FIREFOX] == "password+mfa" and methods[IPHONE] == "magic_link+mfa"


def test_recovery_codes_left_and_a_new_set_after_recent_authentication(api, mailgun):
    owner = sign_up(api, mailgun)
    tenant = owner.me["company"]["id"]
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 0}
    reply = owner.browser.post("/api/me/mfa/recovery-codes")
    assert (reply.status, reply.json()["error"]["code"]) == (409, "mfa_not_enabled")

    secret, old = enable_totp(owner)
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 10}
    _, used = two_factor_sign_in(api, owner.email, old[0])
    assert used.status == 200
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 9}

    # Making new codes needs a recent sign-in, as every two-factor change does.
    session_of(owner.browser).update(actions=[Session.auth_time.set(int(time.time()) - 3600)])
    reply = owner.browser.post("/api/me/mfa/recovery-codes")
    assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 9}
    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200

    reply = owner.browser.post("/api/me/mfa/recovery-codes")
    assert reply.status == 200 and set(reply.json()) == {"recovery_codes"}
    new = reply.json()["recovery_codes"]
    assert len(new) == 10 and len(set(new)) == 10 and not set(new) & set(old)
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 10}

    # The earlier codes stop working; the new ones work, once each.
    _, refused = two_factor_sign_in(api, owner.email, old[1])
    assert (refused.status, refused.json()["error"]["code"]) == (401, "invalid_code")
    _, signed_in = two_factor_sign_in(api, owner.email, new[0])
    assert signed_in.status == 200
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 9}

    # On the record, and the holder is told by email; the codes are in neither.
    (event,) = audit_events(tenant, "mfa.recovery_codes_regenerated")
    assert event["outcome"] == "success" and event["details"] == {"unused_before": 9, "codes": 10}
    mail = mailgun.to(owner.email)[-1]
    assert mail["subject"] == "New two-factor recovery codes were made"
    assert "no longer work" in mail["text"]
    recorded = json.dumps(event, default=str) + mail["text"] + mail.get("html", "")
    assert not any(code in recorded for code in new + old)


def test_recovery_code_routes_refuse_bad_input_and_strangers(api, mailgun):
    assert Browser(api).get("/api/me/mfa/recovery-codes").status == 401
    assert Browser(api).post("/api/me/mfa/recovery-codes").status == 401
    owner = sign_up(api, mailgun)
    enable_totp(owner)
    reply = owner.browser.post("/api/me/mfa/recovery-codes", {"count": 1000})
    assert (reply.status, reply.json()["error"]["code"]) == (400, "unexpected_body")
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 10}
