"""Company single sign-on through the API: verified domains (DNS TXT records on a stand-in nameserver, the outside
world's DNS), the connection, enforcement with break-glass owners, and OIDC sign-in end to end (the provider
``infra.idp_oidc`` answering the backend's calls through ``responses``; the browser's leg played on it)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from protu import caches

from tests.api.people import STRONG, Account, Browser, add_passkey, invite, link_token, subscribe
from tests.api.test_passkeys import passkey_sign_in
from tests.webauthn_authenticator import Authenticator

ORIGIN_FREE = "http://localhost:8000"  # APP_ORIGIN of the shared cloud (the template's default)


def new_domain() -> str:
    return f"firm-{uuid.uuid4().hex[:10]}.example"


def add_domain(account: Account, domain: str) -> dict:
    reply = account.browser.post("/api/settings/sso/domains", {"domain": domain})
    assert reply.status == 201, reply.body
    return reply.json()


def verify(account: Account, domain: str):
    return account.browser.post(f"/api/settings/sso/domains/{domain}/verify")


def verified_domain(account: Account, nameserver, domain: str | None = None) -> str:
    domain = domain or new_domain()
    added = add_domain(account, domain)
    nameserver.set(added["txt_name"], [added["txt_value"]])
    reply = verify(account, domain)
    assert reply.status == 200 and reply.json()["status"] == "verified", reply.body
    return domain


def company_at(api, mailgun, domain: str, local: str = "boss") -> Account:
    """A company whose owner's address is at ``domain``, signed in."""
    email = f"{local}-{uuid.uuid4().hex[:6]}@{domain}"
    browser = Browser(api)
    body = {"company_name": "Firm", "name": "Bo Boss", "email": email, "password": STRONG, "accept_terms": True}
    assert browser.post("/api/auth/signup", body).status == 201
    assert browser.post("/api/auth/verify-email", {"token": link_token(mailgun.to(email)[-1])}).status == 200
    assert browser.login(email).status == 200
    return Account(email, STRONG, "Firm", browser)


def connect(account: Account, provider, **extra):
    body = {
        "protocol": "oidc",
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        **extra,
    }
    return account.browser.request("PUT", "/api/settings/sso", json=body)


def cookies_of(reply) -> dict[str, str]:
    found = {}
    for header in reply.multi_headers.get("Set-Cookie") or (
        [reply.header("Set-Cookie")] if reply.header("Set-Cookie") else []
    ):
        name, _, rest = header.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


class SsoBrowser:
    """A browser going through single sign-on: its cookies, user agent and address."""

    def __init__(self, api, ip: str = "203.0.113.50") -> None:
        self.api, self.ip, self.cookies = api, ip, {}
        self.agent = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"

    def call(self, method: str, path: str, json=None, cookies: dict | None = None):
        jar = self.cookies if cookies is None else cookies
        headers = {"User-Agent": self.agent}
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        reply = self.api.request(method, path, json=json, headers=headers, source_ip=self.ip)
        for name, value in cookies_of(reply).items():
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply

    def start(self, email: str) -> dict:
        reply = self.call("POST", "/api/auth/sso/start", {"email": email})
        assert reply.status == 200, reply.body
        return reply.json()

    def back(self, location: str, cookies: dict | None = None):
        """Follow the provider's redirect to our callback (path and query of its Location)."""
        parts = urlsplit(location)
        return self.call("GET", f"{parts.path}?{parts.query}", cookies=cookies)

    def signed_in(self) -> dict:
        reply = self.call("POST", "/api/auth/refresh")
        assert reply.status == 200, reply.body
        token = reply.json()["access_token"]
        me = self.api.request(
            "GET", "/api/me", headers={"Authorization": f"Bearer {token}", "User-Agent": self.agent}, source_ip=self.ip
        )
        return {"token": token, **me.json()}


def sign_in(api, provider, email: str, name: str | None = None, **kw):
    browser = SsoBrowser(api)
    started = browser.start(email)
    assert started["sso"] is True, started
    location = provider.sign_in(started["redirect_url"], email, name=name, **kw)
    return browser, browser.back(location)


