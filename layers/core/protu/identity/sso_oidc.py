"""Company single sign-on over OpenID Connect: the authorization code flow with PKCE, state and nonce, over authlib.

What the provider is, how we talk to it, and what we trust of its answer:

* **Discovery** (``discover(issuer)``): ``GET {issuer}/.well-known/openid-configuration`` (the issuer without its
  trailing slash, then the path), validated as authlib's ``OpenIDProviderMetadata``; its ``issuer`` must equal the
  configured one exactly; the token endpoint must accept ``client_secret_basic`` or ``client_secret_post``. Kept in
  memory per issuer for ``DISCOVERY_SECONDS``; the provider's keys (``jwks_uri``) likewise, read again when a token
  names a key we do not hold (the provider rotated its keys). A refusal is 422: ``sso_issuer_invalid`` (not an
  allowed address, a document that does not hold) or ``sso_issuer_unreachable`` (no answer, not 200, not JSON).
* **Where we connect** (the owner gives the issuer, the provider's document the other addresses, so "how could a
  stranger aim this at our network?"): every address we fetch (issuer, token endpoint, keys) and the authorization
  endpoint are held to the audit streams' rules (``ops/audit_streams/urls.check``): ``https://``, a public DNS name
  or a global IP literal (no loopback, private, link-local such as ``169.254.169.254``, reserved), no user name, no
  fragment; each connection then goes only to global addresses, checked as it opens (``transport``'s guarded
  adapter: a name that resolves inside, or rebinds, reaches nothing). No redirects followed, no proxy or ``.netrc``
  from the environment, ``TIMEOUT`` to connect and to read, documents of at most ``MAX_DOCUMENT`` bytes. Locally
  (stage ``local``, ``APP_ORIGIN`` plain HTTP on 127.0.0.1 or localhost) the local server's stand-ins
  ``{APP_ORIGIN}/_local/idp/...`` (``infra/idp_oidc.py``) are allowed too.
* **Begin** (``begin``): the authorization URL: ``response_type=code``, ``scope=openid email profile``, ``state``,
  ``nonce``, ``code_challenge`` (S256 of the caller's ``code_verifier``).
* **Finish** (``finish``): the code is exchanged at the token endpoint (client authentication as the document
  offers: ``client_secret_basic`` first, else ``client_secret_post``), with the ``redirect_uri`` and the PKCE
  verifier. The ``id_token`` is verified with the provider's keys (joserfc, authlib's ``CodeIDToken`` claims):
  signature by RS256 or ES256 only (never ``none``, never an HMAC keyed by a public key), ``iss`` the issuer,
  ``aud`` the client id (``azp`` the client id when present, and required with several audiences), ``exp`` and
  ``iat`` within ``LEEWAY`` seconds, ``nonce`` the one of ``begin``, ``sub`` present; then ``email`` with
  ``email_verified`` true. Whether the provider used a second factor is read from ``amr`` (``multi_factor``).

Every refusal while signing in is ``errors.Unauthorized`` with a stable code: ``sso_provider_error`` (the provider
could not be discovered or reached, or its token endpoint refused the code: a used or expired code, a wrong secret),
``sso_token_invalid`` (no id_token, a bad signature or algorithm, a wrong issuer or audience, expired, no subject or
no usable email), ``sso_nonce_mismatch``, ``sso_email_unverified``. Nothing here logs a token, a code or a secret.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from protu import caches, errors, schemas
from protu.identity.sso_protocol import OidcConnection, SsoIdentity
from protu.logging import get_logger
from protu.ops.audit_streams import transport, urls
from protu.settings import settings

log = get_logger(__name__)

SCOPE = "openid email profile"
ALGORITHMS = ("RS256", "ES256")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")  # in our order of preference
TIMEOUT = (3.05, 5.0)  # seconds to connect, to read
LEEWAY = 60  # seconds of clock skew allowed on exp and iat
DISCOVERY_SECONDS = 300
MAX_DOCUMENT = 256 * 1024
LOCAL_PATH = "/_local/idp/"
_LOCAL_ORIGIN = re.compile(r"http://(?:127\.0\.0\.1|localhost):[0-9]{1,5}")

_lock = threading.Lock()
_documents: dict[str, tuple[float, dict[str, Any]]] = {}  # issuer -> (until, discovery document)
_key_sets: dict[str, tuple[float, dict[str, Any]]] = {}  # jwks_uri -> (until, JWK set)


@caches.register
def forget() -> None:
    """Discover the providers and read their keys again on next use."""
    with _lock:
        _documents.clear()
        _key_sets.clear()


# ----------------------------------------------------------------------------------------------- discovery
def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, checked (see the module doc); 422 ``sso_issuer_invalid`` or
    ``sso_issuer_unreachable`` naming the field ``issuer``."""
    if not isinstance(issuer, str):
        raise _issuer_invalid("Give the provider's issuer as an https:// address.")
    with _lock:
        cached = _documents.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    if not _allowed(issuer) or urlsplit(issuer).query:
        raise _issuer_invalid(
            "Give the provider's issuer as an https:// address of a public host, without a query or fragment."
        )
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = _fetch_json(url, lambda why: _issuer_unreachable(f"We could not read {url}: {why}."))
    if document.get("issuer") != issuer:
        raise _issuer_invalid("The provider's discovery document names another issuer than the one given.")
    # cold start: only SSO sign-ins and the owner's settings use authlib
    from authlib.oidc.discovery import OpenIDProviderMetadata

    try:
        OpenIDProviderMetadata(document).validate()
    except (ValueError, TypeError, KeyError) as error:
        raise _issuer_invalid(f"The provider's discovery document is not valid: {error}") from None
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not _allowed(document.get(name)):
            raise _issuer_invalid(f"The provider's {name} is not an https:// address of a public host.")
    if _auth_method(document) is None:
        raise _issuer_invalid("The provider's token endpoint takes neither client_secret_basic nor client_secret_post.")
    with _lock:
        _documents[issuer] = (time.monotonic() + DISCOVERY_SECONDS, document)
    return document


