"""Sign-up, sign-in and sessions through the API, against the OWASP ASVS 5.0 items the identity rules come from."""

from __future__ import annotations

import time

import boto3
import pyotp
import pytest
from protu import audit
from protu.identity import signup, tokens
from protu.identity.models import Company, OneTimeToken, Session
from protu.settings import settings

from tests.api.people import CHROME, FIREFOX, STRONG, Browser, link_token, new_email, sign_up


def table():
    return boto3.resource("dynamodb", region_name="eu-central-1").Table(settings().data_table)


def session_item(me: dict, browser: Browser):
    claims = tokens.read_access_token(browser.access_token)
    return Session.get(*Session.key(claims.tenant_id, claims.user_id, claims.session_id), consistent_read=True)


def actions(tenant_id: str) -> list[str]:
    events, _ = audit.events(tenant_id, limit=100)
    return [f"{e['action']}:{e['outcome']}" for e in events]


# ------------------------------------------------------------------------------------------------ sign-up
def test_sign_up_creates_an_owner_and_a_verified_email_after_the_link(api, mailgun):
    browser = Browser(api)
    email = new_email()
    reply = browser.post(
        "/api/auth/signup",
        {"company_name": "Acme Labs", "name": "Ana", "email": email, "password": STRONG, "accept_terms": True},
    )
    assert (reply.status, reply.json()) == (201, {"status": "verification_sent"})
    message = mailgun.to(email)[-1]
    assert "/verify-email#token=" in message["text"]
    token = link_token(message)
    assert len(token) >= 43  # 256 bits (ASVS 7.2.3)
    assert browser.post("/api/auth/verify-email", {"token": token}).json() == {"status": "verified"}
    assert browser.post("/api/auth/verify-email", {"token": token}).json()["error"]["code"] == "invalid_token"
    assert browser.login(email).status == 200
    me = browser.get("/api/me").json()
    assert me["role"] == "owner" and me["email_verified"] is True and me["company"]["name"] == "Acme Labs"
    assert set(me) == {
        "id",
        "email",
        "name",
        "role",
        "company",
        "mfa_enabled",
        "email_verified",
        "permissions",
        "mfa_setup_required",
        "show_welcome",
        "sign_in_method",
    }
    assert me["mfa_setup_required"] is False and me["sign_in_method"] == "password"
    assert {"billing", "settings", "users", "audit", "assessments"} <= set(me["permissions"])
    assert "auth.signup:success" in actions(me["company"]["id"])


def test_a_taken_email_gets_the_same_answer_and_its_owner_an_email(api, mailgun):
    owner = sign_up(api, mailgun)
    sent_before = len(mailgun.to(owner.email))
    reply = Browser(api).post(
        "/api/auth/signup",
        {
            "company_name": "Other",
            "name": "Eve",
            "email": owner.email,
            "password": "another strong passphrase",
            "accept_terms": True,
        },
    )
    assert (reply.status, reply.json()) == (201, {"status": "verification_sent"})
    notice = mailgun.to(owner.email)[sent_before:]
    assert len(notice) == 1 and "/verify-email" not in notice[0]["text"]


@pytest.mark.parametrize(
    "change, code",
    [
        ({"password": "short"}, "password_too_short"),
        ({"password": "x" * 129}, "password_too_long"),
        ({"password": "password1"}, "password_common"),
        ({"password": "Initech2024!"}, "password_contextual"),
        ({"email": "not-an-email"}, "validation_failed"),
        ({"name": ""}, "validation_failed"),
        ({"company_name": "x" * 101}, "validation_failed"),
        ({"name": 5}, "validation_failed"),
        ({"admin": True}, "validation_failed"),
        ({"accept_terms": False}, "terms_not_accepted"),
        ({"accept_terms": "yes"}, "validation_failed"),
    ],
)
def test_sign_up_refuses_bad_input_with_a_clear_code(api, mailgun, change, code):
    body = {"company_name": "Initech", "name": "Peter", "email": new_email(), "password": STRONG, "accept_terms": True}
    body |= change
    reply = Browser(api).post("/api/auth/signup", body)
    assert reply.status == 422
    assert reply.json()["error"]["code"] == code
    assert mailgun.to(body["email"]) == [] if isinstance(body["email"], str) else True