def sso_error(reply) -> str | None:
    assert reply.status == 303, reply.body
    return (parse_qs(urlsplit(reply.header("Location")).query).get("sso_error") or [None])[0]


# ------------------------------------------------------------------------------------------------ domains
def test_a_domain_is_pending_until_its_txt_record_holds_the_value(owner, nameserver):
    domain = new_domain()
    added = add_domain(owner, domain.upper())
    assert added["domain"] == domain and added["status"] == "pending"
    assert added["txt_name"] == f"_protu-challenge.{domain}"
    assert added["txt_value"].startswith("protu-verification=")

    missing = verify(owner, domain)
    assert missing.status == 409 and missing.json()["error"]["code"] == "domain_txt_not_found"

    nameserver.set(added["txt_name"], ["v=spf1 -all", "protu-verification=someone-elses"])
    wrong = verify(owner, domain)
    assert wrong.status == 409 and wrong.json()["error"]["code"] == "domain_txt_mismatch"
    assert "protu-verification=someone-elses" in wrong.json()["error"]["details"]["found"]

    nameserver.set(added["txt_name"], ["v=spf1 -all", added["txt_value"]])
    done = verify(owner, domain)
    assert done.status == 200 and done.json()["status"] == "verified" and done.json()["verified_at"]
    listed = owner.browser.get("/api/settings/sso/domains").json()
    assert [(d["domain"], d["status"]) for d in listed if d["domain"] == domain] == [(domain, "verified")]
    assert owner.browser.post("/api/settings/sso/domains", {"domain": domain}).json()["error"]["code"] == (
        "domain_already_added"
    )


def test_a_domain_verified_by_another_company_is_refused_until_it_removes_it(owner, stranger, nameserver):
    domain = verified_domain(owner, nameserver)
    theirs = add_domain(stranger, domain)
    nameserver.set(theirs["txt_name"], [theirs["txt_value"]])
    taken = verify(stranger, domain)
    assert taken.status == 409 and taken.json()["error"]["code"] == "domain_taken"

    assert owner.browser.delete(f"/api/settings/sso/domains/{domain}").status == 204
    assert domain not in [d["domain"] for d in owner.browser.get("/api/settings/sso/domains").json()]
    now = verify(stranger, domain)
    assert now.status == 200 and now.json()["status"] == "verified"


def test_public_mail_one_label_and_international_domains(owner):
    for value, code in (
        ("gmail.com", "domain_not_allowed"),
        ("com", "invalid_domain"),
        ("a@b.example", "invalid_domain"),
    ):
        reply = owner.browser.post("/api/settings/sso/domains", {"domain": value})
        assert reply.status == 422 and reply.json()["error"]["code"] == code, value
    tag = uuid.uuid4().hex[:6]
    import idna

    assert add_domain(owner, f"Bücher-{tag}.example")["domain"] == idna.encode(f"bücher-{tag}.example").decode()


def test_a_nameserver_that_does_not_answer_is_a_clear_error(owner, nameserver):
    domain = new_domain()
    add_domain(owner, domain)
    nameserver.silent = True
    try:
        reply = verify(owner, domain)
    finally:
        nameserver.silent = False
    assert reply.status == 422 and reply.json()["error"]["code"] == "dns_lookup_failed"


def test_only_owners_reach_the_sso_settings(admin):
    assert admin.browser.get("/api/settings/sso").status == 403
    assert admin.browser.post("/api/settings/sso/domains", {"domain": new_domain()}).status == 403


# ------------------------------------------------------------------------------------------ connection, enforcement
def turn_on_two_factor(account: Account) -> None:
    import pyotp

    secret = account.browser.post("/api/me/mfa/totp").json()["secret"]
    reply = account.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    assert reply.status == 200, reply.body


