"""A company's OpenID Connect provider for the tests: ``infra.idp_oidc.OidcProvider`` answering the backend's
server-to-server calls (discovery, keys, token, userinfo) on an ``outside_world`` (``responses``), at an issuer of
its own (``https://idp-<random>.example.test/oidc``, so no test shares a provider's cached document or keys).

The browser's leg is played by the test on the provider itself::

    provider = oidc_provider                      # the fixture (tests/conftest.py), or capture_oidc(outside)
    connection = OidcConnection(provider.issuer, provider.client_id, provider.client_secret)
    url = ...the authorization URL the backend answered (sso_oidc.begin, or POST /api/auth/sso/start)...
    location = provider.sign_in(url, "ana@acme.example")   # -> "<redirect_uri>?code=...&state=..."
    ...then GET the callback with that query (or sso_oidc.finish with its code)...

``provider.cancel(url)`` presses "Cancel"; ``provider.fail(503)`` fails the next request;
``DELETE .../users/<email>`` (``provider.answer("DELETE", "/users/<email>", "", {})``) removes a user at the
provider; ``provider.tamper = lambda header, claims: ...`` changes the next id_token.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from infra.idp_oidc import OidcProvider


def capture_oidc(outside, issuer: str | None = None) -> OidcProvider:
    """An ``OidcProvider`` answering every request under its issuer on ``outside`` (an ``outside_world``)."""
    import responses

    provider = OidcProvider(issuer=issuer or f"https://idp-{secrets.token_hex(4)}.example.test/oidc")
    base = urlsplit(provider.issuer).path.rstrip("/")

    def answer(request):
        url = urlsplit(request.url)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        where = url.path.removeprefix(base) + (f"?{url.query}" if url.query else "")
        return provider.answer(request.method, where, body, dict(request.headers))

    pattern = re.compile(re.escape(provider.issuer.rstrip("/")) + r"(/.*)?(\?.*)?$")
    for method in (responses.GET, responses.POST, responses.PUT, responses.DELETE):
        outside.add_callback(method, pattern, callback=answer)
    return provider
