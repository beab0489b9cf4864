"""The RBAC matrix: every protected route of the API × {anonymous, revoked session, admin, owner, owner of another
company}, enumerated from the app itself, so a new route is covered the moment it is registered.

What each caller must get:

* anonymous and a revoked session: 401, before anything else happens;
* admin: the RBAC table decides: 403 ``forbidden`` where the route's permission is not the admin's, otherwise
  the route's own answer (which may be a domain 403 such as ``invalid_password``, never ``forbidden``);
* owner: never 401 nor ``forbidden``;
* the owner of another company: on a route naming a record (``/api/users/{user_id}``...), a record of the first
  company is the same 404 as a missing one; elsewhere they act on their own company.

Calls that allowed callers make use the route's documented example body and, for record routes, an id that names
nothing, so the matrix can run every route without destroying the accounts it needs.
"""

from __future__ import annotations

import re
import secrets

import pytest
from protu.directory.kinds import KINDS
from protu.http.routing import PUBLIC
from protu.identity import rbac
from protu.settings import settings

from tests.api.people import FIREFOX, Browser, add_passkey, invite, sign_up
from tests.webauthn_authenticator import Authenticator

PARAM = re.compile(r"{([^}]+)}")
RECORD_PARAMS = ("user_id", "session_id", "passkey_id", "id", "response_id", "domain")  # path parameters


@pytest.fixture(scope="module")
def people(api, module_mailgun, module_stripe_api):  # Stripe for the module: an owner's checkout reaches it
    owner = sign_up(api, module_mailgun)
    admin = invite(owner, module_mailgun, "admin")
    other = sign_up(api, module_mailgun)
    revoked = Browser(api, user_agent=FIREFOX, ip="198.51.100.77")
    assert revoked.login(owner.email).status == 200
    token = revoked.access_token
    assert revoked.post("/api/auth/logout").status == 204
    revoked.access_token = token  # the token outlives its session by up to 10 minutes: it must not work
    ids = {"user_id": admin.me["id"], "session_id": session_id(owner.browser), "passkey_id": passkey_of(admin)}
    for kind in KINDS.values():  # one record of each kind in the first company, for /api/<kind>/{id}
        if kind.parent is None:
            created = owner.browser.post(f"/api/{kind.name}", kind.example)
        else:  # a response: to the assessment above, about the candidate above
            body = {**kind.example, "subject_id": ids["candidates"]}
            created = owner.browser.post(f"/api/{kind.parent[0]}/{ids[kind.parent[0]]}/{kind.name}", body)
            ids[f"{kind.entity}_id"] = created.json()["id"]
        assert created.status == 201, created.body
        ids[kind.name] = created.json()["id"]
    ids["exports"] = owner.browser.post("/api/exports").json()["id"]
    ids["audit-streams"] = owner.browser.post("/api/audit-streams", {"url": "https://siem.example.com/in"}).json()["id"]
    ids["audit-events"] = owner.browser.post("/api/audit-events/exports", {}).json()["id"]
    ids["incidents"] = incident_about(owner.me["company"]["id"], admin.me["id"])
    domain = owner.browser.post("/api/settings/sso/domains", {"domain": f"matrix-{secrets.token_hex(4)}.example"})
    ids["domain"] = domain.json()["domain"]  # a single sign-on domain (pending) of the first company
    return {"owner": owner, "admin": admin, "other": other, "revoked": revoked, "ids": ids}


def incident_about(tenant_id: str, user_id: str) -> str:
    """An incident that concerns the company (a locked account), with its owners' view written."""
    from protu.security import incidents, response, signals

    signal = signals.raise_signal("login.locked", tenant_id=tenant_id, user_id=user_id, source_ip="198.51.100.9")
    incident, _ = incidents.detect(signal)
    response.sync_company_view(tenant_id, incident.id)
    return incident.id


def passkey_of(account) -> str:
    """A passkey of ``account`` (through ``tests.webauthn_authenticator``): another company must not reach it."""
    return add_passkey(account, Authenticator(settings().app_origin))["id"]


def session_id(browser: Browser) -> str:
    return next(s["id"] for s in browser.get("/api/me/sessions").json() if s["current"])


def protected(api):
    return [ep for ep in api.handler.endpoints if ep.permission != PUBLIC]


def call(browser: Browser, ep, params: dict[str, str]):
    """``ep`` with its path parameters from ``params``; ``{id}`` takes the id of the collection's own kind."""
    collection = ep.path.split("/")[2]

    def value(match: re.Match) -> str:
        name = match.group(1)
        return params[collection] if name == "id" and collection in params else params[name]

    path = PARAM.sub(value, ep.path)
    return browser.request(ep.method, path, json=ep.example)


def code(reply) -> str | None:
    body = reply.json() if reply.body else None
    return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


def test_the_matrix_covers_every_protected_route(api):
    routes = {(ep.method, ep.path) for ep in protected(api)}
    assert ("GET", "/api/me") in routes and ("DELETE", "/api/users/{user_id}") in routes
    assert all(ep.permission in rbac.PERMISSIONS for ep in protected(api))


def test_anonymous_callers_get_401_everywhere(api, people):
    for ep in protected(api):
        reply = call(Browser(api), ep, people["ids"])
        assert (reply.status, code(reply)) == (401, "unauthorized"), (ep.method, ep.path)


def test_a_revoked_session_gets_401_everywhere(api, people):
    for ep in protected(api):
        reply = call(people["revoked"], ep, people["ids"])
        assert (reply.status, code(reply)) == (401, "session_revoked"), (ep.method, ep.path)


def test_admins_get_exactly_what_the_rbac_table_gives_them(api, people):
    nothing = {name: "x-does-not-exist" for name in RECORD_PARAMS}
    for ep in protected(api):
        reply = call(people["admin"].browser, ep, nothing)
        if rbac.allows(rbac.ADMIN, ep.permission):
            assert reply.status != 401 and code(reply) != "forbidden", (ep.method, ep.path, reply.body)
        else:
            assert (reply.status, code(reply)) == (403, "forbidden"), (ep.method, ep.path)
    assert people["admin"].browser.get("/api/me").status == 200  # still signed in after all that


def test_owners_may_call_every_route(api, people):
    nothing = {name: "x-does-not-exist" for name in RECORD_PARAMS}
    for ep in protected(api):
        reply = call(people["owner"].browser, ep, nothing)
        assert reply.status != 401 and code(reply) != "forbidden", (ep.method, ep.path, reply.body)
        assert reply.status < 500, (ep.method, ep.path, reply.body)


def test_another_companys_records_are_404_as_if_missing(api, people):
    with_records = [ep for ep in protected(api) if PARAM.search(ep.path)]
    assert with_records
    for ep in with_records:
        theirs = call(people["other"].browser, ep, people["ids"])
        missing = call(people["other"].browser, ep, {name: "x-does-not-exist" for name in [*people["ids"], "id"]})
        assert theirs.status == missing.status == 404, (ep.method, ep.path, theirs.body)
        assert theirs.json() == missing.json()
    # and nothing happened to them
    assert people["admin"].browser.get("/api/me").status == 200
    assert people["owner"].browser.get("/api/me").status == 200