def test_missing_fields_are_422(api):
    reply = Browser(api).post("/api/auth/signup", {"email": new_email()})
    assert (reply.status, reply.json()["error"]["code"]) == (422, "validation_failed")


def test_sign_up_needs_the_terms_accepted_and_creates_nothing_without(api, mailgun):
    """Issue 21 item 11: ``accept_terms`` must be true; without it nothing is recorded and no mail is sent."""
    email = new_email()
    body = {"company_name": "Acme Labs", "name": "Ana", "email": email, "password": STRONG}
    browser = Browser(api)
    for terms, code in (({}, "validation_failed"), ({"accept_terms": False}, "terms_not_accepted")):
        reply = browser.post("/api/auth/signup", body | terms)
        assert (reply.status, reply.json()["error"]["code"]) == (422, code)
        assert reply.json()["error"]["details"] == {"field": "accept_terms"}
    # No sign-up waits for this address: signing in with its password would send the verification link again.
    assert browser.login(email).json()["error"]["code"] == "invalid_credentials"
    assert mailgun.to(email) == []


def test_the_terms_accepted_at_sign_up_are_recorded_with_their_version_and_time(api, mailgun):
    before = int(time.time())
    owner = sign_up(api, mailgun)
    me = owner.me
    company = Company.get(*Company.key(me["company"]["id"]), consistent_read=True)
    assert company.terms_version == signup.TERMS_VERSION == "2026-12-01"
    assert before <= company.terms_accepted_at <= time.time() and company.terms_accepted_by == me["id"]
    events = owner.browser.get("/api/audit-events?action=auth.signup").json()["items"]
    assert [e["details"] for e in events] == [
        {"company": company.id, "terms_version": "2026-12-01", "terms_accepted_at": company.terms_accepted_at}
    ]


# ------------------------------------------------------------------------------------------------ sign-in
def test_login_sets_a_strict_refresh_cookie_and_a_short_access_token(api, mailgun):
    owner = sign_up(api, mailgun)
    browser = Browser(api)
    reply = browser.login(owner.email)
    body = reply.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 600 and body["user"]["email"] == owner.email
    cookie = reply.header("Set-Cookie")
    for attribute in ("protu_refresh=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"):
        assert attribute in cookie
    assert "access_token" not in cookie


def test_wrong_password_and_unknown_email_get_the_same_answer(api, mailgun):
    owner = sign_up(api, mailgun)
    wrong = Browser(api, ip="192.0.2.10").login(owner.email, "not the password at all")
    unknown = Browser(api, ip="192.0.2.11").login(new_email(), "not the password at all")
    assert wrong.status == unknown.status == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert "auth.login:failure" in actions(owner.me["company"]["id"])