def test_enforcement_refuses_passwords_and_links_at_the_domain_except_break_glass_owners(
    api, module_mailgun, module_oidc_provider, nameserver
):
    domain = new_domain()
    boss = company_at(api, module_mailgun, domain)
    verified_domain(boss, nameserver, domain)
    staff = invite(boss, module_mailgun, "admin")  # an address elsewhere: not concerned
    local_staff_email = f"staff-{uuid.uuid4().hex[:6]}@{domain}"
    assert boss.browser.post("/api/users/invitations", {"email": local_staff_email, "role": "admin"}).status == 201
    token = link_token(module_mailgun.to(local_staff_email)[-1])
    accept = {"token": token, "name": "Sam Staff", "password": STRONG}
    assert Browser(api).post("/api/auth/invitations/accept", accept).status == 200
    boss_id = boss.me["id"]

    refused = connect(boss, module_oidc_provider, enforced=True, break_glass_user_ids=[])
    assert refused.status == 422 and refused.json()["error"]["code"] == "break_glass_required"
    refused = connect(boss, module_oidc_provider, enforced=True, break_glass_user_ids=[boss_id])
    assert refused.status == 422 and refused.json()["error"]["code"] == "break_glass_required"  # no two-factor
    turn_on_two_factor(boss)
    saved = connect(boss, module_oidc_provider, enforced=True, break_glass_user_ids=[boss_id])
    assert saved.status == 200, saved.body
    assert saved.json()["client_secret_set"] is True and "client_secret" not in saved.json()
    assert module_oidc_provider.client_secret not in saved.body.decode()

    stranger_email = f"nobody-{uuid.uuid4().hex[:6]}@{domain}"
    for email in (local_staff_email, stranger_email):  # an account or none: the domain decides
        for path, body in (
            ("/api/auth/login", {"email": email, "password": STRONG}),
            ("/api/auth/magic-link", {"email": email}),
            ("/api/auth/password/forgot", {"email": email}),
        ):
            reply = Browser(api).post(path, body)
            assert reply.status == 403 and reply.json()["error"]["code"] == "sso_required", (email, path)
    assert Browser(api).login(boss.email).json().get("mfa_required") is True  # the break-glass owner
    assert Browser(api).login(staff.email).status == 200  # another domain
    assert SsoBrowser(api).start(stranger_email)["sso"] is True  # routed to the provider, account or not
    newcomer = f"new-{uuid.uuid4().hex[:6]}@{domain}"  # the free plan's 3 seats are taken: nobody new comes in
    assert sso_error(sign_in(api, module_oidc_provider, newcomer)[1]) == "seat_limit_reached"

    kept = boss.browser.request(
        "PUT",
        "/api/settings/sso",
        json={"protocol": "oidc", "issuer": module_oidc_provider.issuer, "client_id": module_oidc_provider.client_id},
    )
    assert kept.status == 200 and kept.json()["client_secret_set"] and kept.json()["enforced"] is False
    assert Browser(api).login(local_staff_email).status == 200  # no longer enforced
    assert boss.browser.delete("/api/settings/sso").status == 204
    assert boss.browser.get("/api/settings/sso").json()["configured"] is False
    assert SsoBrowser(api).start(local_staff_email) == {"sso": False}  # the domain routes nowhere now


