"""Passkeys through HTTP (issue 22): registering (recent authentication), listing, renaming and removing them,
signing in with one without typing an email, and using one as the second factor. The authenticator and its browser
are ``tests.webauthn_authenticator`` (the outside world); the server verifies with the ``webauthn`` library.
Refusals: a replayed ceremony, a cloned credential (its counter going back), another site's passkey, another
user's passkey, and removing the last second factor of a company that requires two-factor."""

from __future__ import annotations

import logging
import time

import pyotp
import pytest
from protu import audit
from protu.identity import passkeys, tokens
from protu.identity.models import Session
from protu.security import login_guard, signals
from protu.settings import settings

from tests.api.people import STRONG, Browser, add_passkey, link_token, sign_up
from tests.api.test_openapi import assert_matches
from tests.webauthn_authenticator import Authenticator, b64url


def origin() -> str:
    return settings().app_origin


def session_of(browser: Browser) -> Session:
    claims = tokens.read_access_token(browser.access_token)
    return Session.get(*Session.key(claims.tenant_id, claims.user_id, claims.session_id), consistent_read=True)


def actions(account, name: str) -> list[dict]:
    events, _ = audit.events(account.me["company"]["id"], limit=100)
    return [e for e in events if e["action"] == name]


def passkey_sign_in(api, authenticator: Authenticator, **kw) -> tuple[Browser, object]:
    browser = Browser(api)
    options = browser.post("/api/auth/passkey/options", {}).json()
    credential = authenticator.get(options["options"], **kw)
    return browser, browser.post("/api/auth/passkey", {"ceremony": options["ceremony"], "credential": credential})


@pytest.fixture(scope="module")
def holder(api, module_mailgun):
    """An owner with one passkey (the authenticator is ``holder.authenticator``)."""
    account = sign_up(api, module_mailgun)
    account.authenticator = Authenticator(origin())
    account.passkey = add_passkey(account, account.authenticator)
    return account