def test_guessing_slows_the_guessing_address_and_asks_the_account_for_a_step_up(api, mailgun):
    """ASVS 5.0 6.3.1: repeated guesses slow down the address that guesses (doubling delays after three) and put
    the account under step-up, without locking its holder out; an unknown email is answered the same way."""
    owner = sign_up(api, mailgun)
    attacker = Browser(api, ip="192.0.2.50")
    replies = [attacker.login(owner.email, "guess guess guess") for _ in range(5)]
    assert [r.status for r in replies] == [401, 401, 401, 429, 429]  # three free guesses, then the address waits
    waiting = replies[-1]
    assert waiting.json()["error"]["code"] == "too_many_attempts" and int(waiting.header("Retry-After")) >= 1
    ghost = new_email()
    ghost_replies = [attacker.login(ghost, "guess guess guess") for _ in range(5)]
    assert [(r.status, r.body) for r in ghost_replies] == [(r.status, r.body) for r in replies]

    # the holder, from their own address, is not made to wait: the right password asks them to confirm by email
    for ip in ("192.0.2.51", "192.0.2.52"):  # five failures in all (from any address): step-up
        assert Browser(api, ip=ip).login(owner.email, "guess guess guess").status == 401
    assert "auth.step_up_required:success" in actions(owner.me["company"]["id"])
    assert [m for m in mailgun.to(owner.email) if "failed attempts" in m["subject"].lower()]
    holder = Browser(api, ip=owner.browser.ip)
    reply = holder.login(owner.email)
    assert (reply.status, reply.json()) == (200, {"step_up_required": True, "method": "email_link"})
    assert "access_token" not in reply.json() and not holder.cookies
    confirm = mailgun.to(owner.email)[-1]
    assert "confirm it is you" in confirm["subject"].lower()
    signed_in = holder.post("/api/auth/magic-link/verify", {"token": link_token(confirm)})
    assert signed_in.status == 200 and signed_in.json()["user"]["email"] == owner.email
    assert Browser(api, ip=owner.browser.ip).login(owner.email).status == 200  # the step-up is done


# ------------------------------------------------------------------------------------------------ sessions
def test_refresh_rotates_and_a_reused_token_ends_the_session(api, mailgun):
    owner = sign_up(api, mailgun)
    browser = owner.browser
    old_cookie = dict(browser.cookies)
    reply = browser.post("/api/auth/refresh")
    assert reply.status == 200 and browser.cookies != old_cookie
    assert browser.get("/api/me").status == 200

    thief = Browser(api, cookies=old_cookie)
    reused = thief.post("/api/auth/refresh")
    assert (reused.status, reused.json()["error"]["code"]) == (401, "refresh_reused")
    assert browser.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert browser.post("/api/auth/refresh").status == 401
    assert any("unusual activity" in m["subject"].lower() for m in mailgun.to(owner.email))


def test_logout_ends_the_session_at_once(api, mailgun):
    owner = sign_up(api, mailgun)
    token = owner.browser.access_token
    assert owner.browser.post("/api/auth/logout").status == 204
    stale = Browser(api, access_token=token)
    assert stale.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert owner.browser.post("/api/auth/refresh").status == 401


def test_users_list_and_revoke_their_sessions(api, mailgun):
    owner = sign_up(api, mailgun)
    laptop = Browser(api, user_agent=FIREFOX, ip="198.51.100.9")
    phone = Browser(api, user_agent=CHROME, ip="198.51.100.10")
    laptop.login(owner.email)
    phone.login(owner.email)
    listed = owner.browser.get("/api/me/sessions").json()
    assert len(listed) == 3
    assert [s["current"] for s in listed].count(True) == 1
    assert {"id", "created_at", "last_seen_at", "ip", "user_agent", "current"} <= set(listed[0])
    laptop_id = next(s["id"] for s in listed if s["user_agent"] == FIREFOX)
    assert owner.browser.delete(f"/api/me/sessions/{laptop_id}").status == 204
    assert laptop.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert owner.browser.delete("/api/me/sessions/not-a-session").status == 404
    assert owner.browser.delete("/api/me/sessions").status == 204
    assert phone.get("/api/me").status == 401
    assert owner.browser.get("/api/me").status == 200


def test_inactivity_and_absolute_lifetime_end_sessions(api, mailgun):
    owner = sign_up(api, mailgun)
    session = session_item(owner.me, owner.browser)
    session.update(actions=[Session.last_seen_at.set(int(time.time()) - 31 * 60)])
    assert owner.browser.get("/api/me").json()["error"]["code"] == "session_idle"

    owner.browser.login(owner.email)
    session = session_item(owner.me, owner.browser)
    session.update(actions=[Session.absolute_expires_at.set(int(time.time()) - 1)])
    assert owner.browser.get("/api/me").json()["error"]["code"] == "session_expired"


