"""Company single sign-on over OpenID Connect, at the protocol (``protu.identity.sso_oidc``: discovery, the
authorization URL, the code exchange and the id_token's verification), against the local provider stand-in
(``infra.idp_oidc``) on the outside world (``responses``; ``tests/oidc_provider.py``). The test plays the browser's
leg on the provider's sign-in page. The HTTP routes of SSO have their own tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from protu import errors
from protu.identity import sso_oidc
from protu.identity.sso_protocol import OidcConnection, SsoIdentity

from tests.conftest import providers_on_local_server
from tests.oidc_provider import capture_oidc

REDIRECT = "https://app.protu.test/api/auth/sso/oidc/callback"


def connection(provider) -> OidcConnection:
    return OidcConnection(issuer=provider.issuer, client_id=provider.client_id, client_secret=provider.client_secret)


def start(provider, email="ana.owner@acme.example", **kw):
    """begin -> the provider's sign-in page -> the code: (code, nonce, verifier)."""
    nonce, verifier, state = secrets.token_urlsafe(16), secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url = sso_oidc.begin(connection(provider), redirect_uri=REDIRECT, state=state, nonce=nonce, code_verifier=verifier)
    back = parse_qs(urlsplit(provider.sign_in(url, email, **kw)).query)
    assert back["state"] == [state]
    return back["code"][0], nonce, verifier


def finish(provider, code, nonce, verifier, *, conn=None):
    return sso_oidc.finish(
        conn or connection(provider), redirect_uri=REDIRECT, code=code, nonce=nonce, code_verifier=verifier
    )


def refused(code: str, provider, *args, **kw):
    with pytest.raises(errors.Unauthorized) as caught:
        finish(provider, *args, **kw)
    assert caught.value.code == code, caught.value.message
    return caught.value


def b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def test_round_trip_gives_the_verified_identity(oidc_provider):
    url = sso_oidc.begin(
        connection(oidc_provider), redirect_uri=REDIRECT, state="st4te", nonce="n0nce", code_verifier="v" * 64
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(oidc_provider.issuer + "/authorize?")
    assert query["response_type"] == ["code"] and query["scope"] == ["openid email profile"]
    assert query["client_id"] == [oidc_provider.client_id] and query["redirect_uri"] == [REDIRECT]
    assert query["state"] == ["st4te"] and query["nonce"] == ["n0nce"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [b64(hashlib.sha256(b"v" * 64).digest())]

    code, nonce, verifier = start(oidc_provider, "Ben.Admin@ACME.example", name="Ben A.")
    identity = finish(oidc_provider, code, nonce, verifier)

    assert identity == SsoIdentity(
        subject=oidc_provider.subject("ben.admin@acme.example"),
        email="ben.admin@acme.example",
        name="Ben A.",
        provider=f"oidc {oidc_provider.issuer}",
        mfa=True,  # the stand-in's amr: ["pwd", "otp"]
    )
    sent = oidc_provider.token_requests[-1]
    assert sent["auth"] == "basic"  # the document offers both: basic first
    assert code not in json.dumps(oidc_provider.token_requests[:-1])


@pytest.mark.parametrize(
    ("amr", "mfa"),
    [
        (["pwd", "otp"], True),
        (["mfa"], True),
        (["hwk", "fpt"], True),  # a security key with a fingerprint
        (["pwd"], False),
        (["pwd", "kba"], False),  # two things known are one factor twice
        (["otp"], False),  # something held alone
        ([7], False),
        (None, False),  # no amr at all (Google Workspace sends none)
    ],
)
def test_the_id_tokens_amr_says_whether_the_provider_used_a_second_factor(oidc_provider, amr, mfa):
    def with_amr(header, claims):
        claims = {k: v for k, v in claims.items() if k != "amr"}
        return oidc_provider.sign(claims if amr is None else {**claims, "amr": amr})

    oidc_provider.tamper = with_amr
    assert finish(oidc_provider, *start(oidc_provider)).mfa is mfa


def test_an_amr_that_is_not_a_list_is_a_token_refused(oidc_provider):
    oidc_provider.tamper = lambda header, claims: oidc_provider.sign({**claims, "amr": "mfa"})
    refused("sso_token_invalid", oidc_provider, *start(oidc_provider))


def test_a_sign_in_without_a_second_factor_at_the_provider_says_so(oidc_provider):
    assert finish(oidc_provider, *start(oidc_provider, mfa=False)).mfa is False


def test_client_secret_post_when_it_is_all_the_provider_takes(outside):
    provider = capture_oidc(outside)
    provider.auth_methods = ["client_secret_post"]
    assert finish(provider, *start(provider)).email == "ana.owner@acme.example"
    assert provider.token_requests[-1]["auth"] == "post"


def test_a_forged_id_token_signed_by_another_key_is_refused(oidc_provider):
    other = RSAKey.generate_key(2048, auto_kid=True)
    oidc_provider.tamper = lambda header, claims: oidc_provider.sign(claims, key=other)
    refused("sso_token_invalid", oidc_provider, *start(oidc_provider))
    # the same key id as the provider's, another key: the signature does not hold
    oidc_provider.tamper = lambda header, claims: oidc_provider.sign(
        claims, header={"kid": oidc_provider.key.kid}, key=other
    )
    refused("sso_token_invalid", oidc_provider, *start(oidc_provider))


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "another-client"},  # a token the provider issued to another client
        {"aud": ["another-client", "protu-local"]},  # several audiences and no azp naming us
        {"azp": "another-client"},
        {"iss": "https://another-idp.example.test/oidc"},
        {"exp": -120},  # times: seconds from when the token is made (not from when the tests were collected)
        {"iat": 600},
    ],
    ids=["aud", "aud-list-without-azp", "azp", "iss", "expired", "issued-in-the-future"],
)
def test_a_token_with_claims_that_do_not_hold_is_refused(oidc_provider, change):
    def changed(claims: dict) -> dict:
        times = {name: int(time.time()) + change[name] for name in ("exp", "iat") if name in change}
        return {**claims, **change, **times}

    oidc_provider.tamper = lambda header, claims: oidc_provider.sign(changed(claims))
    refused("sso_token_invalid", oidc_provider, *start(oidc_provider))