def test_enforcement_also_stops_passkeys_and_reset_links_and_names_no_break_glass_owner(
    api, module_mailgun, module_oidc_provider, nameserver
):
    from protu.settings import settings

    domain = new_domain()
    boss = company_at(api, module_mailgun, domain)
    verified_domain(boss, nameserver, domain)
    staff_email = f"staff-{uuid.uuid4().hex[:6]}@{domain}"
    assert boss.browser.post("/api/users/invitations", {"email": staff_email, "role": "admin"}).status == 201
    accept = {"token": link_token(module_mailgun.to(staff_email)[-1]), "name": "Sam Staff", "password": STRONG}
    staff = Account(staff_email, STRONG, "Firm", Browser(api))
    assert staff.browser.post("/api/auth/invitations/accept", accept).status == 200
    keys = {who.email: Authenticator(settings().app_origin) for who in (boss, staff)}
    for who in (boss, staff):
        add_passkey(who, keys[who.email])
    assert Browser(api).post("/api/auth/password/forgot", {"email": staff_email}).status == 202
    reset_token = link_token(module_mailgun.to(staff_email)[-1])

    # A passkey is a second factor: a break-glass owner with only a passkey is enough.
    saved = connect(boss, module_oidc_provider, enforced=True, break_glass_user_ids=[boss.me["id"]])
    assert saved.status == 200, saved.body

    _, reply = passkey_sign_in(api, keys[staff_email])  # removed at the provider or not: the provider decides
    assert (reply.status, reply.json()["error"]["code"]) == (403, "sso_required")
    reply = Browser(api).post("/api/auth/password/reset", {"token": reset_token, "password": "a brand new passphrase"})
    assert (reply.status, reply.json()["error"]["code"]) == (403, "sso_required")
    assert Browser(api).login(staff_email, "a brand new passphrase").json()["error"]["code"] == "sso_required"
    _, reply = passkey_sign_in(api, keys[boss.email])
    assert reply.status == 200, reply.body  # the break-glass owner

    # Which address is a break-glass owner does not show: a wrong password answers as for everyone else.
    for email in (boss.email, staff_email, f"nobody-{uuid.uuid4().hex[:6]}@{domain}"):
        reply = Browser(api).login(email, "not the password at all")
        assert (reply.status, reply.json()["error"]["code"]) == (403, "sso_required"), email
    assert Browser(api).login(boss.email).json().get("mfa_required") is True
    # Nor does asking for a sign-in link: 403 for every address, the link mailed to a break-glass owner only.
    mails = {email: len(module_mailgun.to(email)) for email in (boss.email, staff_email)}
    for email in mails:
        reply = Browser(api).post("/api/auth/magic-link", {"email": email})
        assert (reply.status, reply.json()["error"]["code"]) == (403, "sso_required"), email
    assert len(module_mailgun.to(staff_email)) == mails[staff_email]
    assert len(module_mailgun.to(boss.email)) == mails[boss.email] + 1
    step = Browser(api).post("/api/auth/magic-link/verify", {"token": link_token(module_mailgun.to(boss.email)[-1])})
    assert step.json().get("mfa_required") is True, step.body


# ------------------------------------------------------------------------------------------------ OIDC sign-in
@pytest.fixture(scope="module")
def sso_company(api, owner, module_oidc_provider, module_stripe_api, nameserver):
    """The owner's company (on a paid plan: its seats for the people signing in) with a verified domain and its OIDC
    provider connected."""
    subscribe(owner, module_stripe_api)
    domain = verified_domain(owner, nameserver)
    assert connect(owner, module_oidc_provider).status == 200
    return {"domain": domain, "provider": module_oidc_provider, "owner": owner}


def test_an_unverified_domain_does_not_route_to_a_provider(api, sso_company):
    browser = SsoBrowser(api)
    reply = browser.call("POST", "/api/auth/sso/start", {"email": f"ana@{new_domain()}"})
    assert reply.status == 200 and reply.json() == {"sso": False} and not cookies_of(reply)


def test_oidc_sign_in_provisions_the_user_and_keeps_the_name_in_step(api, sso_company):
    email = f"new.person-{uuid.uuid4().hex[:6]}@{sso_company['domain']}"
    browser, reply = sign_in(api, sso_company["provider"], email, name="New Person")
    assert reply.status == 303 and reply.header("Location") == f"{ORIGIN_FREE}/?signed_in=sso", reply.body
    me = browser.signed_in()
    assert (me["email"], me["name"], me["role"]) == (email, "New Person", "admin")
    assert me["company"]["id"] == sso_company["owner"].me["company"]["id"]
    sessions = api.request(
        "GET",
        "/api/me/sessions",
        headers={"Authorization": f"Bearer {me['token']}", "User-Agent": browser.agent},
        source_ip=browser.ip,
    ).json()
    assert [s["sign_in_method"] for s in sessions] == ["sso"]

    again, reply = sign_in(api, sso_company["provider"], email, name="New Q. Person")
    assert reply.status == 303 and "sso_error" not in reply.header("Location")
    assert again.signed_in()["name"] == "New Q. Person"
    users = sso_company["owner"].browser.get("/api/users").json()
    assert [u["name"] for u in users if u["email"] == email] == ["New Q. Person"]  # one user, not two

    # A session from single sign-on ends like any other: the owner signs the user out.
    owner = sso_company["owner"]
    assert owner.browser.post(f"/api/users/{me['id']}/sign-out").status == 204
    assert again.call("POST", "/api/auth/refresh").status == 401


