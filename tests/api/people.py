"""Test helpers for identity: a browser-like client (its own user agent, address and refresh cookie) and sign-up /
sign-in through the public API, reading links from the email Mailgun was asked to send."""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field

STRONG = "correct horse battery staple"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def link_token(message: dict) -> str:
    found = re.search(r"#token=([A-Za-z0-9_\-]+)", message["text"])
    assert found, message["text"]
    return found.group(1)


@dataclass
class Browser:
    """One client: sends its user agent, address, access token and refresh cookie like a browser would."""

    api: object
    user_agent: str = CHROME
    ip: str = field(default_factory=lambda: f"203.0.{random.randrange(256)}.{random.randrange(1, 255)}")
    access_token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method, path, json=None, headers=None):
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        if self.access_token:
            sent.setdefault("Authorization", f"Bearer {self.access_token}")
        if self.cookies and path.startswith("/api/auth"):
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.api.request(method, path, json=json, headers=sent, source_ip=self.ip)
        cookie = reply.header("Set-Cookie")
        if cookie:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        body = reply.json() if reply.body else None
        if isinstance(body, dict) and "access_token" in body:
            self.access_token = body["access_token"]
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self.request("DELETE", path, json=json, **kw)

    def login(self, email: str, password: str = STRONG):
        return self.post("/api/auth/login", {"email": email, "password": password})


@dataclass
class Account:
    email: str
    password: str
    company: str
    browser: Browser

    @property
    def me(self) -> dict:
        reply = self.browser.get("/api/me")
        assert reply.status == 200, reply.body
        return reply.json()


def sign_up(
    api,
    mailgun,
    *,
    company: str | None = None,
    name: str = "Ana Owner",
    password: str = STRONG,
    browser: Browser | None = None,
) -> Account:
    """A new company through the API, its email verified, its owner signed in."""
    email = new_email("owner")
    company = company or f"Firm {uuid.uuid4().hex[:6]}"
    browser = browser or Browser(api)
    reply = browser.post(
        "/api/auth/signup",
        {"company_name": company, "name": name, "email": email, "password": password, "accept_terms": True},
    )
    assert reply.status == 201, reply.body
    token = link_token(mailgun.to(email)[-1])
    assert browser.post("/api/auth/verify-email", {"token": token}).status == 200
    assert browser.login(email, password).status == 200
    return Account(email, password, company, browser)


def invite(
    owner: Account, mailgun, role: str = "admin", *, name: str = "Adam Admin", browser: Browser | None = None
) -> Account:
    """An invited user who accepted the invitation (signed in in their own browser)."""
    email = new_email(role)
    body = {"email": email, "role": role, "confirm_owner": True} if role == "owner" else {"email": email, "role": role}
    reply = owner.browser.post("/api/users/invitations", body)
    assert reply.status == 201, reply.body
    token = link_token(mailgun.to(email)[-1])
    browser = browser or Browser(owner.browser.api, user_agent=FIREFOX, ip="198.51.100.20")
    reply = browser.post("/api/auth/invitations/accept", {"token": token, "name": name, "password": STRONG})
    assert reply.status == 200, reply.body
    return Account(email, STRONG, owner.company, browser)


def add_passkey(account: Account, authenticator, name: str = "My laptop") -> dict:
    """Register a passkey of ``authenticator`` (``tests.webauthn_authenticator``) as the SPA does; answers it."""
    reply = account.browser.post("/api/me/passkeys/options", {})
    assert reply.status == 200, reply.body
    credential = authenticator.create(reply.json()["options"])
    body = {"ceremony": reply.json()["ceremony"], "name": name, "credential": credential}
    reply = account.browser.post("/api/me/passkeys", body)
    assert reply.status == 201, reply.body
    return reply.json()


def subscribe(owner: Account, stripe, plan: str = "business") -> dict:
    """Put the owner's company on a paid plan the way a customer does: checkout through the API, then pay on
    Stripe's page (``stripe`` is the Stripe stand-in of ``tests.conftest.capture_stripe``). Answers the session."""
    reply = owner.browser.post("/api/billing/checkout", {"plan": plan})
    assert reply.status == 200, reply.body
    session_id = reply.json()["url"].rsplit("/", 1)[1]
    stripe.pay(session_id)
    assert owner.browser.get("/api/billing").json()["plan"] == plan
    return stripe.sessions[session_id]
