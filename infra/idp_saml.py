"""A small SAML identity provider: the outside world of a company's SAML single sign-on, simulated.

``make run`` serves it under ``/_local/idp/saml/`` (``infra/server.py`` dispatches to ``answer``); tests make one
and call it directly, or answer the backend's calls to it through ``responses``. At start it makes an RSA signing key
and a self-signed certificate (``cryptography``); it signs with ``minisignxml``, as minisaml expects.

* ``GET  /metadata``  its SAML metadata (entityID ``<base>/metadata``, HTTP-Redirect SSO at ``<base>/sso``, the
  signing certificate): what an owner gives Protu as the metadata URL or XML.
* ``GET  /sso?SAMLRequest=...&RelayState=...``  the HTTP-Redirect AuthnRequest: a page to pick a test user (a few
  prefilled, or any email and name), each with a "Remove" button.
* ``POST /sso``  the pick: a page that posts a signed ``SAMLResponse`` and the ``RelayState`` to the request's ACS
  URL (a form with a button, submitted at once by a small script). A removed user is refused here, as a provider
  refuses someone it no longer knows: their next sign-in fails at the provider.
* ``POST /users/remove`` (``email``: the page's button) or ``DELETE /users/<email>`` removes a test user;
  ``PUT /users/<email>`` (``{"name"}``) adds or restores one; ``GET /users`` lists them and the removed ones (as
  ``infra/idp_oidc.py`` does).

``response(...)`` makes a signed response for tests, with the parts a test may want wrong (audience, recipient,
times, the request it answers, what is signed).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import threading
import warnings
import zlib
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from lxml.builder import ElementMaker

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # minisignxml imports defusedxml.lxml, which warns
    from minisignxml.sign import sign

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
saml = ElementMaker(namespace=SAML, nsmap={"saml": SAML})
samlp = ElementMaker(namespace=SAMLP, nsmap={"samlp": SAMLP, "saml": SAML})
md = ElementMaker(namespace=MD, nsmap={"md": MD, "ds": DS})
ds = ElementMaker(namespace=DS, nsmap={"ds": DS})
PAGE_STYLE = "font-family:sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem"
AUTO_POST = "document.forms[0].submit();"


@dataclass(frozen=True)
class AuthnRequest:
    """What a service provider asked for: its request id, where to answer, who it is."""

    id: str
    acs_url: str
    issuer: str


def _instant(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_key_and_certificate(common_name: str = "Local SAML IdP") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh RSA key and a self-signed certificate for it, valid for a year."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def parse_request(query: str) -> tuple[AuthnRequest, str | None]:
    """The AuthnRequest of an HTTP-Redirect binding's query (``SAMLRequest``: deflated, base64) and its RelayState."""
    fields = dict(parse_qsl(query, keep_blank_values=True))
    raw = zlib.decompress(base64.b64decode(fields["SAMLRequest"]), -15)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(raw, parser)  # noqa: S320 - entities and network off; the stand-in reads our own requests
    if root.tag != f"{{{SAMLP}}}AuthnRequest":
        raise ValueError("not an AuthnRequest")
    issuer = root.find(f"{{{SAML}}}Issuer")
    request = AuthnRequest(
        id=root.get("ID") or "",
        acs_url=root.get("AssertionConsumerServiceURL") or "",
        issuer=(issuer.text if issuer is not None else "") or "",
    )
    return request, fields.get("RelayState")


