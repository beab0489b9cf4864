"""Invitations against an attacker: each test is an attack that worked before (review items 5, 6 and 9), performed
through the API the way the attacker did, and what must happen instead.

A. Re-inviting a pending owner "as admin" kept the role owner and both links valid.
B. Inviting an address of another company answered 409 ``email_in_use``: a probe for who has a Protu account.
C. A pending invitation owned its address: its holder could not sign up (they were told "you already have an
   account"), ask for a sign-in link or reset a password. Now an invitation is an index entry
   (``INVITED#<email>``), and the address becomes an account only when the invitation is accepted.
D. Invitations as a mail relay: invite-then-withdraw cycles and resends were all mailed, carrying the attacker's
   company and inviter names (a URL among them) in plain text. Now mail is budgeted per company (by plan), per
   address from one company and per address in all; names cannot become links; every invitation carries a link
   that refuses further invitations to its address.

``pending_for``, ``decline_all`` and ``remind`` (``protu.identity.invitations``) are what the sign-up, sign-in link
and reset flows call; they are called here directly, with accounts and invitations made through HTTP.
"""

from __future__ import annotations

import re

import pytest
from protu import audit
from protu.settings import settings

from tests.api.people import STRONG, Browser, link_token, new_email, sign_up

# A stack of its own: in a full run the shared one's tables and queues hold the whole suite's traffic, and this
# module's invite-and-withdraw loops then took three minutes instead of ten seconds.
pytestmark = pytest.mark.usefixtures("own_cloud")

INVITE = "/api/users/invitations"
ACCEPT = "/api/auth/invitations/accept"
REFUSE = "/api/auth/invitations/refuse"
REFUSE_LINK = re.compile(r"/refuse-invitation#token=([A-Za-z0-9_\-]+)")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]*")


# ------------------------------------------------------------------------------------------------ helpers
def code(reply) -> str | None:
    body = reply.json() if reply.body else None
    return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


def invite(owner, email: str, role: str = "admin"):
    confirmed = {"confirm_owner": True} if role == "owner" else {}  # an owner's invitation says so explicitly
    return owner.browser.post(INVITE, {"email": email, "role": role, **confirmed})


def accept(api, token: str, name: str = "Ivy Invitee"):
    return Browser(api).post(ACCEPT, {"token": token, "name": name, "password": STRONG})


def refuse_token(message: dict) -> str:
    found = REFUSE_LINK.search(message["text"])
    assert found, message["text"]
    return found.group(1)


def listed(owner) -> dict[str, dict]:
    reply = owner.browser.get("/api/users")
    assert reply.status == 200, reply.body
    return {u["email"]: u for u in reply.json()}


def tenant_of(owner) -> str:
    return owner.me["company"]["id"]


def actions(tenant_id: str) -> list[str]:
    events, _ = audit.events(tenant_id, limit=200)
    return [e["action"] for e in events]


# ------------------------------------------------------------------------------------------------ A. re-invite
def test_a_reinvite_sets_the_role_asked_now_and_kills_the_old_link(api, mailgun):
    """OWASP ASVS 5.0 8.3.2 (a change to a value authorization depends on applies at once) and 6.4.1 (activation
    codes expire: a replaced invitation link is dead). Attack: invite someone as owner, "correct" it to admin, and
    the first link still made them an owner."""
    owner = sign_up(api, mailgun)
    email = new_email("pending")
    assert invite(owner, email, "owner").status == 201
    old = link_token(mailgun.to(email)[-1])

    again = invite(owner, email, "admin")
    assert again.status == 201 and again.json()["role"] == "admin", again.body
    assert listed(owner)[email]["role"] == "admin"

    stale = accept(api, old, "Olga")
    assert (stale.status, code(stale)) == (400, "invalid_token")
    new = link_token(mailgun.to(email)[-1])
    assert new != old
    joined = accept(api, new, "Olga")
    assert joined.status == 200 and joined.json()["user"]["role"] == "admin"
    events, _ = audit.events(tenant_of(owner), limit=50)
    resent = [e for e in events if e["action"] == "users.invitation_resent"]
    assert resent and resent[-1]["details"]["role"] == "admin" and resent[-1]["details"]["old_role"] == "owner"


