"""Company single sign-on: the owner's settings (``/api/settings/sso``: the connection and the verified domains,
permission ``settings``) and the browser's way through the provider (``/api/auth/sso/*``, public). The rules are in
``protu.identity.sso`` and ``protu.identity.domains``.

The callbacks answer the browser, not the SPA's code: a 303 to the SPA, ``/?signed_in=sso`` with the refresh cookie
set, or ``/signin?sso_error=<code>`` (never a JSON error or a 500). The browser-binding cookie ``protu_sso``
(HttpOnly, Secure, ``Path=/api/auth/sso``) is set by ``start`` and checked by the callbacks: a callback link
started in another browser signs nobody in (login CSRF).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

import msgspec
from chalice import Response

from protu import errors
from protu.http.auth import cookie, refresh_cookie
from protu.http.routing import PUBLIC, Call, Refusal, Router
from protu.identity import domains, sso
from protu.logging import get_logger
from protu.schemas import Email, Strict
from protu.settings import settings

log = get_logger(__name__)
router = Router("sso")

DomainName = Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
Text = Annotated[str, msgspec.Meta(max_length=2048)]
UserIds = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=10)]


class ConnectionIn(Strict):
    protocol: Literal["oidc", "saml"]
    issuer: Text | None = None
    client_id: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    client_secret: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None
    metadata_url: Text | None = None
    metadata_xml: Annotated[str, msgspec.Meta(max_length=60000)] | None = None
    enforced: bool = False
    require_provider_mfa: bool = False  # refuse sign-ins the provider does not report as multi-factor
    break_glass_user_ids: UserIds = []


class ConnectionOut(msgspec.Struct):
    configured: bool
    protocol: str | None = None
    issuer: str | None = None
    client_id: str | None = None
    client_secret_set: bool = False  # never the secret itself
    metadata_url: str | None = None
    idp_entity_id: str | None = None
    sso_url: str | None = None
    enforced: bool = False
    require_provider_mfa: bool = False
    break_glass_user_ids: list[str] = []
    updated_at: int | None = None
    redirect_uri: str = ""  # what to register at an OIDC provider
    acs_url: str = ""  # what to register at a SAML provider
    sp_entity_id: str = ""


class DomainIn(Strict):
    domain: DomainName


class DomainOut(msgspec.Struct):
    domain: str
    status: str  # pending | verified
    txt_name: str
    txt_value: str
    created_at: int
    verified_at: int | None = None


class StartIn(Strict):
    email: Email


class StartOut(msgspec.Struct, omit_defaults=True):
    sso: bool
    redirect_url: str | None = None


class CallbackQuery(msgspec.Struct):
    """What a provider sends back (other parameters it adds are ignored)."""

    state: str | None = None
    code: str | None = None
    error: str | None = None
    error_description: str | None = None


class AcsForm(msgspec.Struct):
    """A SAML response posted by the browser (other fields are ignored)."""

    SAMLResponse: str | None = None
    RelayState: str | None = None


def _connection_out(connection) -> ConnectionOut:
    return ConnectionOut(
        **sso.described(connection),
        redirect_uri=sso.oidc_redirect_uri(),
        acs_url=sso.saml_acs_url(),
        sp_entity_id=sso.saml_entity_id(),
    )


def _domain_out(item) -> DomainOut:
    return DomainOut(
        item.domain,
        item.status,
        domains.txt_name(item.domain),
        domains.txt_value(item),
        int(item.created_at),
        int(item.verified_at) if item.verified_at else None,
    )


# ------------------------------------------------------------------------------------------------ owner settings
@router.get("/api/settings/sso", permission="settings")
def read_connection(call: Call) -> ConnectionOut:
    """Your company's single sign-on connection (never its client secret) and the values to register at your
    identity provider."""
    return _connection_out(sso.get_connection(call.principal.tenant_id))


@router.put(
    "/api/settings/sso",
    permission="settings",
    body=ConnectionIn,
    example={
        "protocol": "oidc",
        "issuer": "https://login.example.com",
        "client_id": "protu",
        "client_secret": "s3cret-from-the-provider",
        "enforced": False,
        "break_glass_user_ids": [],
    },
    errors=(
        Refusal(422, "issuer_required", "OIDC needs the issuer.", "issuer"),
        Refusal(422, "client_id_required", "OIDC needs the client id.", "client_id"),
        Refusal(422, "client_secret_required", "OIDC needs the client secret the first time.", "client_secret"),
        Refusal(422, "sso_issuer_unreachable", "The issuer's discovery document could not be fetched.", "issuer"),
        Refusal(422, "sso_issuer_invalid", "The issuer's discovery document is not valid.", "issuer"),
        Refusal(422, "metadata_required", "SAML needs the metadata URL or XML.", "metadata_url"),
        Refusal(422, "saml_metadata_invalid", "The SAML metadata could not be read."),
        Refusal(422, "break_glass_invalid", "A break-glass user is not an owner.", "break_glass_user_ids"),
        Refusal(
            422,
            "break_glass_required",
            "Enforcing needs a break-glass owner with two-factor on.",
            "break_glass_user_ids",
        ),
    ),
)
def save_connection(call: Call) -> ConnectionOut:
    """Set your company's identity provider (OIDC or SAML), whether sign-in must go through it (``enforced``) and
    the owners who may still sign in with a password (``break_glass_user_ids``). A client secret left out keeps the
    one saved."""
    given = msgspec.to_builtins(call.body)
    return _connection_out(sso.save_connection(call.principal, given))


@router.delete(
    "/api/settings/sso",
    permission="settings",
    status=204,
    errors=(Refusal(404, "not_found", "Your company has no single sign-on connection."),),
)
def delete_connection(call: Call) -> None:
    """Remove your company's single sign-on connection: everyone signs in with a password or a link again."""
    sso.delete_connection(call.principal)


