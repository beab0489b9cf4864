"""Issue 15: attacks that turned Protu's own controls against the people they protect, each performed the way the
attacker did it (through HTTP, from the addresses and in the order described) and answered safely now.

The credential-stuffing containment (attack 1) runs through the incident workflow: it lives with the workflow's
tests in ``tests/security/test_incident_workflow.py``. The rest are here.
"""

from __future__ import annotations

import time
import uuid

import pyotp
import pytest

from tests.api.people import STRONG, Browser, link_token, new_email, sign_up
from tests.conftest import aws_calls


def some_ip() -> str:
    value = uuid.uuid4().int
    return f"198.18.{value % 256}.{value // 256 % 254 + 1}"


def code(reply) -> str | None:
    body = reply.json() if reply.body else {}
    return (body.get("error") or {}).get("code")


def links(mailgun, email: str, subject_part: str) -> list[dict]:
    return [m for m in mailgun.to(email) if subject_part in m["subject"].lower()]


def with_totp(account) -> str:
    assert account.browser.post("/api/auth/reauthenticate", {"password": account.password}).status == 200
    secret = account.browser.post("/api/me/mfa/totp").json()["secret"]
    confirm = account.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    assert confirm.status == 200, confirm.body
    return secret


# ------------------------------------------------------------------------------------------------ attack 2
def test_a_stranger_cannot_lock_the_holder_out_of_every_way_in(api, mailgun):
    """Attack 2 (ASVS 5.0 6.3.1 without denial of service; 6.4.x email links). Five wrong passwords from five
    addresses gave the victim 429 on password sign-in; the attacker then used up the per-email hourly quotas of
    magic links and resets, so the victim's own requests sent nothing. Now the victim, from their usual address,
    still signs in by magic link at once, and by password after the step-up."""
    victim = sign_up(api, mailgun)
    home = victim.browser.ip
    for _ in range(5):
        assert Browser(api, ip=some_ip()).login(victim.email, "wrong guess wrong").status == 401
    for route in ("/api/auth/magic-link", "/api/auth/password/forgot"):
        for _ in range(4):  # four addresses, three requests each: the account's hourly quota, used up
            attacker = Browser(api, ip=some_ip())
            for _ in range(3):
                assert attacker.post(route, {"email": victim.email}).status == 202
    sent_to_attack = len(mailgun.to(victim.email))

    holder = Browser(api, ip=home)
    assert holder.post("/api/auth/magic-link", {"email": victim.email}).status == 202
    (magic,) = links(mailgun, victim.email, "sign-in link")[-1:]
    assert len(mailgun.to(victim.email)) == sent_to_attack + 1  # the reserve: only the holder's network uses it
    signed_in = holder.post("/api/auth/magic-link/verify", {"token": link_token(magic)})
    assert signed_in.status == 200, signed_in.body

    assert holder.post("/api/auth/password/forgot", {"email": victim.email}).status == 202
    assert len(links(mailgun, victim.email, "reset your")) >= 1 and mailgun.to(victim.email)[-1]["subject"].startswith(
        "Reset your"
    )

    # by password: the guesses put the account under step-up, not behind a 429
    for _ in range(5):
        assert Browser(api, ip=some_ip()).login(victim.email, "wrong guess wrong").status == 401
    stepped = Browser(api, ip=home).login(victim.email)
    assert (stepped.status, stepped.json()) == (200, {"step_up_required": True, "method": "email_link"})
    confirm = Browser(api, ip=home).post("/api/auth/magic-link/verify", {"token": link_token(mailgun.last)})
    assert confirm.status == 200, confirm.body


def test_a_stranger_failing_all_day_tells_the_holder_once(cloud):
    """Each window in which a stranger reaches the failure limit again must not mail the holder again: the mail
    follows a new step-up only (ASVS 5.0 2.4.1, no mail flood a stranger can trigger)."""
    from protu.security import login_guard

    email, now = f"held-{uuid.uuid4().hex[:10]}@example.com", time.time()
    told = []
    for window in range(4):  # an hour of windows, five failures each
        at = now + window * login_guard.WINDOW_SECONDS
        told += [login_guard.record_failure(email, some_ip(), now=at).step_up_now for _ in range(5)]
    assert told.count(True) == 1