# ------------------------------------------------------------------------------------------------ B. enumeration
def test_inviting_an_address_of_another_company_answers_as_for_a_new_one(api, mailgun):
    """OWASP ASVS 5.0 6.3.8 (valid users cannot be deduced from answers; registration too). Attack: invite any
    address; 409 ``email_in_use`` said it had a Protu account."""
    owner = sign_up(api, mailgun)
    other = sign_up(api, mailgun)
    fresh = invite(owner, new_email("nobody"))
    taken = invite(owner, other.email)
    assert (taken.status, fresh.status) == (201, 201), taken.body

    def shape(reply):
        return {k: v for k, v in reply.json().items() if k not in ("id", "email")}

    assert shape(taken) == shape(fresh) and taken.json()["status"] == "invited"
    assert sorted(h.lower() for h in taken.headers if h.lower() != "x-request-id") == sorted(
        h.lower() for h in fresh.headers if h.lower() != "x-request-id"
    )
    told = mailgun.to(other.email)[-1]  # the person hears it, the inviter does not
    assert "already has a Protu account" in told["text"] and owner.company in told["text"]
    assert "/accept-invitation" not in told["text"] and REFUSE_LINK.search(told["text"])
    assert other.me["company"]["name"] == other.company  # their account is untouched
    assert Browser(api).login(other.email).status == 200
    # Withdrawing that invitation leaves the address's account (the other company's user) alone.
    assert owner.browser.delete(f"/api/users/{taken.json()['id']}").status == 204
    assert Browser(api).login(other.email).status == 200

    # An active member of the inviter's own company may be named: owners see their users anyway.
    member = invite(owner, owner.email)
    assert (member.status, code(member)) == (409, "email_in_use")


# ------------------------------------------------------------------------------------------------ C. squatting
def test_a_pending_invitation_does_not_take_its_address(api, mailgun):
    """OWASP ASVS 5.0 2.3.1 (no step skipped: an invitation is not an account until it is accepted). Attack:
    invite a victim's address; their own sign-up then answered 201 but mailed "you already have an account",
    and sign-in links and resets were never sent."""
    owner = sign_up(api, mailgun)
    email = new_email("victim")
    assert invite(owner, email).status == 201
    invitation = link_token(mailgun.to(email)[-1])

    browser = Browser(api)
    signup = {"company_name": "Victim Co", "name": "Vic Tim", "email": email, "password": STRONG, "accept_terms": True}
    assert browser.post("/api/auth/signup", signup).status == 201
    welcome = mailgun.to(email)[-1]
    assert "/verify-email#token=" in welcome["text"], welcome["subject"]
    assert browser.post("/api/auth/verify-email", {"token": link_token(welcome)}).status == 200
    assert browser.login(email).status == 200
    assert browser.get("/api/me").json()["company"]["name"] == "Victim Co"
    Browser(api).post("/api/auth/magic-link", {"email": email})
    assert "/magic#token=" in mailgun.to(email)[-1]["text"]

    # One address, one company: their own sign-up declined the invitation, and the inviter was told.
    late = accept(api, invitation, "Vic Tim")
    assert (late.status, code(late)) == (400, "invalid_token")
    assert any(email in m["text"] for m in mailgun.to(owner.email)[1:])  # after the sign-up's own mail
    assert email not in [u["email"] for u in owner.browser.get("/api/users").json()]


def test_pending_invitations_are_found_reminded_and_declined_by_address(api, mailgun):
    """OWASP ASVS 5.0 2.3.1 and 2.3.3 (each company's part of a decline is one transaction with its audit event):
    what the sign-up, sign-in link and reset flows call for an address with invitations pending."""
    from protu.identity import invitations

    first, second = sign_up(api, mailgun), sign_up(api, mailgun)
    email = new_email("sought")
    for owner in (first, second):
        assert invite(owner, email).status == 201
    old_links = [link_token(m) for m in mailgun.to(email)]
    expected = {(tenant_of(o), listed(o)[email]["id"]) for o in (first, second)}

    assert set(invitations.pending_for(email)) == expected
    assert set(invitations.pending_for(email.upper())) == expected  # the address as the person types it
    assert invitations.pending_for(new_email("nobody")) == []

    invitations.remind(email)
    reminders = mailgun.to(email)[2:]
    assert len(reminders) == 2
    fresh = [link_token(m) for m in reminders]
    assert not set(fresh) & set(old_links)
    stale = accept(api, old_links[0])
    assert (stale.status, code(stale)) == (400, "invalid_token")

    invitations.decline_all(email, reason="own_company")
    assert invitations.pending_for(email) == []
    for owner in (first, second):
        assert email not in listed(owner)
        told = mailgun.to(owner.email)[-1]
        assert email in told["text"] and "own company" in told["text"]
        assert "users.invitation_declined" in actions(tenant_of(owner))
    for token in fresh:
        assert code(accept(api, token)) == "invalid_token"