@dataclass
class SamlIdpStandIn:
    """One identity provider for a run: its key, certificate and test users, in memory."""

    base: str  # where it is served, e.g. "http://127.0.0.1:8000/_local/idp/saml"
    domain: str = "acme.example"  # the prefilled test users' email domain (those of infra/idp_oidc.py)
    users: dict[str, str] = field(default_factory=dict)  # email -> name
    removed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        self.key, self.certificate = make_key_and_certificate()
        if not self.users:
            for local, name in (("ana.owner", "Ana Owner"), ("ben.admin", "Ben Admin"), ("cleo.staff", "Cleo Staff")):
                self.users[f"{local}@{self.domain}"] = name

    @property
    def entity_id(self) -> str:
        return f"{self.base}/metadata"

    @property
    def sso_url(self) -> str:
        return f"{self.base}/sso"

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    # -------------------------------------------------------------------------------------------- users
    def add_user(self, email: str, name: str = "") -> None:
        email = email.strip().lower()
        with self._lock:
            self.users[email] = name.strip() or self.users.get(email, "")
            self.removed.discard(email)

    def remove_user(self, email: str) -> None:
        """The person leaves the company: the provider no longer signs them in."""
        email = email.strip().lower()
        with self._lock:
            self.users.pop(email, None)
            self.removed.add(email)

    # -------------------------------------------------------------------------------------------- documents
    def metadata(self) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        document = md.EntityDescriptor(
            md.IDPSSODescriptor(
                md.KeyDescriptor(
                    ds.KeyInfo(ds.X509Data(ds.X509Certificate(base64.b64encode(der).decode()))), use="signing"
                ),
                md.NameIDFormat(EMAIL_FORMAT),
                md.SingleSignOnService(Binding=REDIRECT_BINDING, Location=self.sso_url),
                WantAuthnRequestsSigned="false",
                protocolSupportEnumeration=SAMLP,
            ),
            entityID=self.entity_id,
        )
        return etree.tostring(document, xml_declaration=True, encoding="UTF-8").decode()

    def response(
        self,
        request: AuthnRequest,
        *,
        email: str,
        name: str | None = None,
        now: datetime.datetime | None = None,
        lifetime: datetime.timedelta = datetime.timedelta(minutes=5),
        audience: str | None = None,
        recipient: str | None = None,
        in_response_to: str | None = None,
        issuer: str | None = None,
        signed: str | None = "assertion",  # "assertion", "response", "both" or None (unsigned)
        name_id: tuple[str, str] | None = None,  # (value, format) instead of the email address
        attributes: dict[str, str] | None = None,  # instead of email, displayName, givenName and sn
        key: rsa.RSAPrivateKey | None = None,
        certificate: x509.Certificate | None = None,
        mfa: bool = False,  # the AuthnContext says a second factor was used (REFEDS MFA) or only a password
    ) -> str:
        """A ``SAMLResponse`` (base64) answering ``request`` for ``email``, as the provider posts it. The keyword
        arguments make it wrong on purpose: another audience, recipient or request, another time, unsigned, signed
        with another key (``key``; ``certificate`` is the one put in the signature, this provider's by default); or
        shape it as other providers do (``name_id``, ``attributes``)."""
        now = now or datetime.datetime.now(datetime.UTC)
        until = _instant(now + lifetime)
        issuer = issuer or self.entity_id
        recipient = recipient or request.acs_url
        in_response_to = in_response_to or request.id
        if attributes is None:
            given, _, family = (name or "").partition(" ")
            attributes = {"email": email} | ({"displayName": name, "givenName": given, "sn": family} if name else {})
        statements = [saml.Attribute(saml.AttributeValue(v), Name=k) for k, v in attributes.items()]
        subject_id, subject_format = name_id or (email, EMAIL_FORMAT)
        assertion = saml.Assertion(
            saml.Issuer(issuer),
            saml.Subject(
                saml.NameID(subject_id, Format=subject_format),
                saml.SubjectConfirmation(
                    saml.SubjectConfirmationData(InResponseTo=in_response_to, NotOnOrAfter=until, Recipient=recipient),
                    Method="urn:oasis:names:tc:SAML:2.0:cm:bearer",
                ),
            ),
            saml.Conditions(
                saml.AudienceRestriction(saml.Audience(audience or request.issuer)),
                NotBefore=_instant(now - datetime.timedelta(seconds=30)),
                NotOnOrAfter=until,
            ),
            saml.AuthnStatement(
                saml.AuthnContext(
                    saml.AuthnContextClassRef(
                        "https://refeds.org/profile/mfa"
                        if mfa
                        else "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
                    )
                ),
                AuthnInstant=_instant(now),
                SessionIndex="_" + secrets.token_hex(8),
            ),
            saml.AttributeStatement(*statements),
            ID="_" + secrets.token_hex(16),
            Version="2.0",
            IssueInstant=_instant(now),
        )
        response = samlp.Response(
            saml.Issuer(issuer),
            samlp.Status(samlp.StatusCode(Value="urn:oasis:names:tc:SAML:2.0:status:Success")),
            assertion,
            ID="_" + secrets.token_hex(16),
            Version="2.0",
            IssueInstant=_instant(now),
            Destination=recipient,
            InResponseTo=in_response_to,
        )
        signer = {"private_key": key or self.key, "certificate": certificate or self.certificate}
        if signed is None:
            document = etree.tostring(response)
        elif signed == "both":  # the assertion, then the whole response around it (ADFS and Entra can)
            inner = etree.fromstring(sign(element=assertion, index=1, **signer))
            document = sign(element=inner, index=1, **signer)
        else:
            element = assertion if signed == "assertion" else response
            document = sign(element=element, index=1, **signer)  # the Signature right after the Issuer
        return base64.b64encode(document).decode()

    # -------------------------------------------------------------------------------------------- HTTP
    def answer(self, method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The provider's answer to one request under its base path (``/metadata``, ``/sso?...``): (status,
        headers, body)."""
        where, _, query = path.partition("?")
        form = dict(parse_qsl(body or "", keep_blank_values=True))
        if method in ("GET", "HEAD") and where == "/metadata":
            return 200, {"Content-Type": "application/samlmetadata+xml"}, self.metadata().encode()
        if where == "/sso" and method in ("GET", "POST"):
            saml_query = query if method == "GET" else form.get("request", "")
            try:
                request, relay_state = parse_request(saml_query)
            except (KeyError, ValueError, zlib.error, etree.LxmlError):
                return _page(400, "Sign-in request not understood", "<p>This is not a SAML AuthnRequest.</p>")
            if method == "GET":
                return self._pick_page(request, saml_query)
            return self._post_page(request, relay_state, form, saml_query)
        if method == "POST" and where == "/users/remove":
            self.remove_user(form.get("email", ""))
            return _back(form.get("request", ""), self.sso_url)
        if method == "GET" and where == "/users":
            with self._lock:
                listed = {"users": dict(self.users), "removed": sorted(self.removed)}
            return 200, {"Content-Type": "application/json"}, json.dumps(listed).encode()
        if method in ("PUT", "DELETE") and where.startswith("/users/") and "@" in where:
            email = where.removeprefix("/users/")
            if method == "DELETE":
                self.remove_user(email)
                return 204, {}, b""
            try:
                self.add_user(email, str(json.loads(body or "{}").get("name") or ""))
            except (ValueError, AttributeError):
                return 400, {"Content-Type": "application/json"}, b'{"error": "invalid_json"}'
            return 200, {"Content-Type": "application/json"}, json.dumps({"email": email.lower()}).encode()
        return _page(404, "Not found", "<p>The local SAML identity provider has no such page.</p>")

    def _pick_page(self, request: AuthnRequest, saml_query: str) -> tuple[int, dict[str, str], bytes]:
        hidden = f'<input type="hidden" name="request" value="{escape(saml_query)}">'
        with self._lock:
            users = sorted(self.users.items())
        rows = "".join(
            f'<li><form method="post" style="display:inline">{hidden}'
            f'<input type="hidden" name="email" value="{escape(email)}"><input type="hidden" name="mfa" value="on">'
            f'<button type="submit" data-testid="idp-user-{escape(email)}">Sign in as {escape(name or email)} '
            f"({escape(email)})</button></form> "
            f'<form method="post" action="{escape(self.base)}/users/remove" style="display:inline">{hidden}'
            f'<input type="hidden" name="email" value="{escape(email)}">'
            f'<button type="submit" data-testid="idp-remove-{escape(email)}">Remove {escape(email)}</button>'
            "</form></li>"
            for email, name in users
        )
        other = (
            f'<h2>Someone else</h2><form method="post">{hidden}'
            '<p><label>Email <input type="email" name="email" required autocomplete="off"></label></p>'
            '<p><label>Name <input type="text" name="name" autocomplete="off"></label></p>'
            '<p><label><input type="checkbox" name="mfa" checked> Signed in with a second factor</label></p>'
            '<p><button type="submit" data-testid="idp-sign-in">Sign in</button></p></form>'
        )
        body = f"<p>Protu ({escape(request.issuer)}) asks who you are. Pick a test user.</p><ul>{rows}</ul>{other}"
        return _page(200, "Sign in (local SAML identity provider)", body)

    def _post_page(
        self, request: AuthnRequest, relay_state: str | None, form: dict[str, str], saml_query: str
    ) -> tuple[int, dict[str, str], bytes]:
        email = form.get("email", "").strip().lower()
        name = form.get("name", "").strip()
        with self._lock:
            known, removed = email in self.users, email in self.removed
        if not email or "@" not in email or removed:
            why = "This user was removed at the identity provider." if removed else "Give an email address."
            return _page(403, "Sign-in refused", f'<p role="alert">{escape(why)}</p>')
        if not known or name:
            self.add_user(email, name)
        with self._lock:
            name = self.users.get(email, "")
        target = urlsplit(request.acs_url)
        if target.scheme not in ("http", "https") or not target.netloc:
            return _page(400, "Sign-in request not understood", "<p>The request names no place to answer.</p>")
        signed = self.response(request, email=email, name=name or None, mfa=form.get("mfa") == "on")
        relay = f'<input type="hidden" name="RelayState" value="{escape(relay_state)}">' if relay_state else ""
        body = (
            f'<form method="post" action="{escape(request.acs_url)}">'
            f'<input type="hidden" name="SAMLResponse" value="{signed}">{relay}'
            f"<p>Signed in as {escape(email)}.</p>"
            '<p><button type="submit" data-testid="idp-continue">Continue to Protu</button></p></form>'
            f"<script>{AUTO_POST}</script>"
        )
        origin = f"{target.scheme}://{target.netloc}"
        return _page(200, "Signing you in (local SAML identity provider)", body, form_action=origin)


def _back(saml_query: str, sso_url: str) -> tuple[int, dict[str, str], bytes]:
    """After changing the users, back to the pick page of the same request."""
    location = f"{sso_url}?{saml_query}" if saml_query else sso_url
    return 303, {"Location": location, "Cache-Control": "no-store"}, b""


def _page(status: int, title: str, body: str, *, form_action: str = "'self'") -> tuple[int, dict[str, str], bytes]:
    script = base64.b64encode(hashlib.sha256(AUTO_POST.encode()).digest()).decode()
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script}'; "
            f"form-action 'self' {form_action}; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
    }
    page = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<body style='{PAGE_STYLE}'><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return status, headers, page.encode()


def answer_request(standin: SamlIdpStandIn, request: Any) -> tuple[int, dict[str, str], bytes]:
    """``answer`` for a ``responses`` callback (a ``requests.PreparedRequest`` to the stand-in's base)."""
    url = urlsplit(request.url)
    where = url.path.removeprefix(urlsplit(standin.base).path)
    body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
    return standin.answer(request.method, where + (f"?{url.query}" if url.query else ""), body, dict(request.headers))