def test_register_needs_recent_auth_then_list_rename_remove_all_audited(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    session_of(owner.browser).update(actions=[Session.auth_time.set(int(time.time()) - 3600)])
    reply = owner.browser.post("/api/me/passkeys/options", {})
    assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200

    reply = owner.browser.post("/api/me/passkeys/options", {})
    options = reply.json()["options"]
    assert options["rp"]["id"] == passkeys.rp_id() == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    created = add_passkey(owner, Authenticator(origin()), "Laptop")
    assert set(created) == {"id", "name", "created_at", "last_used_at", "synced", "transports", "recovery_codes"}
    assert created["name"] == "Laptop" and created["synced"] is True and created["last_used_at"] is None
    assert len(created["recovery_codes"]) == 10  # the first second factor: codes, shown this once
    second = add_passkey(owner, Authenticator(origin(), synced=False), "Key")
    assert second["synced"] is False and second["recovery_codes"] == []
    assert sorted(p["name"] for p in owner.browser.get("/api/me/passkeys").json()) == ["Key", "Laptop"]
    assert owner.me["mfa_enabled"] is False  # the authenticator app is another factor

    reply = owner.browser.patch(f"/api/me/passkeys/{created['id']}", {"name": "Work laptop"})
    assert reply.status == 200 and reply.json()["name"] == "Work laptop"
    reply = owner.browser.patch(f"/api/me/passkeys/{created['id']}", {"name": "www.evil.example"})
    assert (reply.status, reply.json()["error"]["code"]) == (422, "name_contains_link")
    assert owner.browser.patch("/api/me/passkeys/pk-nothere", {"name": "x"}).status == 404

    session_of(owner.browser).update(actions=[Session.auth_time.set(int(time.time()) - 3600)])
    reply = owner.browser.delete(f"/api/me/passkeys/{second['id']}")
    assert (reply.status, reply.json()["error"]["code"]) == (403, "reauthentication_required")
    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    assert owner.browser.delete(f"/api/me/passkeys/{second['id']}").status == 204
    assert [p["name"] for p in owner.browser.get("/api/me/passkeys").json()] == ["Work laptop"]

    registered = actions(owner, "passkey.registered")
    assert {e["details"]["name"] for e in registered} == {"Laptop", "Key"}
    assert actions(owner, "passkey.renamed")[0]["details"] == {
        "passkey": created["id"],
        "from": "Laptop",
        "to": "Work laptop",
    }
    assert actions(owner, "passkey.removed")[0]["details"] == {"passkey": second["id"], "name": "Key"}


def test_first_factor_without_an_email_then_a_replay_and_a_clone_are_refused(api, holder):
    twin = holder.authenticator.clone()  # copied before the next use: its counter will repeat
    browser = Browser(api)
    reply = browser.post("/api/auth/passkey/options", {})
    assert reply.status == 200
    ceremony, options = reply.json()["ceremony"], reply.json()["options"]
    assert options["userVerification"] == "required" and not options.get("allowCredentials")
    credential = holder.authenticator.get(options)
    reply = browser.post("/api/auth/passkey", {"ceremony": ceremony, "credential": credential})
    assert reply.status == 200, reply.body
    assert reply.json()["user"]["email"] == holder.email and "protu_refresh" in browser.cookies
    assert session_of(browser).sign_in_method == "passkey"
    listed = browser.get("/api/me/passkeys").json()
    assert listed[0]["last_used_at"] is not None
    login = next(e for e in actions(holder, "auth.login") if e["details"].get("passkey") == holder.passkey["id"])
    assert login["details"]["method"] == "passkey" and login["outcome"] == "success"

    replay = Browser(api).post("/api/auth/passkey", {"ceremony": ceremony, "credential": credential})
    assert (replay.status, replay.json()["error"]["code"]) == (401, "ceremony_expired")

    tenant, user = holder.me["company"]["id"], holder.me["id"]
    count = passkeys.of_user(tenant, user)[0].sign_count
    _, reply = passkey_sign_in(api, twin)
    assert (reply.status, reply.json()["error"]["code"]) == (401, "passkey_cloned")
    assert passkeys.of_user(tenant, user)[0].sign_count == count  # the credential is not updated
    assert any(s["kind"] == "passkey.cloned" for s in signals.list_signals(tenant))
    refused = [e for e in actions(holder, "auth.login") if e["outcome"] == "failure"]
    assert any(e["details"].get("reason") == "cloned" for e in refused)


def test_a_passkey_of_another_site_or_origin_or_without_user_verification_is_refused(api, holder):
    for kw, authenticator in (
        ({"rp_id": "evil.example"}, holder.authenticator),
        ({}, Authenticator("https://evil.example", credentials=holder.authenticator.credentials)),
        ({}, Authenticator(origin(), user_verified=False, credentials=holder.authenticator.credentials)),
    ):
        _, reply = passkey_sign_in(api, authenticator, **kw)
        assert (reply.status, reply.json()["error"]["code"]) == (401, "passkey_invalid"), kw
    failed = [s for s in signals.list_signals(holder.me["company"]["id"]) if s["kind"] == "login.failed"]
    assert failed and failed[0]["details"] == {"method": "passkey", "account": login_guard.account_id(holder.email)}

    # At registration too: the RP id and origin are the settings' (AppOrigin).
    options = holder.browser.post("/api/me/passkeys/options", {}).json()
    credential = Authenticator("https://evil.example").create(options["options"])
    body = {"ceremony": options["ceremony"], "name": "Evil", "credential": credential}
    reply = holder.browser.post("/api/me/passkeys", body)
    assert (reply.status, reply.json()["error"]["code"]) == (400, "passkey_invalid")  # signed in: not a 401


def test_a_passkey_is_a_second_factor_after_a_password_and_only_the_users_own(api, holder, module_mailgun):
    other = sign_up(api, module_mailgun)
    others = Authenticator(origin())
    add_passkey(other, others)

    browser = Browser(api)
    step = browser.login(holder.email).json()
    assert step["mfa_required"] is True and step["methods"] == ["recovery_code", "passkey"]
    reply = browser.post("/api/auth/mfa/passkey/options", {"mfa_token": step["mfa_token"]})
    assert reply.status == 200, reply.body
    options = reply.json()["options"]
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(c.id) for c in holder.authenticator.credentials]

    # Another user's passkey does not finish this user's step.
    wrong = others.get({"challenge": options["challenge"]})
    body = {"mfa_token": step["mfa_token"], "ceremony": reply.json()["ceremony"], "credential": wrong}
    reply = browser.post("/api/auth/mfa/passkey", body)
    assert (reply.status, reply.json()["error"]["code"]) == (401, "passkey_invalid")

    reply = browser.post("/api/auth/mfa/passkey/options", {"mfa_token": step["mfa_token"]})
    credential = holder.authenticator.get(reply.json()["options"])
    body = {"mfa_token": step["mfa_token"], "ceremony": reply.json()["ceremony"], "credential": credential}
    reply = browser.post("/api/auth/mfa/passkey", body)
    assert reply.status == 200, reply.body
    assert session_of(browser).sign_in_method == "password+passkey"
    again = browser.post("/api/auth/mfa/passkey", body)  # the step and the ceremony are spent
    assert again.status in (400, 401)


