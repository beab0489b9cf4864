"""SAML single sign-on at the protocol level: ``protu.identity.sso_saml`` against the local identity provider
stand-in (``infra/idp_saml.py``, the outside world), through the functions the ACS route calls (``begin``,
``finish``, ``parse_metadata``, ``fetch_metadata``). What a forged, unsigned, tampered, misdirected, late or
replayed answer gets, and what hostile metadata gets."""

from __future__ import annotations

import base64
import datetime
import subprocess
import sys
from urllib.parse import urlencode, urlsplit

import pytest
from protu import errors
from protu.identity import sso_saml
from protu.settings import settings

from infra import idp_saml


@pytest.fixture(scope="module")
def idp(cloud):
    return idp_saml.SamlIdpStandIn(base=f"{settings().app_origin}/_local/idp/saml")


@pytest.fixture(scope="module")
def connection(idp):
    return sso_saml.parse_metadata(idp.metadata())


def sp() -> dict[str, str]:
    origin = settings().app_origin
    return {"acs_url": f"{origin}/api/auth/sso/saml/acs", "sp_entity_id": f"{origin}/api/auth/sso/saml/metadata"}


def start(connection, relay_state: str = "relay-1") -> idp_saml.AuthnRequest:
    """Our AuthnRequest, as the provider receives it through the browser."""
    url, request_id = sso_saml.begin(connection, relay_state=relay_state, **sp())
    assert url.startswith(connection.sso_url + "?")
    request, relay = idp_saml.parse_request(urlsplit(url).query)
    assert (request.id, request.acs_url, request.issuer, relay) == (
        request_id,
        sp()["acs_url"],
        sp()["sp_entity_id"],
        relay_state,
    )
    return request


def finish(connection, request: idp_saml.AuthnRequest, saml_response: str, request_id: str | None = None):
    return sso_saml.finish(connection, saml_response=saml_response, request_id=request_id or request.id, **sp())


def refused_with(code: str, call, *args, **kwargs) -> None:
    with pytest.raises(errors.Unauthorized) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code


# ------------------------------------------------------------------------------------------------ sign-in
def test_a_signed_assertion_signs_the_person_in(idp, connection):
    request = start(connection)
    identity = finish(connection, request, idp.response(request, email="Ada@Example.com", name="Ada Lovelace"))
    assert identity.email == "ada@example.com"
    assert identity.subject == "Ada@Example.com"
    assert identity.name == "Ada Lovelace"
    assert identity.provider == f"saml {idp.entity_id}"
    assert identity.mfa is False  # PasswordProtectedTransport: a password alone


def test_the_authentication_context_says_whether_a_second_factor_was_used(idp, connection):
    request = start(connection)
    assert finish(connection, request, idp.response(request, email="mo@example.com", mfa=True)).mfa is True


def test_a_signed_response_signs_the_person_in_too(idp, connection):
    request = start(connection)
    saml_response = idp.response(request, email="grace@example.com", signed="response")
    wrapped = "\r\n".join(saml_response[i : i + 76] for i in range(0, len(saml_response), 76))  # as some post it
    identity = finish(connection, request, wrapped)
    assert (identity.email, identity.name) == ("grace@example.com", None)


def test_a_response_signed_as_a_whole_and_in_its_assertion_signs_the_person_in(idp, connection):
    request = start(connection)
    both = idp.response(request, email="hal@example.com", signed="both")
    assert base64.b64decode(both).count(b"SignatureValue>") == 4  # two signatures
    assert finish(connection, request, both).email == "hal@example.com"


def test_with_two_signatures_only_a_valid_assertion_signature_counts(idp, connection):
    request = start(connection)
    signed = base64.b64decode(idp.response(request, email="ada@example.com", signed="both"))
    # The assertion changed after signing: its own signature no longer holds (the Response's is not what we trust).
    tampered = base64.b64encode(signed.replace(b"ada@example.com", b"eve@example.com")).decode()
    refused_with("sso_signature_invalid", finish, connection, request, tampered)
    # Both signatures made with another key under the provider's certificate: refused.
    impostor = idp_saml.SamlIdpStandIn(base=idp.base)
    forged = idp.response(request, email="eve@example.com", signed="both", key=impostor.key)
    refused_with("sso_signature_invalid", finish, connection, request, forged)


CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


def test_the_email_and_name_may_come_from_claims_as_entra_sends_them(idp, connection):
    request = start(connection)
    claims = {CLAIMS + "emailaddress": "Dee.Doe@acme.example", CLAIMS + "givenname": "Dee", CLAIMS + "surname": "Doe"}
    saml_response = idp.response(request, email="-", name_id=("0f3c-opaque", PERSISTENT), attributes=claims)
    identity = finish(connection, request, saml_response)
    assert (identity.subject, identity.email, identity.name) == ("0f3c-opaque", "dee.doe@acme.example", "Dee Doe")


def test_an_assertion_without_an_email_is_refused_and_a_link_is_no_name(idp, connection):
    request = start(connection)
    saml_response = idp.response(request, email="-", name_id=("opaque", PERSISTENT), attributes={"displayName": "X"})
    refused_with("sso_email_invalid", finish, connection, request, saml_response)
    request = start(connection)
    linked = {"email": "ana.owner@acme.example", "displayName": "Visit https://evil.example"}
    saml_response = idp.response(request, email="-", name_id=("opaque-2", PERSISTENT), attributes=linked)
    assert finish(connection, request, saml_response).name is None


def test_the_providers_pages_pick_a_user_and_post_a_signed_response(idp, connection):
    url, request_id = sso_saml.begin(connection, relay_state="state-2", **sp())
    query = urlsplit(url).query
    status, _, page = idp.answer("GET", f"/sso?{query}", "", {})
    assert status == 200 and b"Sign in as Ben Admin" in page
    form = urlencode({"request": query, "email": "ben.admin@acme.example"})  # what the page's form posts
    status, headers, page = idp.answer("POST", "/sso", form, {})
    assert status == 200 and "form-action 'self' http" in headers["Content-Security-Policy"]
    assert f'action="{sp()["acs_url"]}"'.encode() in page and b'name="RelayState" value="state-2"' in page
    saml_response = page.split(b'name="SAMLResponse" value="')[1].split(b'"')[0].decode()
    identity = sso_saml.finish(connection, saml_response=saml_response, request_id=request_id, **sp())
    assert (identity.email, identity.name) == ("ben.admin@acme.example", "Ben Admin")


def test_a_user_removed_at_the_provider_cannot_sign_in_there(idp, connection):
    query = urlsplit(sso_saml.begin(connection, relay_state="r", **sp())[0]).query
    removed = "leaver@acme.example"
    idp.add_user(removed, "Lee Leaver")
    status, _, page = idp.answer("POST", "/users/remove", urlencode({"request": query, "email": removed}), {})
    assert status == 303
    form = urlencode({"request": query, "email": removed, "name": "Lee Leaver"})
    status, _, page = idp.answer("POST", "/sso", form, {})
    assert status == 403 and b"removed" in page
    assert idp.answer("PUT", f"/users/{removed}", '{"name": "Lee Leaver"}', {})[0] == 200
    assert idp.answer("POST", "/sso", form, {})[0] == 200
    assert idp.answer("DELETE", f"/users/{removed}", "", {})[0] == 204
    assert idp.answer("POST", "/sso", form, {})[0] == 403


def test_an_assertion_signed_with_another_key_is_refused(idp, connection):
    request = start(connection)
    impostor = idp_saml.SamlIdpStandIn(base=idp.base)  # same names, its own key and certificate
    refused_with(
        "sso_signature_invalid", finish, connection, request, impostor.response(request, email="a@example.com")
    )
    # The provider's own certificate in the signature, made with another key.
    forged = idp.response(request, email="a@example.com", key=impostor.key)
    refused_with("sso_signature_invalid", finish, connection, request, forged)