@router.get("/api/settings/sso/domains", permission="settings")
def list_domains(call: Call) -> list[DomainOut]:
    """Your company's single sign-on domains, with the TXT record each needs."""
    return [_domain_out(item) for item in domains.listed(call.principal.tenant_id)]


@router.post(
    "/api/settings/sso/domains",
    permission="settings",
    body=DomainIn,
    status=201,
    example={"domain": "acme.example"},
    errors=(
        Refusal(422, "invalid_domain", "Not a domain name (or one label only).", "domain"),
        Refusal(422, "domain_not_allowed", "A public mail service's domain.", "domain"),
        Refusal(409, "domain_already_added", "The domain is in your list already."),
        Refusal(409, "domain_limit_reached", f"At most {domains.MAX_DOMAINS} domains."),
    ),
)
def add_domain(call: Call) -> DomainOut:
    """Add a domain (pending): publish the TXT record it answers, then verify it."""
    return _domain_out(domains.add(call.principal, call.body.domain))


def _domain_param(call: Call) -> str:
    value = call.params.get("domain", "")
    try:
        return domains.normalise(value)
    except errors.ValidationFailed:
        raise errors.NotFound("No such domain in your company.") from None


@router.post(
    "/api/settings/sso/domains/{domain}/verify",
    permission="settings",
    errors=(
        Refusal(409, "domain_txt_not_found", "No TXT record at the name yet (details: what was found)."),
        Refusal(409, "domain_txt_mismatch", "The TXT record does not hold the value (details: what was found)."),
        Refusal(409, "domain_taken", "Another company has verified this domain."),
        Refusal(422, "dns_lookup_failed", "DNS did not answer in time: try again."),
    ),
)
def verify_domain(call: Call) -> DomainOut:
    """Look up the domain's TXT record now and verify the domain when it holds the value."""
    domain = _domain_param(call)
    tenant_id = call.principal.tenant_id
    return _domain_out(domains.verify(call.principal, domain, sso.claim_policy(tenant_id)))


@router.delete("/api/settings/sso/domains/{domain}", permission="settings", status=204)
def remove_domain(call: Call) -> None:
    """Remove a domain: its addresses no longer go to your identity provider, and another company may verify it."""
    domains.remove(call.principal, _domain_param(call))


# ------------------------------------------------------------------------------------------------ the browser's way
def _binding_cookie(value: str, max_age: int, protocol: str = "oidc") -> str:
    # SAML comes back by a cross-site POST, which carries only SameSite=None cookies; OIDC by a top-level GET (Lax).
    same_site = "None" if protocol == "saml" else "Lax"
    return (
        f"{sso.BINDING_COOKIE}={value}; Max-Age={max_age}; Path=/api/auth/sso; HttpOnly; Secure; SameSite={same_site}"
    )