def test_access_tokens_expire_within_ten_minutes(api, mailgun):
    owner = sign_up(api, mailgun)
    claims = tokens.read_access_token(owner.browser.access_token)
    old = tokens.issue_access_token(claims.tenant_id, claims.user_id, claims.session_id, now=time.time() - 601)
    reply = Browser(api, access_token=old).get("/api/me")
    assert (reply.status, reply.json()["error"]["code"]) == (401, "token_expired")
    forged = owner.browser.access_token[:-4] + "AAAA"
    assert Browser(api, access_token=forged).get("/api/me").json()["error"]["code"] == "invalid_token"
    assert Browser(api).get("/api/me").json()["error"]["code"] == "unauthorized"


def test_a_token_used_from_another_client_signs_the_session_out(api, mailgun):
    owner = sign_up(api, mailgun)
    tenant = owner.me["company"]["id"]
    replay = Browser(api, user_agent=FIREFOX, ip="192.0.2.99", access_token=owner.browser.access_token)
    assert replay.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert owner.browser.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert "session.suspicious_signout:success" in actions(tenant)
    assert any("unusual activity" in m["subject"].lower() for m in mailgun.to(owner.email))


# ------------------------------------------------------------------------------------------------ magic links
def test_magic_link_signs_in_once_within_ten_minutes(api, mailgun):
    owner = sign_up(api, mailgun)
    browser = Browser(api)
    assert browser.post("/api/auth/magic-link", {"email": owner.email}).status == 202
    ghost = new_email()
    assert browser.post("/api/auth/magic-link", {"email": ghost}).status == 202
    assert mailgun.to(ghost) == []
    message = mailgun.to(owner.email)[-1]
    assert "/magic#token=" in message["text"] and "10 minutes" in message["text"]
    token = link_token(message)
    assert browser.post("/api/auth/magic-link/verify", {"token": token}).status == 200
    assert browser.get("/api/me").status == 200
    assert browser.post("/api/auth/magic-link/verify", {"token": token}).json()["error"]["code"] == "invalid_token"


def test_an_expired_magic_link_is_refused(api, mailgun):
    owner = sign_up(api, mailgun)
    browser = Browser(api)
    browser.post("/api/auth/magic-link", {"email": owner.email})
    token = link_token(mailgun.to(owner.email)[-1])
    item = OneTimeToken.get(*OneTimeToken.key(tokens.token_hash(token)))
    assert item.expires_at - time.time() <= 600
    item.update(actions=[OneTimeToken.expires_at.set(int(time.time()) - 1)])
    reply = browser.post("/api/auth/magic-link/verify", {"token": token})
    assert (reply.status, reply.json()["error"]["code"]) == (400, "token_expired")


def test_tokens_are_stored_only_hashed(api, mailgun):
    owner = sign_up(api, mailgun)
    Browser(api).post("/api/auth/magic-link", {"email": owner.email})
    token = link_token(mailgun.to(owner.email)[-1])
    dump = str(table().scan()["Items"])
    assert token not in dump
    assert owner.browser.cookies["protu_refresh"].rsplit(".", 1)[1] not in dump
    assert owner.password not in dump