def reauthenticate(browser: Browser, authenticator: Authenticator, **kw):
    """The SPA's "Confirm it is you" with a passkey: options, then the assertion. Answers (options, reply)."""
    reply = browser.post("/api/auth/reauthenticate/passkey/options", {})
    assert reply.status == 200, reply.body
    options = reply.json()
    credential = authenticator.get({"challenge": options["options"]["challenge"]}, **kw)
    return options, browser.post(
        "/api/auth/reauthenticate/passkey", {"ceremony": options["ceremony"], "credential": credential}
    )


def test_a_passkey_confirms_it_is_you_and_nothing_else_does(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    mine = Authenticator(origin())
    add_passkey(owner, mine)
    other = sign_up(api, module_mailgun)
    others = Authenticator(origin())
    add_passkey(other, others)
    stale = [Session.auth_time.set(int(time.time()) - 3600)]
    session_of(owner.browser).update(actions=stale)
    assert owner.browser.post("/api/me/passkeys/options", {}).json()["error"]["code"] == "reauthentication_required"

    options, _ = reauthenticate(owner.browser, mine)
    assert options["options"]["userVerification"] == "required"
    assert [c["id"] for c in options["options"]["allowCredentials"]] == [b64url(c.id) for c in mine.credentials]
    assert owner.browser.post("/api/me/passkeys/options", {}).status == 200  # confirmed
    event = actions(owner, "auth.reauthenticate")[0]
    assert event["outcome"] == "success" and event["details"]["method"] == "passkey"

    # A stolen session cannot confirm itself with the thief's passkey, with this user's passkey unverified, or with
    # a ceremony of another session's user: each is a 403 (the session is not ended by one), counted as a wrong
    # password, and five sign the session out.
    session_of(owner.browser).update(actions=stale)
    unverified = Authenticator(origin(), user_verified=False, credentials=mine.credentials)
    for authenticator in (others, unverified):
        _, reply = reauthenticate(owner.browser, authenticator)
        assert (reply.status, reply.json()["error"]["code"]) == (403, "passkey_invalid")
    theirs = other.browser.post("/api/auth/reauthenticate/passkey/options", {}).json()
    credential = mine.get({"challenge": theirs["options"]["challenge"]})
    reply = owner.browser.post(
        "/api/auth/reauthenticate/passkey", {"ceremony": theirs["ceremony"], "credential": credential}
    )
    assert (reply.status, reply.json()["error"]["code"]) == (403, "ceremony_expired")
    assert owner.browser.post("/api/me/passkeys/options", {}).status == 403  # still not confirmed
    assert [e["outcome"] for e in actions(owner, "auth.reauthenticate")][:2] == ["failure", "failure"]
    for _ in range(3):
        _, reply = reauthenticate(owner.browser, others)
    assert (reply.status, reply.json()["error"]["code"]) == (401, "session_revoked")

    # Someone without a passkey is told so.
    plain = sign_up(api, module_mailgun)
    reply = plain.browser.post("/api/auth/reauthenticate/passkey/options", {})
    assert (reply.status, reply.json()["error"]["code"]) == (409, "no_passkey")


def test_the_last_second_factor_stays_while_the_company_requires_two_factor(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    passkey = add_passkey(owner, Authenticator(origin()))
    version = owner.browser.get("/api/settings").json()["version"]
    assert owner.browser.patch("/api/settings", {"version": version, "require_mfa": True}).status == 200
    assert owner.me["mfa_setup_required"] is False  # a passkey satisfies require_mfa
    assert owner.browser.get("/api/settings").status == 200

    reply = owner.browser.delete(f"/api/me/passkeys/{passkey['id']}")
    assert (reply.status, reply.json()["error"]["code"]) == (409, "last_second_factor")

    secret = owner.browser.post("/api/me/mfa/totp").json()["secret"]
    assert owner.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}).status == 200
    assert Browser(api).login(owner.email).json()["methods"] == ["totp", "recovery_code", "passkey"]
    assert owner.browser.delete(f"/api/me/passkeys/{passkey['id']}").status == 204  # the app remains
    reply = owner.browser.delete("/api/me/mfa/totp", {"password": STRONG})
    assert (reply.status, reply.json()["error"]["code"]) == (409, "last_second_factor")

    add_passkey(owner, Authenticator(origin()))
    assert owner.browser.delete("/api/me/mfa/totp", {"password": STRONG}).status == 204  # the passkey remains
    assert owner.me["mfa_setup_required"] is False
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 10}  # kept with the passkey