def test_a_nonce_that_is_not_the_one_sent_is_refused(oidc_provider):
    code, _, verifier = start(oidc_provider)
    refused("sso_nonce_mismatch", oidc_provider, code, "another-nonce", verifier)
    oidc_provider.tamper = lambda header, claims: oidc_provider.sign({k: v for k, v in claims.items() if k != "nonce"})
    refused("sso_nonce_mismatch", oidc_provider, *start(oidc_provider))


def test_a_replayed_code_is_refused_by_the_provider(oidc_provider):
    code, nonce, verifier = start(oidc_provider)
    finish(oidc_provider, code, nonce, verifier)
    refused("sso_provider_error", oidc_provider, code, nonce, verifier)


def test_the_provider_refuses_a_wrong_verifier_or_secret(oidc_provider):
    code, nonce, _ = start(oidc_provider)
    refused("sso_provider_error", oidc_provider, code, nonce, secrets.token_urlsafe(48))
    code, nonce, verifier = start(oidc_provider)
    wrong = OidcConnection(oidc_provider.issuer, oidc_provider.client_id, "not-the-secret")
    refused("sso_provider_error", oidc_provider, code, nonce, verifier, conn=wrong)


def test_an_unverified_email_is_refused(oidc_provider):
    refused("sso_email_unverified", oidc_provider, *start(oidc_provider, "new.person@acme.example", verified=False))
    oidc_provider.tamper = lambda header, claims: oidc_provider.sign({k: v for k, v in claims.items() if k != "email"})
    refused("sso_email_unverified", oidc_provider, *start(oidc_provider))


def test_unsigned_and_algorithm_confused_tokens_are_refused(oidc_provider):
    def unsigned(header, claims):
        return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}."

    def hmac_with_public_key(header, claims):
        """HS256 keyed with the provider's public key (PEM): the classic confusion of a verifier that lets the
        token choose its algorithm."""
        secret = oidc_provider.key.as_pem(private=False)
        header = {"alg": "HS256", "kid": oidc_provider.key.kid}
        head = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        return f"{head}.{b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())}"

    for tamper in (unsigned, hmac_with_public_key):
        oidc_provider.tamper = tamper
        refused("sso_token_invalid", oidc_provider, *start(oidc_provider))


def test_es256_is_accepted_rs512_is_not(outside):
    provider = capture_oidc(outside)
    ec, rsa = ECKey.generate_key("P-256", auto_kid=True), RSAKey.generate_key(2048, auto_kid=True)
    keys = {"keys": [provider.key.as_dict(private=False), ec.as_dict(private=False), rsa.as_dict(private=False)]}
    original = provider.answer

    def answer(method, path, body, headers):  # the provider publishes those keys too
        if path == "/jwks":
            return 200, {"Content-Type": "application/json"}, json.dumps(keys).encode()
        return original(method, path, body, headers)

    provider.answer = answer
    provider.tamper = lambda header, claims: jwt.encode({"alg": "ES256", "kid": ec.kid}, claims, ec)
    assert finish(provider, *start(provider)).email == "ana.owner@acme.example"
    provider.tamper = lambda header, claims: jwt.encode(
        {"alg": "RS512", "kid": rsa.kid}, claims, rsa, algorithms=["RS512"]
    )
    refused("sso_token_invalid", provider, *start(provider))


def test_a_user_removed_at_the_provider_cannot_sign_in_again(oidc_provider):
    finish(oidc_provider, *start(oidc_provider, "cleo.staff@acme.example"))
    status, _, _ = oidc_provider.answer("DELETE", "/users/cleo.staff@acme.example", "", {})
    assert status == 204
    url = sso_oidc.begin(connection(oidc_provider), redirect_uri=REDIRECT, state="s", nonce="n", code_verifier="v" * 50)
    assert parse_qs(urlsplit(oidc_provider.sign_in(url, "cleo.staff@acme.example")).query) == {
        "error": ["access_denied"],
        "state": ["s"],
    }
    assert parse_qs(urlsplit(oidc_provider.cancel(url)).query)["error"] == ["access_denied"]