# ------------------------------------------------------------------------------------------------ passwords
def test_password_reset_ends_every_session(api, mailgun):
    owner = sign_up(api, mailgun)
    other = Browser(api)
    other.login(owner.email)
    assert Browser(api).post("/api/auth/password/forgot", {"email": owner.email}).status == 202
    assert Browser(api).post("/api/auth/password/forgot", {"email": new_email()}).status == 202
    token = link_token(mailgun.to(owner.email)[-1])
    weak = Browser(api).post("/api/auth/password/reset", {"token": token, "password": "12345678"})
    assert weak.json()["error"]["code"] == "password_common"
    new_password = "a brand new long passphrase"
    assert Browser(api).post("/api/auth/password/reset", {"token": token, "password": new_password}).status == 200
    assert owner.browser.get("/api/me").status == 401 and other.get("/api/me").status == 401
    assert Browser(api).login(owner.email, STRONG).status == 401
    assert Browser(api).login(owner.email, new_password).status == 200
    again = Browser(api).post("/api/auth/password/reset", {"token": token, "password": "yet another passphrase"})
    assert again.json()["error"]["code"] == "invalid_token"


def test_changing_the_password_needs_the_current_one_and_can_end_other_sessions(api, mailgun):
    owner = sign_up(api, mailgun)
    other = Browser(api)
    other.login(owner.email)
    wrong = owner.browser.post("/api/me/password", {"current_password": "nope nope nope", "new_password": "x" * 20})
    assert (wrong.status, wrong.json()["error"]["code"]) == (403, "invalid_password")
    reply = owner.browser.post(
        "/api/me/password",
        {"current_password": STRONG, "new_password": "my second strong passphrase", "end_other_sessions": True},
    )
    assert reply.json() == {"status": "password_changed", "sessions_ended": 1}
    assert other.get("/api/me").status == 401 and owner.browser.get("/api/me").status == 200


# ------------------------------------------------------------------------------------------------ two-factor
def enable_totp(owner) -> tuple[str, list[str]]:
    enrol = owner.browser.post("/api/me/mfa/totp").json()
    assert enrol["otpauth_uri"].startswith("otpauth://totp/") and enrol["qr_data_uri"].startswith("data:image/svg")
    secret = enrol["secret"]
    wrong = owner.browser.post("/api/me/mfa/totp/confirm", {"code": "000000"})
    assert wrong.status == 422
    reply = owner.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    codes = reply.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def test_two_factor_sign_in_with_a_code_used_once(api, mailgun):
    owner = sign_up(api, mailgun)
    secret, _ = enable_totp(owner)
    assert owner.me["mfa_enabled"] is True
    browser = Browser(api)
    step = browser.login(owner.email).json()
    assert step["mfa_required"] is True and "access_token" not in step
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the next step: the current one was spent on confirming
    assert browser.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": code}).status == 200
    assert browser.get("/api/me").status == 200
    replay = Browser(api)
    step = replay.login(owner.email).json()
    reply = replay.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": code})
    assert (reply.status, reply.json()["error"]["code"]) == (401, "code_just_used")


def test_a_code_just_used_is_told_apart_and_still_counts_as_a_wrong_code(api, mailgun):
    """Issue 21 item 7: a code of the app's current steps that was already used answers ``code_just_used`` ("wait
    for the next one"); it is a failed attempt like a wrong code, so the step still ends after five."""
    owner = sign_up(api, mailgun)
    secret, _ = enable_totp(owner)
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the current step was spent on confirming
    first = Browser(api)
    step = first.login(owner.email).json()["mfa_token"]
    assert first.post("/api/auth/mfa", {"mfa_token": step, "code": code}).status == 200

    browser = Browser(api)
    step = browser.login(owner.email).json()["mfa_token"]
    replies = [browser.post("/api/auth/mfa", {"mfa_token": step, "code": code}) for _ in range(5)]
    assert [r.json()["error"]["code"] for r in replies] == ["code_just_used"] * 4 + ["mfa_attempts_exceeded"]
    assert replies[0].status == 401
    assert replies[0].json()["error"] == {
        "code": "code_just_used",
        "message": "This code was just used; wait for the next one.",
        "details": {"field": "code"},
    }
    assert actions(owner.me["company"]["id"]).count("auth.mfa:failure") == 5
    # A code nobody used is still just wrong.
    step = browser.login(owner.email).json()["mfa_token"]
    valid = {pyotp.TOTP(secret).at(time.time() + offset) for offset in (-60, -30, 0, 30, 60)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in valid)
    reply = browser.post("/api/auth/mfa", {"mfa_token": step, "code": wrong})
    assert (reply.status, reply.json()["error"]["code"]) == (401, "invalid_code")