def _issuer_invalid(message: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(message, code="sso_issuer_invalid", details={"field": "issuer"})


def _issuer_unreachable(message: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(message, code="sso_issuer_unreachable", details={"field": "issuer"})


def _auth_method(document: dict[str, Any]) -> str | None:
    offered = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]  # the default
    return next((method for method in AUTH_METHODS if method in offered), None)


# ------------------------------------------------------------------------------------------------ sign-in
def begin(connection: OidcConnection, *, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
    """The provider's authorization URL to send the browser to."""
    document = _provider(connection.issuer)
    # cold start: only SSO sign-ins use authlib
    from authlib.integrations.requests_client import OAuth2Session

    with OAuth2Session(
        connection.client_id, scope=SCOPE, redirect_uri=redirect_uri, code_challenge_method="S256"
    ) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
        )
    return url


def finish(connection: OidcConnection, *, redirect_uri: str, code: str, nonce: str, code_verifier: str) -> SsoIdentity:
    """Exchange the code the provider sent back for its id_token, and answer who it proves (see the module doc)."""
    document = _provider(connection.issuer)
    token = _exchange(connection, document, redirect_uri=redirect_uri, code=code, code_verifier=code_verifier)
    claims = _verified(connection, document, token, nonce)
    if claims.get("email_verified") not in (True, "true") or not isinstance(claims.get("email"), str):
        raise _refused("sso_email_unverified", "Your identity provider did not confirm your email address.")
    try:
        email = schemas.mailable(claims["email"])
    except errors.ValidationFailed:
        raise _refused("sso_token_invalid", "Your identity provider gave an email address we cannot use.") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise _refused("sso_token_invalid", "Your identity provider's answer names nobody.")
    name = claims.get("name")
    name = (name.strip()[:100] or None) if isinstance(name, str) else None
    mfa = multi_factor(claims.get("amr"))
    return SsoIdentity(subject=subject, email=email, name=name, provider=f"oidc {connection.issuer}", mfa=mfa)


# RFC 8176's authentication method references: "mfa" and "mca" say it outright; otherwise something held (a key,
# an app, a phone, a card) together with something known or something one is.
_SAID_MFA = {"mfa", "mca"}
_POSSESSION = {"hwk", "swk", "otp", "sms", "tel", "sc"}
_KNOWLEDGE_OR_INHERENCE = {"pwd", "pin", "kba", "fpt", "face", "iris", "retina", "vbm"}


def multi_factor(amr: Any) -> bool:
    """Whether an id_token's ``amr`` claim shows a sign-in with more than one factor (absent or malformed: no)."""
    if not isinstance(amr, list) or not all(isinstance(method, str) for method in amr):
        return False
    methods = set(amr)
    return bool(methods & _SAID_MFA) or bool(methods & _POSSESSION and methods & _KNOWLEDGE_OR_INHERENCE)


def _provider(issuer: str) -> dict[str, Any]:
    try:
        return discover(issuer)
    except errors.ValidationFailed as error:
        log.warning("sso provider not discovered", extra={"issuer": issuer, "reason": error.code})
        raise _refused("sso_provider_error", "We could not reach your company's identity provider.") from None


def _exchange(
    connection: OidcConnection, document: dict[str, Any], *, redirect_uri: str, code: str, code_verifier: str
) -> dict[str, Any]:
    """The token endpoint's answer to the code (never logged: it holds tokens)."""
    # cold start: only SSO sign-ins use authlib and requests
    import requests
    from authlib.integrations.requests_client import OAuth2Session, OAuthError

    def must_be_ok(response: Any) -> Any:
        if response.status_code != 200:
            raise _ProviderRefused(f"token endpoint answered {response.status_code}")
        return response

    url = document["token_endpoint"]
    with OAuth2Session(
        connection.client_id,
        connection.client_secret,
        token_endpoint_auth_method=_auth_method(document),
        redirect_uri=redirect_uri,
    ) as client:
        _guard(client, url)
        client.register_compliance_hook("access_token_response", must_be_ok)
        try:
            return dict(
                client.fetch_token(
                    url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    timeout=TIMEOUT,
                    allow_redirects=False,
                )
            )
        except (_ProviderRefused, OAuthError, requests.RequestException, urls.AddressNotAllowed, ValueError) as error:
            reason = str(error) if isinstance(error, _ProviderRefused) else type(error).__name__
            log.warning("sso token endpoint refused", extra={"issuer": connection.issuer, "reason": reason})
            raise _refused("sso_provider_error", "Your identity provider refused the sign-in. Try again.") from None


class _ProviderRefused(Exception):
    pass


def _verified(connection: OidcConnection, document: dict[str, Any], token: dict[str, Any], nonce: str) -> dict:
    """The id_token's claims, once its signature and claims hold."""
    # cold start: only SSO sign-ins use authlib and joserfc
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
    from joserfc.jwk import KeySet
    from joserfc.jws import JWSRegistry

    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise _refused("sso_token_invalid", "Your identity provider's answer holds no id_token.")
    registry = JWSRegistry(algorithms=list(ALGORITHMS), strict_check_header=False)
    try:
        try:
            decoded = jwt.decode(id_token, KeySet.import_key_set(_keys(document["jwks_uri"])), registry=registry)
        except InvalidKeyIdError:  # a key we do not hold yet: the provider may have rotated its keys
            keys = _keys(document["jwks_uri"], fresh=True)
            decoded = jwt.decode(id_token, KeySet.import_key_set(keys), registry=registry)
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options={
                "iss": {"essential": True, "value": connection.issuer},
                "aud": {"essential": True, "value": connection.client_id},
            },
            params={"nonce": nonce, "client_id": connection.client_id, "access_token": token.get("access_token")},
        )
        claims.validate(leeway=LEEWAY)
    except ClaimError as error:
        reason = f"claim {error.claim}"
        if error.claim == "nonce":
            log.warning("sso id_token refused", extra={"issuer": connection.issuer, "reason": reason})
            raise _refused("sso_nonce_mismatch", "This sign-in was not the one we started. Start again.") from None
        log.warning("sso id_token refused", extra={"issuer": connection.issuer, "reason": reason})
        raise _refused("sso_token_invalid", "Your identity provider's answer could not be verified.") from None
    except (JoseError, ValueError, TypeError, KeyError) as error:
        log.warning("sso id_token refused", extra={"issuer": connection.issuer, "reason": type(error).__name__})
        raise _refused("sso_token_invalid", "Your identity provider's answer could not be verified.") from None
    return dict(claims)


