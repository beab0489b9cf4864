"""What company single sign-on's protocols share: the identity provider as a company configured it (``OidcConnection``,
``SamlConnection``, secrets already unsealed) and what a finished sign-in proved (``SsoIdentity``).

``identity/sso.py`` keeps a company's connection and verified domains, routes an email to its provider and turns an
``SsoIdentity`` into a session; the protocols (``identity/sso_oidc.py`` over authlib, ``identity/sso_saml.py`` over
minisaml) only talk to the provider:

- ``sso_oidc.begin(connection, *, redirect_uri, state, nonce, code_verifier) -> str`` (the authorization URL) and
  ``sso_oidc.finish(connection, *, redirect_uri, code, nonce, code_verifier) -> SsoIdentity``;
- ``sso_saml.begin(connection, *, acs_url, sp_entity_id, relay_state) -> tuple[str, str]`` (the redirect URL, the
  request's id) and ``sso_saml.finish(connection, *, acs_url, sp_entity_id, saml_response, request_id)
  -> SsoIdentity``.

Each raises ``errors.Unauthorized`` with a stable ``sso_*`` code when the provider's answer cannot be trusted.
"""

from __future__ import annotations

import msgspec


class OidcConnection(msgspec.Struct, frozen=True):
    issuer: str  # https URL; its /.well-known/openid-configuration is discovered
    client_id: str
    client_secret: str  # unsealed for the call; stored sealed with the company key


class SamlConnection(msgspec.Struct, frozen=True):
    idp_entity_id: str
    sso_url: str  # the provider's HTTP-Redirect SingleSignOnService
    certificates: tuple[str, ...]  # PEM signing certificates from the provider's metadata


class SsoIdentity(msgspec.Struct, frozen=True):
    subject: str  # the provider's stable id of the person (OIDC sub, SAML NameID)
    email: str  # lower-cased
    name: str | None
    provider: str  # for the audit log: "oidc <issuer>" or "saml <entity id>"
    mfa: bool = False  # the provider says this sign-in used more than one factor (OIDC ``amr``, SAML's AuthnContext)