def test_a_callback_without_the_browser_binding_cookie_signs_nobody_in(api, sso_company):
    email = f"victim-{uuid.uuid4().hex[:6]}@{sso_company['domain']}"
    attacker = SsoBrowser(api)
    started = attacker.start(email)
    location = sso_company["provider"].sign_in(started["redirect_url"], email)
    victim = SsoBrowser(api, ip="198.51.100.77")
    reply = victim.back(location, cookies={})
    assert sso_error(reply) == "sso_browser_mismatch"
    assert "protu_refresh" not in {k for k, v in cookies_of(reply).items() if v}
    assert sso_error(victim.back(location, cookies={"protu_sso": "x" * 43})) == "sso_state_invalid"  # used once


def test_a_state_is_used_once(api, sso_company):
    email = f"once-{uuid.uuid4().hex[:6]}@{sso_company['domain']}"
    browser = SsoBrowser(api)
    started = browser.start(email)
    location = sso_company["provider"].sign_in(started["redirect_url"], email)
    binding = dict(browser.cookies)
    assert sso_error(browser.back(location)) is None
    assert sso_error(browser.back(location, cookies=binding)) == "sso_state_invalid"


def test_an_address_outside_the_companys_verified_domains_is_refused(api, sso_company, stranger, nameserver):
    theirs = verified_domain(stranger, nameserver)  # another company's domain
    for email in (f"someone-{uuid.uuid4().hex[:6]}@{theirs}", f"someone@{new_domain()}"):
        browser = SsoBrowser(api)
        started = browser.start(f"starter@{sso_company['domain']}")
        location = sso_company["provider"].sign_in(started["redirect_url"], email)  # the provider vouches for it
        assert sso_error(browser.back(location)) == "sso_domain_not_verified", email


def test_a_code_from_another_companys_provider_is_refused(api, sso_company, module_outside, stranger, nameserver):
    from tests.oidc_provider import capture_oidc

    other = capture_oidc(module_outside)
    theirs = verified_domain(stranger, nameserver)
    assert connect(stranger, other).status == 200
    email = f"mallory-{uuid.uuid4().hex[:6]}@{theirs}"
    browser = SsoBrowser(api)
    ours = browser.start(f"target@{sso_company['domain']}")  # a flow of our company...
    mine = SsoBrowser(api).start(email)
    code = parse_qs(urlsplit(other.sign_in(mine["redirect_url"], email)).query)["code"][0]  # ...a code of theirs
    state = parse_qs(urlsplit(ours["redirect_url"]).query)["state"][0]
    reply = browser.call("GET", f"/api/auth/sso/oidc/callback?code={code}&state={state}")
    assert (sso_error(reply) or "").startswith("sso_") and "signed_in" not in reply.header("Location")


def test_the_providers_refusal_and_a_removed_user_are_sent_back_to_sign_in(api, sso_company):
    provider = sso_company["provider"]
    email = f"leaver-{uuid.uuid4().hex[:6]}@{sso_company['domain']}"
    browser, reply = sign_in(api, provider, email)
    assert sso_error(reply) is None
    provider.answer("DELETE", f"/users/{email}", "", {})  # they left: removed at the provider
    browser = SsoBrowser(api)
    started = browser.start(email)
    assert sso_error(browser.back(provider.sign_in(started["redirect_url"], email))) == "sso_provider_refused"