def test_a_stranger_cannot_use_the_reserve(api, mailgun):
    """The reserve of email links is only for a network the account signed in from."""
    victim = sign_up(api, mailgun)
    for _ in range(4):
        attacker = Browser(api, ip=some_ip())
        for _ in range(3):
            attacker.post("/api/auth/magic-link", {"email": victim.email})
    before = len(mailgun.to(victim.email))
    assert Browser(api, ip=some_ip()).post("/api/auth/magic-link", {"email": victim.email}).status == 202
    assert len(mailgun.to(victim.email)) == before


# ------------------------------------------------------------------------------------------------ attack 7
def test_a_stolen_session_is_no_password_oracle(api, mailgun):
    """Attack 7 (ASVS 5.0 6.3.1, 7.5.x re-authentication). With a stolen session, ``POST /api/auth/reauthenticate``
    took 40 wrong passwords, then accepted the right one. Now wrong answers count towards the account's failure
    limit and five end the session, raising a signal."""
    victim = sign_up(api, mailgun)
    thief = victim.browser  # the stolen session
    answers = [thief.post("/api/auth/reauthenticate", {"password": f"guess number {n} x"}) for n in range(5)]
    assert [code(a) for a in answers] == ["invalid_password"] * 4 + ["session_revoked"]
    assert code(thief.post("/api/auth/reauthenticate", {"password": victim.password})) == "session_revoked"
    assert thief.get("/api/me").status == 401
    assert links(mailgun, victim.email, "unusual activity")
    # the five wrong answers count for the account: its next sign-in asks for a step-up
    again = Browser(api).login(victim.email)
    assert again.json() == {"step_up_required": True, "method": "email_link"}


def test_turning_two_factor_off_is_no_password_oracle_either(api, mailgun):
    victim = sign_up(api, mailgun)
    with_totp(victim)
    thief = victim.browser
    answers = [thief.delete("/api/me/mfa/totp", {"password": f"guess number {n} x"}) for n in range(5)]
    assert [code(a) for a in answers] == ["invalid_password"] * 4 + ["session_revoked"]
    assert thief.get("/api/me").status == 401


# ------------------------------------------------------------------------------------------------ attack 8
def test_second_factor_guesses_are_capped_per_account_across_steps(api, mailgun):
    """Attack 8 (ASVS 5.0 6.3.1, 6.6.x). Each password success gave a fresh five-guess step: 30 wrong codes over six
    sign-ins, and a seventh step was still offered. Now ten wrong codes an hour per account end it: the next step
    needs an email link first, and a signal is raised."""
    victim = sign_up(api, mailgun)
    secret = with_totp(victim)
    attacker = Browser(api, ip=some_ip())  # knows the password, not the second factor
    wrong = 0
    answers = []
    for _ in range(3):
        step = attacker.login(victim.email)
        if "mfa_token" not in step.json():
            answers.append(step.json())
            break
        for _ in range(5):
            reply = attacker.post("/api/auth/mfa", {"mfa_token": step.json()["mfa_token"], "code": "000000"})
            wrong += 1
            if code(reply) == "mfa_attempts_exceeded":
                break
    assert wrong == 10
    assert answers == [{"step_up_required": True, "method": "email_link"}]  # no third step without the mailbox
    assert links(mailgun, victim.email, "unusual activity")
    # the holder, with the mailbox, gets a fresh step and signs in
    holder = Browser(api, ip=victim.browser.ip)
    step = holder.post("/api/auth/magic-link/verify", {"token": link_token(mailgun.last)})
    assert step.json().get("mfa_required"), step.body
    next_code = pyotp.TOTP(secret).at(time.time() + 30)  # the current one was used to turn two-factor on
    done = holder.post("/api/auth/mfa", {"mfa_token": step.json()["mfa_token"], "code": next_code})
    assert done.status == 200, done.body