def test_a_first_passkey_brings_recovery_codes_that_sign_in_without_it(api, module_mailgun):
    owner = sign_up(api, module_mailgun)
    codes = add_passkey(owner, Authenticator(origin()))["recovery_codes"]
    assert len(set(codes)) == 10
    created = actions(owner, "mfa.recovery_codes_created")
    assert [e["details"] for e in created] == [{"codes": 10, "with": "passkey"}]
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 10}

    browser = Browser(api)  # the passkey lost: a recovery code finishes the two-factor step
    step = browser.login(owner.email).json()
    assert step["methods"] == ["recovery_code", "passkey"]
    reply = browser.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": codes[0]})
    assert reply.status == 200, reply.body
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 9}
    step = Browser(api).login(owner.email).json()
    reply = Browser(api).post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": codes[0]})
    assert (reply.status, reply.json()["error"]["code"]) == (401, "invalid_code")  # each works once

    fresh = owner.browser.post("/api/me/mfa/recovery-codes")
    assert fresh.status == 200 and len(fresh.json()["recovery_codes"]) == 10
    passkey = owner.browser.get("/api/me/passkeys").json()[0]
    assert owner.browser.delete(f"/api/me/passkeys/{passkey['id']}").status == 204
    assert owner.browser.get("/api/me/mfa/recovery-codes").json() == {"remaining": 0}  # no second factor left
    assert Browser(api).login(owner.email).status == 200  # a password alone again


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": 5},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": "x"},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "!!", "userHandle": "%%"}},
        {"id": "AA", "rawId": "AA", "type": "nope", "response": {"userHandle": "YS91LTAw"}},
    ],
)
def test_a_malformed_credential_is_a_clear_401_never_a_500(api, holder, credential):
    browser = Browser(api)
    ceremony = browser.post("/api/auth/passkey/options", {}).json()["ceremony"]
    reply = browser.post("/api/auth/passkey", {"ceremony": ceremony, "credential": credential})
    assert (reply.status, reply.json()["error"]["code"]) == (401, "passkey_invalid")

    options = holder.browser.post("/api/me/passkeys/options", {}).json()
    body = {"ceremony": options["ceremony"], "name": "Bad", "credential": credential}
    reply = holder.browser.post("/api/me/passkeys", body)
    assert (reply.status, reply.json()["error"]["code"]) == (400, "passkey_invalid")  # signed in: not a 401