def test_an_address_of_another_companys_account_is_not_taken_over(api, module_mailgun, sso_company):
    other = company_at(api, module_mailgun, sso_company["domain"], local="elsewhere")  # signed up before
    browser, reply = sign_in(api, sso_company["provider"], other.email)
    assert sso_error(reply) == "email_in_use"
    assert other.browser.login(other.email).status == 200


def test_a_company_requiring_two_factor_leaves_it_to_its_provider_or_makes_the_provider_prove_it(
    api, module_mailgun, module_oidc_provider, nameserver
):
    domain = new_domain()
    boss = company_at(api, module_mailgun, domain)
    verified_domain(boss, nameserver, domain)
    assert connect(boss, module_oidc_provider).status == 200
    turn_on_two_factor(boss)  # the owner signed in with a password: held to the rule below
    version = boss.browser.get("/api/settings").json()["version"]
    assert boss.browser.patch("/api/settings", {"version": version, "require_mfa": True}).status == 200
    email = f"pat-{uuid.uuid4().hex[:6]}@{domain}"

    # The provider signed Pat in with a password alone: Protu does not ask Pat to set up its own second factor,
    # since every sign-in of Pat's goes through the provider, which answers for it.
    browser, reply = sign_in(api, module_oidc_provider, email, mfa=False)
    assert sso_error(reply) is None, reply.header("Location")
    me = browser.signed_in()
    assert (me["sign_in_method"], me["mfa_setup_required"]) == ("sso", False)
    as_pat = {"Authorization": f"Bearer {me['token']}", "User-Agent": browser.agent}
    assert api.request("GET", "/api/candidates", headers=as_pat, source_ip=browser.ip).status == 200
    notices = api.request("GET", "/api/me/notices", headers=as_pat, source_ip=browser.ip).json()["items"]
    assert "mfa_setup_required" not in [n["kind"] for n in notices]
    # ...while a password sign-in of the same company without two-factor is still held to the rule.
    helper = invite(boss, module_mailgun, "admin")
    assert helper.browser.get("/api/candidates").json()["error"]["code"] == "mfa_setup_required"

    # The owner makes the provider prove a second factor: a password-only sign-in there is refused, with no session.
    saved = connect(boss, module_oidc_provider, require_provider_mfa=True)
    assert saved.status == 200 and saved.json()["require_provider_mfa"] is True, saved.body
    refused, reply = sign_in(api, module_oidc_provider, email, mfa=False)
    assert sso_error(reply) == "sso_mfa_required"
    assert "protu_refresh" not in refused.cookies
    again, reply = sign_in(api, module_oidc_provider, email, mfa=True)
    assert sso_error(reply) is None
    assert again.signed_in()["email"] == email
    logins = boss.browser.get("/api/audit-events?action=auth.login").json()["items"]
    said = [e["details"].get("provider_mfa") for e in logins if e["details"].get("method") == "sso"]
    assert said[:2] == [True, False]  # newest first


def test_once_the_company_removes_its_provider_its_sso_sessions_are_held_to_two_factor(
    api, module_mailgun, module_oidc_provider, nameserver
):
    """The provider answered for the second factor of the sessions it signed in. Once the owner removes it, nobody
    does: those sessions (up to 12 hours more) are held to the company's rule like any other, from the next request
    (in the owner's process at once, in other warm ones within the policy's 30 seconds)."""
    domain = new_domain()
    boss = company_at(api, module_mailgun, domain)
    verified_domain(boss, nameserver, domain)
    assert connect(boss, module_oidc_provider).status == 200
    turn_on_two_factor(boss)
    version = boss.browser.get("/api/settings").json()["version"]
    assert boss.browser.patch("/api/settings", {"version": version, "require_mfa": True}).status == 200
    browser, reply = sign_in(api, module_oidc_provider, f"sam-{uuid.uuid4().hex[:6]}@{domain}", mfa=False)
    assert sso_error(reply) is None, reply.header("Location")
    me = browser.signed_in()
    as_sam = {"Authorization": f"Bearer {me['token']}", "User-Agent": browser.agent}

    def call(path: str):
        return api.request("GET", path, headers=as_sam, source_ip=browser.ip)

    assert call("/api/candidates").status == 200

    assert boss.browser.delete("/api/settings/sso").status == 204
    refused = call("/api/candidates")
    assert (refused.status, refused.json()["error"]["code"]) == (403, "mfa_setup_required")
    assert call("/api/me").json()["mfa_setup_required"] is True
    assert "mfa_setup_required" in [n["kind"] for n in call("/api/me/notices").json()["items"]]
    caches.reset()  # another warm container, once its copy of the policy is older than 30 seconds
    assert call("/api/candidates").json()["error"]["code"] == "mfa_setup_required"

    assert connect(boss, module_oidc_provider).status == 200  # connected again: the provider answers again
    assert call("/api/candidates").status == 200