def test_a_code_just_used_to_confirm_it_is_you_is_told_apart_and_counts_towards_the_burst(api, mailgun):
    owner = sign_up(api, mailgun)
    tenant = owner.me["company"]["id"]
    secret, _ = enable_totp(owner)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert owner.browser.post("/api/auth/reauthenticate", {"code": code}).status == 200
    replies = [owner.browser.post("/api/auth/reauthenticate", {"code": code}) for _ in range(4)]
    assert {(r.status, r.json()["error"]["code"]) for r in replies} == {(403, "code_just_used")}
    assert replies[0].json()["error"]["details"] == {"field": "code"}
    off = owner.browser.delete("/api/me/mfa/totp", {"code": code})  # the fifth wrong answer in this session
    assert (off.status, off.json()["error"]["code"]) == (401, "session_revoked")
    done = actions(tenant)
    assert done.count("auth.reauthenticate:failure") == 4 and done.count("mfa.disable:failure") == 1
    assert "mfa.disabled:success" not in done


def test_recovery_codes_work_once_and_a_reset_never_skips_two_factor(api, mailgun):
    owner = sign_up(api, mailgun)
    _, codes = enable_totp(owner)
    browser = Browser(api)
    step = browser.login(owner.email).json()
    assert browser.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": codes[0]}).status == 200
    step = Browser(api).login(owner.email).json()
    assert Browser(api).post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": codes[0]}).status == 401

    Browser(api).post("/api/auth/password/forgot", {"email": owner.email})
    token = link_token(mailgun.to(owner.email)[-1])
    Browser(api).post("/api/auth/password/reset", {"token": token, "password": "reset but still two factor"})
    assert Browser(api).login(owner.email, "reset but still two factor").json()["mfa_required"] is True
    magic = Browser(api)
    magic.post("/api/auth/magic-link", {"email": owner.email})
    reply = magic.post("/api/auth/magic-link/verify", {"token": link_token(mailgun.to(owner.email)[-1])})
    assert reply.json()["mfa_required"] is True


def test_a_burst_of_wrong_codes_ends_the_two_factor_step(api, mailgun):
    owner = sign_up(api, mailgun)
    enable_totp(owner)
    browser = Browser(api)
    step = browser.login(owner.email).json()
    codes = [
        browser.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": "123456"}).json()["error"]["code"]
        for _ in range(6)
    ]
    assert codes[:4] == ["invalid_code"] * 4
    assert codes[4] == "mfa_attempts_exceeded" and codes[5] == "invalid_token"


def test_changing_two_factor_needs_recent_authentication(api, mailgun):
    owner = sign_up(api, mailgun)
    session = session_item(owner.me, owner.browser)
    session.update(actions=[Session.auth_time.set(int(time.time()) - 3600)])
    reply = owner.browser.post("/api/me/mfa/totp")
    assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert owner.browser.post("/api/auth/reauthenticate", {"password": "wrong password!"}).status == 403
    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    assert owner.browser.post("/api/me/mfa/totp").status == 200


def test_turning_two_factor_off_needs_the_password_or_a_code(api, mailgun):
    owner = sign_up(api, mailgun)
    enable_totp(owner)
    assert owner.browser.delete("/api/me/mfa/totp", {}).json()["error"]["code"] == "password_or_code_required"
    assert owner.browser.delete("/api/me/mfa/totp", {"password": "not my password"}).status == 403
    assert owner.browser.delete("/api/me/mfa/totp", {"password": STRONG}).status == 204
    assert owner.me["mfa_enabled"] is False
    assert "mfa.disabled:success" in actions(owner.me["company"]["id"])