def test_an_unsigned_response_is_refused(idp, connection):
    request = start(connection)
    refused_with(
        "sso_signature_invalid", finish, connection, request, idp.response(request, email="a@example.com", signed=None)
    )


def test_an_assertion_changed_after_signing_is_refused(idp, connection):
    request = start(connection)
    signed = base64.b64decode(idp.response(request, email="ada@example.com"))
    tampered = base64.b64encode(signed.replace(b"ada@example.com", b"eve@example.com")).decode()
    refused_with("sso_signature_invalid", finish, connection, request, tampered)


def test_a_wrapped_signature_proves_only_the_signed_assertion(idp, connection):
    """Signature wrapping: the signed assertion moved aside, an unsigned one in its place."""
    from lxml import etree

    request = start(connection)
    document = etree.fromstring(base64.b64decode(idp.response(request, email="ada@example.com")))
    ns = {"saml": idp_saml.SAML, "samlp": idp_saml.SAMLP}
    signed = document.find("saml:Assertion", ns)
    evil = etree.fromstring(etree.tostring(signed))
    evil.remove(evil.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    for text in evil.iter():
        if text.text == "ada@example.com":
            text.text = "eve@example.com"
    evil.set("ID", "_evil")
    extensions = etree.SubElement(document, f"{{{idp_saml.SAMLP}}}Extensions")
    document.remove(signed)
    extensions.append(signed)
    document.insert(2, evil)
    identity = finish(connection, request, base64.b64encode(etree.tostring(document)).decode())
    assert identity.email == "ada@example.com"

    # The unsigned copy under the signed one's id: two elements answer the reference, refused.
    request = start(connection)
    document = etree.fromstring(base64.b64decode(idp.response(request, email="ada@example.com")))
    signed = document.find("saml:Assertion", ns)
    evil.set("ID", signed.get("ID"))
    document.insert(2, evil)
    refused_with(
        "sso_signature_invalid", finish, connection, request, base64.b64encode(etree.tostring(document)).decode()
    )


def test_an_assertion_for_another_service_provider_is_refused(idp, connection):
    request = start(connection)
    other = idp.response(request, email="ada@example.com", audience="https://other.example/saml/metadata")
    refused_with("sso_audience_mismatch", finish, connection, request, other)


def test_an_assertion_for_another_acs_url_is_refused(idp, connection):
    request = start(connection)
    other = idp.response(request, email="ada@example.com", recipient="https://other.example/acs")
    refused_with("sso_recipient_mismatch", finish, connection, request, other)
    response_signed = idp.response(
        request, email="ada@example.com", recipient="https://other.example/acs", signed="response"
    )
    refused_with("sso_recipient_mismatch", finish, connection, request, response_signed)


def test_an_expired_assertion_is_refused(idp, connection):
    request = start(connection)
    an_hour_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    refused_with(
        "sso_expired", finish, connection, request, idp.response(request, email="ada@example.com", now=an_hour_ago)
    )


def test_a_replayed_assertion_is_refused(idp, connection, tenant_id):
    """Inside a request bound to the company (as the ACS route finishes), under its role's key fence."""
    from protu.store import scope

    request = start(connection)
    saml_response = idp.response(request, email="ada@example.com")
    with scope.acting_for(tenant_id):
        finish(connection, request, saml_response)
    with scope.acting_for(tenant_id):
        refused_with("sso_assertion_replayed", finish, connection, request, saml_response)


def test_an_answer_to_another_request_is_refused(idp, connection):
    first, second = start(connection), start(connection)
    refused_with("sso_request_mismatch", finish, connection, second, idp.response(first, email="ada@example.com"))


def test_an_assertion_from_another_issuer_is_refused(idp, connection):
    request = start(connection)
    other = idp.response(request, email="ada@example.com", issuer="https://other-idp.example/metadata")
    refused_with("sso_issuer_mismatch", finish, connection, request, other)


@pytest.mark.parametrize("garbage", ["", "not base64!", base64.b64encode(b"<x/>").decode(), "A" * 300_000])
def test_garbage_is_refused_without_an_error(connection, garbage):
    with pytest.raises(errors.Unauthorized) as caught:
        sso_saml.finish(connection, saml_response=garbage, request_id="_x", **sp())
    assert caught.value.code.startswith("sso_")


# ------------------------------------------------------------------------------------------------ metadata
def test_the_providers_metadata_gives_the_connection(idp, connection):
    assert connection.idp_entity_id == idp.entity_id
    assert connection.sso_url == idp.sso_url
    assert connection.certificates == (idp.certificate_pem,)


HOSTILE = {
    "xxe": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e">'
    "<md:IDPSSODescriptor>&x;</md:IDPSSODescriptor></md:EntityDescriptor>",
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + ']><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&i;"/>',
    "not xml": "this is not metadata",
    "no provider": '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_unusable_metadata_is_refused(name):
    with pytest.raises(errors.ValidationFailed) as caught:
        sso_saml.parse_metadata(HOSTILE[name])
    assert caught.value.code == "saml_metadata_invalid"
    assert name != "xxe" or "DTD" in caught.value.message


def test_metadata_without_a_signing_certificate_or_with_plain_http_is_refused(idp):
    document = idp.metadata()
    start, end = document.index("<md:KeyDescriptor"), document.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")
    for broken in (document[:start] + document[end:], document.replace(idp.sso_url, "http://idp.example/sso")):
        with pytest.raises(errors.ValidationFailed) as caught:
            sso_saml.parse_metadata(broken)
        assert caught.value.code == "saml_metadata_invalid"


def test_metadata_is_fetched_from_the_provider(idp, outside):
    outside.add_callback("GET", f"{idp.base}/metadata", callback=lambda request: idp_saml.answer_request(idp, request))
    assert sso_saml.fetch_metadata(f"{idp.base}/metadata") == sso_saml.parse_metadata(idp.metadata())


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/metadata",  # plain http
        "https://10.0.0.8/metadata",  # private
        "https://169.254.169.254/latest/meta-data/",  # link-local: the cloud's metadata service
        "https://[::ffff:127.0.0.1]/metadata",  # loopback inside IPv6
        "https://localhost/metadata",
        "https://user:pass@idp.example.com/metadata",
        "http://127.0.0.1:9/elsewhere",  # locally, only the stand-in's path
    ],
)
def test_metadata_is_not_fetched_from_private_or_plain_addresses(url, outside):
    with pytest.raises(errors.ValidationFailed) as caught:
        sso_saml.fetch_metadata(url)
    assert caught.value.code == "saml_metadata_invalid"


def test_oversized_or_redirected_metadata_is_refused(idp, outside):
    outside.add("GET", f"{idp.base}/big", body=b"<x>" + b" " * (sso_saml.MAX_METADATA + 1) + b"</x>")
    outside.add("GET", f"{idp.base}/moved", status=302, headers={"Location": "http://10.0.0.8/"})
    for path in ("big", "moved"):
        with pytest.raises(errors.ValidationFailed) as caught:
            sso_saml.fetch_metadata(f"{idp.base}/{path}")
        assert caught.value.code == "saml_metadata_invalid"


def test_the_api_cold_start_does_not_load_lxml():
    code = "import sys, protu.identity.sso_saml; print(sorted({'lxml', 'minisaml', 'requests'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_local_server_serves_the_provider(local_server):
    """``make run``'s server dispatches /_local/idp/saml/ to the stand-in: metadata, then the pick page."""
    import requests

    connection = sso_saml.fetch_metadata(f"{local_server}/_local/idp/saml/metadata")
    assert connection.sso_url == f"{local_server}/_local/idp/saml/sso"
    url, _ = sso_saml.begin(connection, relay_state="r", **sp())
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Sign in as Ana Owner" in page.text