# ------------------------------------------------------------------------------------------------ SAML sign-in
def test_saml_sign_in_through_the_acs_with_a_signed_assertion_only(api, module_mailgun, nameserver):
    from infra.idp_saml import SamlIdpStandIn, parse_request

    domain = new_domain()
    boss = company_at(api, module_mailgun, domain)
    verified_domain(boss, nameserver, domain)
    idp = SamlIdpStandIn(base=f"https://idp-{uuid.uuid4().hex[:8]}.example.test/saml", domain=domain)
    saved = boss.browser.request("PUT", "/api/settings/sso", json={"protocol": "saml", "metadata_xml": idp.metadata()})
    assert saved.status == 200 and saved.json()["idp_entity_id"] == idp.entity_id, saved.body

    def post_back(email: str, **wrong):
        browser = SsoBrowser(api)
        reply = browser.call("POST", "/api/auth/sso/start", {"email": email})
        assert "SameSite=None" in reply.header("Set-Cookie")  # the provider's form post is cross-site
        request, relay_state = parse_request(urlsplit(reply.json()["redirect_url"]).query)
        form = urlencode(
            {"SAMLResponse": idp.response(request, email=email, name="Sue Saml", **wrong), "RelayState": relay_state}
        )
        headers = {"User-Agent": browser.agent, "Content-Type": "application/x-www-form-urlencoded"}
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        reply = api.request("POST", "/api/auth/sso/saml/acs", body=form, headers=headers, source_ip=browser.ip)
        for name, value in cookies_of(reply).items():
            browser.cookies[name] = value
        return browser, reply

    email = f"sue-{uuid.uuid4().hex[:6]}@{domain}"
    assert sso_error(post_back(email, signed=None)[1]) not in (None, "sso_failed")  # unsigned: refused
    browser, reply = post_back(email)
    assert sso_error(reply) is None and reply.header("Location").endswith("/?signed_in=sso")
    me = browser.signed_in()
    assert (me["email"], me["name"], me["role"]) == (email, "Sue Saml", "admin")


def test_the_service_provider_metadata_names_the_acs(api):
    reply = api.get("/api/auth/sso/saml/metadata")
    assert reply.status == 200 and reply.header("Content-Type") == "application/samlmetadata+xml"
    text = reply.body.decode()
    assert 'entityID="http://localhost:8000/api/auth/sso/saml/metadata"' in text
    assert 'Location="http://localhost:8000/api/auth/sso/saml/acs"' in text


def test_the_local_servers_nameserver_takes_records_over_http(local_server):
    import requests

    name = f"_protu-challenge.{new_domain()}"
    put = requests.put(f"{local_server}/_local/dns/{name}", json=["protu-verification=abc"], timeout=5)
    assert put.status_code == 200 and requests.get(f"{local_server}/_local/dns", timeout=5).json()[name] == [
        "protu-verification=abc"
    ]
    assert requests.put(f"{local_server}/_local/dns/{name}", json={"values": 5}, timeout=5).status_code == 422
    assert requests.delete(f"{local_server}/_local/dns/{name}", timeout=5).status_code == 204
    assert name not in requests.get(f"{local_server}/_local/dns", timeout=5).json()
