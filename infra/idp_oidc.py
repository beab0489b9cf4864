"""A small OpenID Connect provider: the part of an identity provider (Entra ID, Okta, Google Workspace) a company's
single sign-on through OIDC talks to.

The outside world, simulated at its HTTP boundary. ``make run`` serves it at ``{local}/_local/idp/oidc`` (its
issuer); the tests route the backend's calls to any issuer they choose (``https://idp-….example.test/oidc``) here
through ``responses`` (``tests/oidc_provider.py``). ``answer(method, path, body, headers)`` takes the path under the
issuer (``/token``, ``/authorize?…``) and answers ``(status, headers, body)``:

* ``GET /.well-known/openid-configuration`` — the discovery document (RS256 id_tokens, code flow, S256 PKCE,
  ``client_secret_basic`` and ``client_secret_post``; ``auth_methods`` changes the latter);
* ``GET /jwks`` — the public half of the RSA key made when the provider starts;
* ``GET /authorize?…`` — the sign-in page: pick a test user or type an email and a name ("Sign in" sends the
  browser back to ``redirect_uri`` with ``code`` and ``state``; "Cancel" with ``error=access_denied``). The client
  must be ``client_id``, the ``redirect_uri`` a ``…/api/auth/sso/oidc/callback``, PKCE S256 is required;
* ``POST /token`` — the code (single use, ``CODE_SECONDS``), for the client it was issued to (``client_secret_basic``
  or ``client_secret_post`` with ``client_secret``), the same ``redirect_uri``, the PKCE verifier; answers an
  ``id_token`` (RS256, ``kid``) with ``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``nonce``, ``email``,
  ``email_verified``, ``name``, and an access token;
* ``GET /userinfo`` — the user of that access token;
* ``GET /users`` — the test users and the removed ones; ``DELETE /users/<email>`` removes a user at the provider:
  their next sign-in here is refused (``error=access_denied``), as a company's provider refuses someone who left;
  ``PUT /users/<email>`` (``{"name", "email_verified"}``) adds or restores one.

The one local client: ``CLIENT_ID`` / ``CLIENT_SECRET`` (printed in ``make run``'s banner; give them in the SSO
settings with the issuer). Tests may change the next id_token (``tamper``) to play a provider that lies, or make
the next requests fail (``fail``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "protu-local"
CLIENT_SECRET = "protu-local-oidc-secret"  # noqa: S105 - the local stand-in's documented test client, never real
CALLBACK_PATH = "/api/auth/sso/oidc/callback"
CODE_SECONDS = 60
TOKEN_SECONDS = 300
USERS = (
    ("ana.owner@acme.example", "Ana Owner"),
    ("ben.admin@acme.example", "Ben Admin"),
    ("cleo.staff@acme.example", "Cleo Staff"),
)
HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def _signing_key() -> Any:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)


@dataclass
class OidcProvider:
    """The provider's state for one run: its key, users, codes and tokens, in memory."""

    issuer: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    auth_methods: list[str] = field(default_factory=lambda: ["client_secret_basic", "client_secret_post"])
    users: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {email: {"name": name, "email_verified": True} for email, name in USERS}
    )
    removed: set[str] = field(default_factory=set)
    key: Any = field(default_factory=_signing_key)
    # the next id_token, changed: ``tamper(header, claims) -> str`` (a test playing a provider that lies)
    tamper: Callable[[dict, dict], str] | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) received, oldest first
    token_requests: list[dict[str, Any]] = field(default_factory=list)  # {"auth": "basic"|"post", "form": {...}}
    _failures: list = field(default_factory=list)
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------------------------------- the API
    def fail(self, *answers: Any) -> None:
        """The next requests fail in order: a status (``503``) or an exception to raise (a timeout)."""
        self._failures.extend(answers)

    def answer(self, method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The provider's answer to one request at ``path`` under the issuer (its query string included)."""
        path, _, query = path.partition("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        form = dict(parse_qsl(body or "", keep_blank_values=True))
        headers = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append((method, path))
            if self._failures:
                failure = self._failures.pop(0)
                if isinstance(failure, BaseException):
                    raise failure
                return _json(failure, {"error": "temporarily_unavailable"})
            if method == "GET" and path == "/.well-known/openid-configuration":
                return _json(200, self.discovery())
            if method == "GET" and path == "/jwks":
                return _json(200, {"keys": [self.key.as_dict(private=False)]})
            if method == "GET" and path == "/authorize":
                return self._authorize_page(params)
            if method == "POST" and path == "/authorize":
                return self._authorize(form)
            if method == "POST" and path == "/token":
                return self._token(form, headers)
            if method == "GET" and path == "/userinfo":
                return self._userinfo(headers)
            if method == "GET" and path == "/users":
                return _json(200, {"users": self.users, "removed": sorted(self.removed)})
            if path.startswith("/users/") and method in ("PUT", "DELETE"):
                return self._user(method, unquote(path.removeprefix("/users/")).strip().lower(), body)
            return _json(404, {"error": "not_found"})

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "amr"],
        }

    def sign_in(
        self, authorization_url: str, email: str, *, name: str | None = None, verified: bool = True, mfa: bool = True
    ) -> str:
        """Play the browser on the sign-in page: ``email`` signs in (a test user, or anyone typed in the form), with
        a second factor (``amr`` ``["pwd", "otp"]``) or without (``["pwd"]``). Answers where the provider sends the
        browser (the ``Location``: ``redirect_uri?code=…&state=…``)."""
        status, headers, _ = self.answer("GET", "/authorize?" + urlsplit(authorization_url).query, "", {})
        if status != 200:
            raise AssertionError(f"the provider refused the authorization request ({status})")
        form = dict(parse_qsl(urlsplit(authorization_url).query)) | {"action": "sign_in", "email": email}
        form |= {"name": name or "", "email_verified": "on" if verified else "", "mfa": "on" if mfa else ""}
        return self.answer("POST", "/authorize", urlencode(form), {})[1]["Location"]

    def cancel(self, authorization_url: str) -> str:
        """Play the browser pressing "Cancel": answers the ``Location``."""
        form = dict(parse_qsl(urlsplit(authorization_url).query)) | {"action": "cancel"}
        return self.answer("POST", "/authorize", urlencode(form), {})[1]["Location"]

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None, key: Any = None) -> str:
        """An id_token as this provider signs them (RS256 with its key), or with ``key``."""
        key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)

    # ----------------------------------------------------------------------------------------- the pages
    def _client_error(self, params: dict[str, str]) -> str | None:
        """Why the authorization request cannot even go back to the client (shown on the page, never redirected)."""
        if params.get("client_id") != self.client_id:
            return f"Unknown client {params.get('client_id')!r}: the local client is {self.client_id!r}."
        if urlsplit(params.get("redirect_uri", "")).path != CALLBACK_PATH:
            return f"The redirect_uri must end with {CALLBACK_PATH}."
        return None

    def _request_error(self, params: dict[str, str]) -> str | None:
        """Why the authorization request is refused back to the client."""
        if params.get("response_type") != "code":
            return "unsupported_response_type"
        if "openid" not in params.get("scope", "").split():
            return "invalid_scope"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "invalid_request"
        return None

    def _authorize_page(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        problem = self._client_error(params)
        if problem:
            return 400, HTML, _page("Sign-in request refused", f"<p>{escape(problem)}</p>")
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in params.items()
            if k
            in (
                "client_id",
                "redirect_uri",
                "response_type",
                "scope",
                "state",
                "nonce",
                "code_challenge",
                "code_challenge_method",
            )
        )
        people = "".join(
            f'<li><form method="post">{hidden}<input type="hidden" name="action" value="sign_in">'
            f'<input type="hidden" name="email" value="{escape(email)}">'
            f'<input type="hidden" name="name" value="{escape(user["name"])}">'
            f'<input type="hidden" name="email_verified" value="{"on" if user["email_verified"] else ""}">'
            '<input type="hidden" name="mfa" value="on">'
            f'<button type="submit" data-testid="idp-user-{escape(email)}">Sign in as {escape(user["name"])} '
            f"({escape(email)})</button></form></li>"
            for email, user in self.users.items()
        )
        free = (
            f'<form method="post">{hidden}<input type="hidden" name="action" value="sign_in">'
            '<p><label for="email">Email</label><br><input id="email" name="email" type="email" required '
            'autocomplete="off"></p><p><label for="name">Name</label><br><input id="name" name="name" '
            'autocomplete="off"></p><p><input id="email_verified" name="email_verified" type="checkbox" checked> '
            '<label for="email_verified">The provider has verified this email</label></p>'
            '<p><input id="mfa" name="mfa" type="checkbox" checked> '
            '<label for="mfa">Signed in with a second factor</label></p>'
            '<p><button type="submit" data-testid="idp-sign-in">Sign in</button></p></form>'
            f'<form method="post">{hidden}<input type="hidden" name="action" value="cancel">'
            '<button type="submit" data-testid="idp-cancel">Cancel</button></form>'
        )
        content = (
            "<p>This is the local stand-in for a company's identity provider. Pick a test user, or sign in as "
            f"anyone.</p><h2>Test users</h2><ul>{people}</ul><h2>Someone else</h2>{free}"
        )
        return 200, HTML, _page("Sign in to Acme (local OIDC provider)", content)

    def _authorize(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        problem = self._client_error(form)
        if problem:
            return 400, HTML, _page("Sign-in request refused", f"<p>{escape(problem)}</p>")
        back = {"state": form["state"]} if form.get("state") else {}
        error = self._request_error(form)
        email = form.get("email", "").strip().lower()
        if error is None and form.get("action") != "sign_in":
            error = "access_denied"
        if error is None and (email in self.removed or "@" not in email):
            error = "access_denied"  # a user removed at the provider cannot sign in any more
        if error:
            return _redirect(form["redirect_uri"], {"error": error, **back})
        user = self.users.get(email, {})
        code = secrets.token_urlsafe(24)
        self._codes[code] = {
            "client_id": form["client_id"],
            "redirect_uri": form["redirect_uri"],
            "code_challenge": form["code_challenge"],
            "nonce": form.get("nonce"),
            "email": email,
            "name": form.get("name", "").strip() or user.get("name") or email.split("@")[0],
            "email_verified": form.get("email_verified") == "on",
            "amr": ["pwd", "otp"] if form.get("mfa") == "on" else ["pwd"],
            "until": time.time() + CODE_SECONDS,
        }
        return _redirect(form["redirect_uri"], {"code": code, **back})

    # ----------------------------------------------------------------------------------- server to server
    def _token(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        client_id, secret, how = _client(form, headers)
        self.token_requests.append({"auth": how, "form": {k: v for k, v in form.items() if k != "client_secret"}})
        if client_id != self.client_id or secret != self.client_secret or how not in _methods(self.auth_methods):
            return _json(401, {"error": "invalid_client"})
        grant = self._codes.pop(form.get("code", ""), None)  # single use: a second try finds nothing
        if form.get("grant_type") != "authorization_code":
            return _json(400, {"error": "unsupported_grant_type"})
        if (
            grant is None
            or grant["until"] < time.time()
            or grant["client_id"] != client_id
            or grant["redirect_uri"] != form.get("redirect_uri")
            or _s256(form.get("code_verifier", "")) != grant["code_challenge"]
        ):
            return _json(400, {"error": "invalid_grant"})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.subject(grant["email"]),
            "aud": client_id,
            "exp": now + TOKEN_SECONDS,
            "iat": now,
            "auth_time": now,
            "email": grant["email"],
            "email_verified": grant["email_verified"],
            "name": grant["name"],
            "amr": grant["amr"],
        }
        if grant["nonce"]:
            claims["nonce"] = grant["nonce"]
        header = {"alg": "RS256", "kid": self.key.kid}
        id_token = self.tamper(header, claims) if self.tamper else self.sign(claims)
        self.tamper = None
        access_token = secrets.token_urlsafe(24)
        self._tokens[access_token] = {"claims": claims, "until": now + TOKEN_SECONDS}
        return _json(
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "scope": "openid email profile",
                "id_token": id_token,
            },
        )

    def subject(self, email: str) -> str:
        """The provider's stable id of a person (``sub``)."""
        return hashlib.sha256(f"{self.issuer}|{email}".encode()).hexdigest()[:24]

    def _userinfo(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        token = self._tokens.get(headers.get("authorization", "").removeprefix("Bearer "))
        if token is None or token["until"] < time.time():
            return _json(401, {"error": "invalid_token"})
        claims = token["claims"]
        return _json(200, {k: claims[k] for k in ("sub", "email", "email_verified", "name")})

    def _user(self, method: str, email: str, body: str) -> tuple[int, dict[str, str], bytes]:
        if method == "DELETE":
            self.users.pop(email, None)
            self.removed.add(email)
            return 204, {}, b""
        try:
            fields = json.loads(body or "{}")
        except ValueError:
            return _json(400, {"error": "invalid_json"})
        self.removed.discard(email)
        self.users[email] = {
            "name": str(fields.get("name") or email.split("@")[0]),
            "email_verified": fields.get("email_verified", True) is True,
        }
        return _json(200, {"email": email, **self.users[email]})


def _methods(auth_methods: list[str]) -> set[str]:
    return {m.removeprefix("client_secret_") for m in auth_methods}


def _client(form: dict[str, str], headers: dict[str, str]) -> tuple[str | None, str | None, str]:
    """The client's id and secret as it authenticated: HTTP Basic, or in the form."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            return None, None, "basic"
        return client_id, secret, "basic"
    return form.get("client_id"), form.get("client_secret"), "post"


def _s256(verifier: str) -> str:
    return create_s256_code_challenge(verifier)


def _json(status: int, value: Any) -> tuple[int, dict[str, str], bytes]:
    return status, dict(JSON), json.dumps(value).encode()


def _redirect(target: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    separator = "&" if urlsplit(target).query else "?"
    return 303, {"Location": target + separator + urlencode(params), "Cache-Control": "no-store"}, b""


def _page(title: str, content: str) -> bytes:
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{escape(title)}</title><body style='font-family:sans-serif;max-width:40rem;margin:3rem auto;"
        f"padding:0 1rem'><main><h1>{escape(title)}</h1>{content}</main></body></html>"
    ).encode()