def test_an_invited_address_asking_for_a_sign_in_link_gets_its_invitation_once_a_day(api, mailgun):
    """Attack 6 (ASVS 5.0 2.3.1): a pending invitation made magic-link and reset requests mail "you already have an
    account". Now the holder's request brings the invitation again, with a link that works; a stranger asking
    over and over (from many addresses, both routes) gets them one mail a day, not a flood (ASVS 5.0 2.4.1)."""
    owner = sign_up(api, mailgun)
    email = new_email("invitee")
    assert invite(owner, email).status == 201
    before = len(mailgun.to(email))
    for route in ("/api/auth/magic-link", "/api/auth/password/forgot") * 3:
        assert Browser(api).post(route, {"email": email}).status == 202
    reminders = mailgun.to(email)[before:]
    assert len(reminders) == 1 and "already" not in reminders[0]["subject"].lower()
    joined = accept(api, link_token(reminders[0]))
    assert joined.status == 200, joined.body


def test_withdrawing_an_invitation_kills_its_link_and_index(api, mailgun):
    """OWASP ASVS 5.0 6.4.1 and 2.3.3 (the withdrawal deletes the user, their link and the address's index entry
    together). Attack: a withdrawn invitation's link still reached the API (404) and the address stayed taken."""
    owner = sign_up(api, mailgun)
    email = new_email("withdrawn")
    assert invite(owner, email).status == 201
    token = link_token(mailgun.to(email)[-1])
    assert owner.browser.delete(f"/api/users/{listed(owner)[email]['id']}").status == 204

    dead = accept(api, token)
    assert (dead.status, code(dead)) == (400, "invalid_token")
    from protu.identity import invitations

    assert invitations.pending_for(email) == []


def test_a_resend_to_a_pending_invitee_takes_no_new_seat(api, mailgun):
    """OWASP ASVS 5.0 2.3.2 (business limits hold as documented). Not an attack: the seat count must survive the
    address no longer being an account while invited (it passed before the change too)."""
    owner = sign_up(api, mailgun)  # free plan: 3 seats
    pending = [new_email("seat"), new_email("seat")]
    for email in pending:
        assert invite(owner, email).status == 201
    assert invite(owner, pending[0]).status == 201  # a resend: still 3 seats used
    full = invite(owner, new_email("seat"))
    assert (full.status, code(full)) == (402, "seat_limit_reached")


# ------------------------------------------------------------------------------------------------ D. mail relay
def test_invite_and_withdraw_cycles_are_capped_per_company(api, mailgun):
    """OWASP ASVS 5.0 2.4.1 (anti-automation against overuse of a costly function: our mail) and 2.3.2. Attack:
    invite an address, withdraw it, invite the next one (a seat is never used up): every invitation was mailed."""
    owner = sign_up(api, mailgun)  # free plan
    budget = 20
    addresses = [new_email("relay") for _ in range(budget + 1)]
    for email in addresses[:budget]:
        assert invite(owner, email).status == 201
        assert owner.browser.delete(f"/api/users/{listed(owner)[email]['id']}").status == 204
    over = invite(owner, addresses[-1])
    assert (over.status, code(over)) == (429, "invitation_limit_reached"), over.body
    assert int(over.header("Retry-After")) > 0
    assert sum(len(mailgun.to(email)) for email in addresses) == budget
    assert addresses[-1] not in listed(owner)
    assert "users.invitation_limited" in actions(tenant_of(owner))
    from protu.billing import plans

    assert (plans.FREE.invitations_per_day, plans.TEAM.invitations_per_day) == (budget, 100)


def test_resends_to_one_address_are_capped(api, mailgun):
    """OWASP ASVS 5.0 2.4.1. Attack: five resends to one address were five mails."""
    owner = sign_up(api, mailgun)
    email = new_email("target")
    replies = [invite(owner, email) for _ in range(5)]
    assert [r.status for r in replies] == [201, 201, 201, 429, 429]
    assert code(replies[3]) == "invitation_limit_reached" and int(replies[3].header("Retry-After")) > 0
    assert len(mailgun.to(email)) == 3


def test_one_address_gets_at_most_ten_invitation_mails_a_day_in_all(api, mailgun):
    """OWASP ASVS 5.0 2.4.1. Attack: several companies, each within its own limits, flood one address. The answer
    to the inviter does not change at the cap (that would tell one company what others did): the invitation is
    saved, its mail held (audited)."""
    owners = [sign_up(api, mailgun) for _ in range(4)]
    email = new_email("flooded")
    replies = [invite(owner, email) for owner in owners for _ in range(3)]
    assert {r.status for r in replies} == {201}
    assert len(mailgun.to(email)) == 10
    assert "users.invitation_mail_held" in actions(tenant_of(owners[-1]))