def _keys(jwks_uri: str, *, fresh: bool = False) -> dict[str, Any]:
    """The provider's JWK set, kept ``DISCOVERY_SECONDS``."""
    with _lock:
        cached = _key_sets.get(jwks_uri)
    if cached and cached[0] > time.monotonic() and not fresh:
        return cached[1]
    key_set = _fetch_json(
        jwks_uri, lambda why: _refused("sso_provider_error", "We could not read your identity provider's keys.")
    )
    if not isinstance(key_set.get("keys"), list):
        raise _refused("sso_provider_error", "We could not read your identity provider's keys.")
    with _lock:
        _key_sets[jwks_uri] = (time.monotonic() + DISCOVERY_SECONDS, key_set)
    return key_set


def _refused(code: str, message: str) -> errors.Unauthorized:
    return errors.Unauthorized(message, code=code)


# --------------------------------------------------------------------------------------------- addresses
_WHY = {  # transport.FetchFailed's reasons, as the owner reads them
    "status": "it answered {status}",
    "too_large": "its answer is too large",
    "address_not_allowed": "its host resolves to an address that is not public",
    "timeout": "it did not answer in time",
    "unreachable": "it could not be reached",
}


def _allowed(url: Any) -> bool:
    """Whether we may fetch ``url`` (or send a browser to it): see "Where we connect" in the module doc."""
    if not isinstance(url, str):
        return False
    if _local(url):
        return True
    try:
        return not urls.check(url).local
    except errors.ValidationFailed:
        return False


def _local(url: str) -> bool:
    """The local server's identity provider stand-ins, when running locally (never in the cloud)."""
    current = settings()
    origin = current.app_origin
    return (
        current.is_local
        and bool(_LOCAL_ORIGIN.fullmatch(origin))
        and url.startswith(origin + LOCAL_PATH)
        and not any(part in url for part in ("#", "@", "..", "\\"))
    )


def _guard(session: Any, url: str) -> None:
    """The audit streams' guarded session (``transport.guard``): the local stand-in aside."""
    transport.guard(session, local=_local(url))


def _fetch_json(url: str, failure: Any) -> dict[str, Any]:
    """GET ``url``'s JSON object (at most ``MAX_DOCUMENT`` bytes); ``failure(why)`` is raised otherwise."""
    try:
        content = transport.fetch(
            url, max_bytes=MAX_DOCUMENT, timeout=TIMEOUT, local=_local(url), headers={"Accept": "application/json"}
        )
    except transport.FetchFailed as error:
        raise failure(_WHY[error.reason].format(status=error.status)) from None
    try:
        document = json.loads(content)
    except ValueError:
        raise failure("its answer is not JSON") from None
    if not isinstance(document, dict):
        raise failure("its answer is not a JSON object")
    return document