def test_discovery_checks_the_issuer(outside):
    provider = capture_oidc(outside)
    document = sso_oidc.discover(provider.issuer)
    assert document["token_endpoint"] == provider.issuer + "/token"

    with pytest.raises(errors.ValidationFailed) as caught:  # the document names another issuer
        sso_oidc.discover(provider.issuer + "/")
    assert caught.value.code == "sso_issuer_invalid" and caught.value.details == {"field": "issuer"}

    liar = capture_oidc(outside)
    liar.discovery = lambda: {**provider.discovery(), "issuer": liar.issuer + "/other"}
    with pytest.raises(errors.ValidationFailed) as caught:
        sso_oidc.discover(liar.issuer)
    assert caught.value.code == "sso_issuer_invalid"

    inward = capture_oidc(outside)  # a document sending our token requests inside
    inward.discovery = lambda: {**provider.discovery(), "issuer": inward.issuer, "token_endpoint": "https://10.0.0.7/t"}
    with pytest.raises(errors.ValidationFailed) as caught:
        sso_oidc.discover(inward.issuer)
    assert caught.value.code == "sso_issuer_invalid"

    with pytest.raises(errors.ValidationFailed) as caught:  # nobody answers there (the outside world is closed)
        sso_oidc.discover("https://nobody.example.test")
    assert caught.value.code == "sso_issuer_unreachable"


@pytest.mark.parametrize(
    "issuer",
    [
        "http://idp.example.test/oidc",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/oidc",
        "https://[::ffff:127.0.0.1]/oidc",
        "https://user@idp.example.test/oidc",
        "https://idp.example.test/oidc?x=1",
        "http://127.0.0.1:9/_local/idp/oidc",  # not the local server's origin
        "http://localhost:8000/_local/siem/x",
        "file:///etc/passwd",
        "",
    ],
)
def test_discovery_refuses_addresses_that_are_not_public_https(outside, issuer):
    with pytest.raises(errors.ValidationFailed) as caught:
        sso_oidc.discover(issuer)
    assert caught.value.code == "sso_issuer_invalid"


def test_a_public_name_that_resolves_inside_is_refused_as_it_connects(monkeypatch):
    """DNS answered at its boundary: the name passes the address rules, its addresses do not (nothing is sent)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "inside.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(errors.ValidationFailed) as caught:
        sso_oidc.discover("https://inside.example.test/oidc")
    assert caught.value.code == "sso_issuer_unreachable" and "not public" in caught.value.message


def test_a_provider_that_fails_at_sign_in_time_is_a_provider_error(outside):
    provider = capture_oidc(outside)
    code, nonce, verifier = start(provider)
    provider.fail(503)
    refused("sso_provider_error", provider, code, nonce, verifier)
    code, nonce, verifier = start(provider)
    provider.fail(requests.ConnectTimeout("slow"))
    refused("sso_provider_error", provider, code, nonce, verifier)
    nowhere = OidcConnection("https://gone.example.test/oidc", "c", "s")  # nobody answers there
    with pytest.raises(errors.Unauthorized) as caught:
        sso_oidc.begin(nowhere, redirect_uri=REDIRECT, state="s", nonce="n", code_verifier="v" * 50)
    assert caught.value.code == "sso_provider_error"


def test_sign_in_through_the_local_servers_provider(outside, local_server):
    """make run: the local server serves the stand-in at {origin}/_local/idp/oidc over plain HTTP, allowed only
    there and only locally; the whole dance goes over real HTTP."""
    with providers_on_local_server(local_server):
        issuer = f"{local_server}/_local/idp/oidc"
        from infra.idp_oidc import CLIENT_ID, CLIENT_SECRET

        conn = OidcConnection(issuer, CLIENT_ID, CLIENT_SECRET)
        assert sso_oidc.discover(issuer)["issuer"] == issuer
        redirect = f"{local_server}/api/auth/sso/oidc/callback"
        url = sso_oidc.begin(conn, redirect_uri=redirect, state="st", nonce="nn", code_verifier="x" * 60)
        page = requests.get(url, timeout=5)
        assert page.status_code == 200 and "Ana Owner" in page.text
        form = {**{k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}, "action": "sign_in"}
        form |= {"email": "someone@acme.example", "name": "Some One", "email_verified": "on"}
        answer = requests.post(f"{issuer}/authorize", data=form, allow_redirects=False, timeout=5)
        assert answer.status_code == 303 and answer.headers["Location"].startswith(redirect + "?")
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        identity = sso_oidc.finish(conn, redirect_uri=redirect, code=code, nonce="nn", code_verifier="x" * 60)
        assert (identity.email, identity.name) == ("someone@acme.example", "Some One")