def test_names_in_an_invitation_cannot_carry_links(api, mailgun):
    """OWASP ASVS 5.0 1.3.3 (data passed to a dangerous context, here someone else's inbox, is made safe for it).
    Attack: a company and inviter named with a URL: the invitation mail carried it as a clickable link."""
    # A scheme or "www." is refused where names are entered (test_names_that_reach_other_peoples_mail_...); a bare
    # domain is a fair name ("Acme.io"), so the mail itself must not make a link of it.
    owner = sign_up(api, mailgun, company="Claim at evil.example now", name="Bo evil.example/x or Evil.Example")
    email = new_email("mark")
    assert invite(owner, email).status == 201
    message = mailgun.to(email)[-1]
    origin = settings().app_origin
    for part in ("subject", "text", "html"):
        body = message[part]
        assert "evil.example" not in body and "www." not in body.lower(), (part, body)
        assert all(url.startswith(origin + "/") for url in URL.findall(body)), (part, URL.findall(body))
    assert "evil\u2024example" in message["text"]  # still readable, not a link

    # Look-alike dots and colons are no way around it.
    from protu import mail

    sneaky = mail.render(
        "invitation",
        company="evil\uff0eexample",
        inviter="Bo http\uff1a//x\u3002example",
        role="admin",
        link="/accept-invitation#token=t",
        refuse_link="/refuse-invitation#token=r",
    )
    assert "\uff0e" not in sneaky.text and "\uff1a//" not in sneaky.text and "\u3002" not in sneaky.text

    # The invitee's own name refuses a URL too (it appears in mails the company sends to others).
    token = link_token(message)
    for name in ("Ivy www.evil.example", "Ivy https://evil.example"):
        reply = accept(api, token, name)
        assert (reply.status, code(reply)) == (422, "name_contains_link"), name
        assert reply.json()["error"]["details"] == {"field": "name"}
    assert accept(api, token, "Ivy St. James").status == 200


def test_names_that_reach_other_peoples_mail_cannot_be_web_addresses(api, mailgun):
    """Attack 5 (ASVS 5.0 1.3.x): the company and inviter names an invitation carries are chosen at sign-up and in
    the settings too; there as well, a web address is refused with a clear code."""
    signup = {
        "company_name": "Evil www.evil.example",
        "name": "Eve",
        "email": new_email("eve"),
        "password": STRONG,
        "accept_terms": True,
    }
    reply = Browser(api).post("/api/auth/signup", signup)
    assert (reply.status, code(reply), reply.json()["error"]["details"]["field"]) == (
        422,
        "name_contains_link",
        "company_name",
    )
    reply = Browser(api).post("/api/auth/signup", {**signup, "company_name": "Fine Ltd", "name": "https://x.example"})
    assert (reply.status, code(reply)) == (422, "name_contains_link")
    owner = sign_up(api, mailgun)
    settings_now = owner.browser.get("/api/settings").json()
    change = {"company_name": "Visit http://evil.example", "version": settings_now["version"]}
    reply = owner.browser.patch("/api/settings", change)
    assert (reply.status, code(reply)) == (422, "name_contains_link")


def test_the_refuse_link_declines_and_stops_later_invitations(api, mailgun, capsys):
    """OWASP ASVS 5.0 2.4.1 (the recipient can stop the relay) and 2.3.2. Attack: nothing let a person stop
    invitations to their address. Also: the refusal is audited in the inviting company's chain, the inviter is
    told, and no token or link reaches the logs or the audit log."""
    owner, stranger = sign_up(api, mailgun), sign_up(api, mailgun)
    email = new_email("unwilling")
    assert invite(owner, email).status == 201
    message = mailgun.to(email)[-1]
    invitation, refusal = link_token(message), refuse_token(message)
    assert f"{settings().app_origin}/refuse-invitation#token={refusal}" in message["text"]

    reply = Browser(api).post(REFUSE, {"token": refusal})
    assert (reply.status, reply.json()) == (200, {"status": "refused"}), reply.body
    assert email not in listed(owner)
    told = mailgun.to(owner.email)[-1]
    assert email in told["text"] and "declined" in told["text"]
    assert code(accept(api, invitation)) == "invalid_token"
    assert code(Browser(api).post(REFUSE, {"token": refusal})) == "invalid_token"
    for inviter in (owner, stranger):
        later = invite(inviter, email.upper())
        assert (later.status, code(later)) == (409, "invitations_refused"), later.body

    tenant = tenant_of(owner)
    assert "users.invitation_refused" in actions(tenant)
    events, _ = audit.events(tenant, limit=200)
    captured = capsys.readouterr()
    recorded = captured.out + captured.err + repr(events)
    assert '"message": "request"' in captured.out + captured.err
    for secret in (invitation, refusal):
        assert secret not in recorded