@router.post(
    "/api/auth/sso/start",
    permission=PUBLIC,
    body=StartIn,
    example={"email": "ana@acme.example"},
    errors=(Refusal(429, "too_many_attempts", "Too many sign-ins from this address."),),
)
def start(call: Call) -> StartOut:
    """Where an email signs in: ``{sso: true, redirect_url}`` (its company's identity provider; a browser-binding
    cookie is set) when its domain is verified by a company with single sign-on, else ``{sso: false}``. Says only
    whether the domain uses single sign-on, never whether an account exists."""
    # cold start: loaded on first use
    from protu.security import ratelimit

    if not ratelimit.hit("sso-start-ip", call.source_ip, limit=60, window_seconds=3600).allowed:
        raise errors.RateLimited(code="too_many_attempts")
    started = sso.start(call.body.email)
    if started is None:
        return StartOut(False)
    call.response_headers["Set-Cookie"] = _binding_cookie(started.binding, sso.FLOW_SECONDS, started.protocol)
    return StartOut(True, started.redirect_url)


def _finish(call: Call, work) -> Response:
    """Run a callback's ``work``: signed in -> 303 to the SPA with the refresh cookie; anything else -> 303 to the
    sign-in page naming the stable code. The binding cookie is cleared either way."""
    origin = settings().app_origin
    clear = _binding_cookie("", 0)
    try:
        result = work(cookie(call, sso.BINDING_COOKIE))
    except errors.ProtuError as error:
        log.info("sso sign-in refused", extra={"error_code": error.code})
        return _redirect(f"{origin}/signin?sso_error={quote(error.code)}", [clear])
    except Exception as error:  # noqa: BLE001 - never a 500 page in the middle of a sign-in; the type only
        log.error("sso sign-in failed", extra={"error_type": type(error).__name__})
        return _redirect(f"{origin}/signin?sso_error=sso_failed", [clear])
    remaining = max(0, int(result.session.absolute_expires_at - result.session.last_seen_at))
    return _redirect(f"{origin}/?signed_in=sso", [clear, refresh_cookie(result.refresh_token, remaining)])


def _redirect(location: str, cookies: list[str]) -> Response:
    return Response(body="", status_code=303, headers={"Location": location, "Set-Cookie": cookies})


@router.get("/api/auth/sso/oidc/callback", permission=PUBLIC, query=CallbackQuery, status=303)
def oidc_callback(call: Call) -> None:
    """Where an OIDC provider sends the browser back: signs in and goes on to the SPA (303)."""
    q = call.query

    def work(binding: str | None):
        if q.error:
            raise errors.Unauthorized("The identity provider did not sign you in.", code="sso_provider_refused")
        return sso.finish_oidc(q.state or "", q.code or "", binding, ip=call.source_ip, user_agent=call.user_agent)

    return _finish(call, work)  # type: ignore[return-value]


@router.post(
    "/api/auth/sso/saml/acs",
    permission=PUBLIC,
    body=AcsForm,
    form=True,
    status=303,
    example={"SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4=", "RelayState": "Vx3ka9Qe0lJ2pYHn7cR5sT1uW8zA4bD6fG2hK9mN0pQ"},
)
def saml_acs(call: Call) -> None:
    """Where a SAML provider posts its response (the browser's form post): signs in and goes on to the SPA (303)."""
    b = call.body

    def work(binding: str | None):
        return sso.finish_saml(
            b.RelayState or "", b.SAMLResponse or "", binding, ip=call.source_ip, user_agent=call.user_agent
        )

    return _finish(call, work)  # type: ignore[return-value]


@router.get("/api/auth/sso/saml/metadata", permission=PUBLIC, produces="application/samlmetadata+xml")
def saml_metadata(call: Call) -> None:
    """Protu's SAML service provider metadata (entity id, ACS URL), to give your identity provider."""
    return Response(  # type: ignore[return-value]
        body=sso.saml_sp_metadata(), status_code=200, headers={"Content-Type": "application/samlmetadata+xml"}
    )