# ------------------------------------------------------------------------------------------------ attack 4
def test_an_unverified_sign_up_cannot_squat_an_address(api, mailgun):
    """Attack 4 (ASVS 5.0 6.4.x, pre-account hijacking; 6.3.8 no enumeration). The attacker signed up with the
    victim's email and never verified it; that account could still sign in and invite a second owner. The victim
    later got "you already have an account", reset the password and moved in, with the attacker's shadow owner
    reading their records. Now nothing exists before the link is followed, the attacker's sign-in answers like a
    wrong password, and the victim's own sign-up starts over."""
    victim = f"victim-{uuid.uuid4().hex[:10]}@example.com"
    attacker = Browser(api, ip=some_ip())
    squat = {"company_name": "Shadow Ltd", "name": "Mallory", "email": victim, "password": "mallory owns this 77"}
    squat["accept_terms"] = True
    assert attacker.post("/api/auth/signup", squat).status == 201
    old_link = link_token(mailgun.to(victim)[-1])

    tried = attacker.login(victim, squat["password"])
    wrong = Browser(api, ip=some_ip()).login(victim, "not the password at all")
    assert (tried.status, tried.body) == (wrong.status, wrong.body) == (401, tried.body)
    assert code(tried) == "invalid_credentials" and "access_token" not in tried.json()
    assert len(mailgun.to(victim)) == 2  # the right password of an unverified sign-up: a fresh link, to the mailbox
    resent = mailgun.to(victim)[-1]
    assert "/verify-email#token=" in resent["text"]

    for _ in range(6):  # knowing the squat password does not make the link a way to flood the address
        attacker.login(victim, squat["password"])
    assert len(mailgun.to(victim)) == 2 + 2  # three resends an hour in all

    mine = {"company_name": "Victim GmbH", "name": "Vera", "email": victim, "password": "vera's own passphrase 9"}
    mine["accept_terms"] = True
    holder = Browser(api, ip=some_ip())
    assert holder.post("/api/auth/signup", mine).status == 201
    welcome = mailgun.to(victim)[-1]
    assert "/verify-email#token=" in welcome["text"] and "already" not in welcome["subject"].lower()
    for dead in (old_link, link_token(resent)):  # the squatter's links died with the new sign-up
        assert code(holder.post("/api/auth/verify-email", {"token": dead})) == "invalid_token"
    assert holder.post("/api/auth/verify-email", {"token": link_token(welcome)}).status == 200

    assert attacker.login(victim, squat["password"]).status == 401
    assert holder.login(victim, mine["password"]).status == 200
    me = holder.get("/api/me").json()
    assert (me["company"]["name"], me["name"], me["email_verified"]) == ("Victim GmbH", "Vera", True)
    assert [u["email"] for u in holder.get("/api/users").json()] == [victim]  # no shadow owner


# ------------------------------------------------------------------------------------------------ attack 3
PROBES = {
    "/api/auth/password/forgot": lambda email: {"email": email},
    "/api/auth/magic-link": lambda email: {"email": email},
    "/api/auth/signup": lambda email: {
        "company_name": "Probe Co",
        "name": "Mallory",
        "email": email,
        "password": STRONG,
        "accept_terms": True,
    },
    "/api/auth/login": lambda email: {"email": email, "password": "not the password at all"},
}


@pytest.mark.parametrize("route", PROBES)
def test_known_and_unknown_emails_make_the_same_aws_calls(api, mailgun, route):
    """Attack 3 (ASVS 5.0 6.3.8, no enumeration by timing). Medians over 30 requests, known vs unknown email:
    forgot-password 59 vs 22 ms, magic link 51 vs 18 ms, sign-in 130 vs 98 ms, sign-up 48 vs 89 ms; only known
    emails wrote a token and sent mail during the request. Now the request makes the same AWS calls, in the same
    order, for both (what depends on the account is a job on the mail queue), and answers the same."""
    known = sign_up(api, mailgun).email

    def probe(email):
        body = PROBES[route](email)
        api.request("POST", route, json=body, source_ip=some_ip())  # first use of a company's credentials: warm
        with aws_calls() as made:
            reply = api.request("POST", route, json=body, source_ip=some_ip())
        return reply, list(made)

    (known_reply, known_calls), (unknown_reply, unknown_calls) = probe(known), probe(new_email("nobody"))
    assert known_calls == unknown_calls
    assert "sqs.SendMessage" in known_calls and not any(c.startswith(("kms.", "secretsmanager.")) for c in known_calls)
    assert (known_reply.status, known_reply.body) == (unknown_reply.status, unknown_reply.body)