# ------------------------------------------------------------------------------------------------ records
def test_nothing_secret_reaches_the_logs(api, mailgun, capsys):
    owner = sign_up(api, mailgun, password="a very secret passphrase 42")
    Browser(api).post("/api/auth/magic-link", {"email": owner.email})
    token = link_token(mailgun.to(owner.email)[-1])
    Browser(api).post("/api/auth/magic-link/verify", {"token": token})
    out = capsys.readouterr().out
    assert "a very secret passphrase 42" not in out
    assert token not in out
    assert owner.browser.access_token not in out
    assert owner.browser.cookies["protu_refresh"] not in out


def test_changing_two_factor_can_end_the_other_sessions(api, mailgun):
    owner = sign_up(api, mailgun)
    phone = Browser(api, user_agent=FIREFOX, ip="198.51.100.31")
    phone.login(owner.email)
    setup = owner.browser.post("/api/me/mfa/totp").json()
    code = pyotp.TOTP(setup["secret"]).now()
    answer = owner.browser.post("/api/me/mfa/totp/confirm", {"code": code, "end_other_sessions": True}).json()
    assert answer["sessions_ended"] == 1 and len(answer["recovery_codes"]) == 10
    assert phone.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert owner.browser.get("/api/me").status == 200

    tablet = Browser(api, user_agent=FIREFOX, ip="198.51.100.32")
    step = tablet.login(owner.email).json()
    assert (
        tablet.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": answer["recovery_codes"][0]}).status
        == 200
    )
    off = {"password": STRONG, "end_other_sessions": True}
    assert owner.browser.delete("/api/me/mfa/totp", off).status == 204
    assert tablet.get("/api/me").json()["error"]["code"] == "session_revoked"
    assert "session.revoke_all:success" in actions(owner.me["company"]["id"])


def test_ending_other_sessions_needs_recent_authentication_but_signing_out_this_one_does_not(api, mailgun):
    owner = sign_up(api, mailgun)
    laptop = Browser(api, user_agent=FIREFOX, ip="198.51.100.33")
    laptop.login(owner.email)
    session_item(owner.me, owner.browser).update(actions=[Session.auth_time.set(int(time.time()) - 3600)])
    listed = owner.browser.get("/api/me/sessions").json()
    other = next(s["id"] for s in listed if not s["current"])
    for reply in (owner.browser.delete(f"/api/me/sessions/{other}"), owner.browser.delete("/api/me/sessions")):
        assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert laptop.get("/api/me").status == 200

    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    assert owner.browser.delete(f"/api/me/sessions/{other}").status == 204
    assert laptop.get("/api/me").status == 401

    mine = next(s["id"] for s in listed if s["current"])
    session_item(owner.me, owner.browser).update(actions=[Session.auth_time.set(int(time.time()) - 3600)])
    assert owner.browser.delete(f"/api/me/sessions/{mine}").status == 204
    assert owner.browser.get("/api/me").json()["error"]["code"] == "session_revoked"


def test_a_sign_in_from_a_new_device_is_emailed_and_a_known_one_is_not(api, mailgun):
    owner = sign_up(api, mailgun)  # signed in once already: that device is known

    def alerts() -> list[dict]:
        return [m for m in mailgun.to(owner.email) if m["subject"].startswith("New sign-in")]

    again = Browser(api, user_agent=owner.browser.user_agent, ip=owner.browser.ip)
    assert again.login(owner.email).status == 200
    assert alerts() == []
    elsewhere = Browser(api, user_agent=FIREFOX, ip="192.0.2.200")
    assert elsewhere.login(owner.email).status == 200
    [alert] = alerts()
    assert "192.0.2.200" in alert["text"] and "Firefox" in alert["text"]
    assert Browser(api, user_agent=FIREFOX, ip="192.0.2.201").login(owner.email).status == 200  # same network
    assert len(alerts()) == 1