def test_bad_bodies_are_422_and_unknown_ceremonies_401(api):
    browser = Browser(api)
    reply = browser.post("/api/auth/passkey", {"ceremony": "x" * 43, "credential": "text"})
    assert (reply.status, reply.json()["error"]["code"]) == (422, "validation_failed")
    reply = browser.post("/api/auth/passkey", {"ceremony": "x" * 43, "credential": {}})
    assert (reply.status, reply.json()["error"]["code"]) == (401, "ceremony_expired")
    reply = browser.post("/api/auth/passkey/options", {"email": "a@example.com"})
    assert reply.status == 422


def test_nothing_secret_reaches_the_logs(api, holder, caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="protu")  # our logs (botocore's wire log is not ours)
    browser = Browser(api)
    options = browser.post("/api/auth/passkey/options", {}).json()
    credential = holder.authenticator.get(options["options"])
    twin_body = {"ceremony": options["ceremony"], "credential": credential}
    assert browser.post("/api/auth/passkey", twin_body).status == 200
    assert browser.post("/api/auth/passkey", twin_body).status == 401
    stored = passkeys.of_user(holder.me["company"]["id"], holder.me["id"])[0]
    logged = caplog.text + capsys.readouterr().out
    for secret in (options["ceremony"], credential["id"], stored.public_key, credential["response"]["signature"]):
        assert secret not in logged
    for event in actions(holder, "auth.login") + actions(holder, "passkey.registered"):
        assert credential["id"] not in str(event) and stored.public_key not in str(event)


def test_a_passkey_after_an_email_link(api, holder, module_mailgun):
    browser = Browser(api)
    assert browser.post("/api/auth/magic-link", {"email": holder.email}).status == 202
    step = browser.post("/api/auth/magic-link/verify", {"token": link_token(module_mailgun.to(holder.email)[-1])})
    assert step.json()["methods"] == ["recovery_code", "passkey"]
    options = browser.post("/api/auth/mfa/passkey/options", {"mfa_token": step.json()["mfa_token"]}).json()
    credential = holder.authenticator.get(options["options"])
    body = {"mfa_token": step.json()["mfa_token"], "ceremony": options["ceremony"], "credential": credential}
    assert browser.post("/api/auth/mfa/passkey", body).status == 200
    assert session_of(browser).sign_in_method == "magic_link+passkey"


def test_failed_passkey_sign_ins_slow_their_address_and_lock_out_no_one(api, holder):
    guesser = Browser(api)
    for _ in range(login_guard.ADDRESS_LIMIT):
        ceremony = guesser.post("/api/auth/passkey/options", {}).json()["ceremony"]
        reply = guesser.post("/api/auth/passkey", {"ceremony": ceremony, "credential": {"id": "AA"}})
        assert reply.status == 401
    reply = guesser.post("/api/auth/passkey/options", {})
    assert (reply.status, reply.json()["error"]["code"]) == (429, "too_many_attempts")

    # The holder, elsewhere, is not under step-up: a password still leads to the second factor.
    assert Browser(api).login(holder.email).json()["mfa_required"] is True
    _, reply = passkey_sign_in(api, holder.authenticator)
    assert reply.status == 200


def test_answers_match_the_documented_schemas(api, holder):
    doc = api.get("/api/openapi.json").json()
    replies = {
        ("/api/me/passkeys", "get"): holder.browser.get("/api/me/passkeys"),
        ("/api/me/passkeys/options", "post"): holder.browser.post("/api/me/passkeys/options", {}),
        ("/api/auth/passkey/options", "post"): Browser(api).post("/api/auth/passkey/options", {}),
        ("/api/auth/passkey", "post"): passkey_sign_in(api, holder.authenticator)[1],
        ("/api/auth/login", "post"): Browser(api).login(holder.email),
    }
    for (path, method), reply in replies.items():
        assert reply.status == 200, (path, reply.body)
        assert_matches(doc, path, method, reply)
    refused = Browser(api).post("/api/auth/passkey", {"ceremony": "x" * 43, "credential": {}})
    assert "passkey_invalid" in str(doc["paths"]["/api/auth/passkey"]["post"]["responses"]["401"])
    assert_matches(doc, "/api/auth/passkey", "post", refused)
