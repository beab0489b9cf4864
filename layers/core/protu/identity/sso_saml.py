"""SAML 2.0 for company single sign-on: a company's identity provider (``SamlConnection``) and one sign-in with it.

The library does the XML signature work: ``minisaml`` (over ``minisignxml`` and lxml) builds the AuthnRequest and
validates the Response. It checks the XML signature (RSA-SHA256 and SHA-256 digests only, one ``ds:Signature``,
against the connection's certificates, the signed element found by its ``ID`` and parsed again from the signed bytes
alone), the assertion's ``Issuer``, ``Audience`` and ``Conditions`` ``NotBefore``/``NotOnOrAfter``. It parses with
defusedxml (no DTD entities, no network). This module adds what it leaves out, reading the element the signature
verification returned (never the raw document again: a wrapped, unsigned copy is never looked at):

* the bearer ``SubjectConfirmationData``: ``Recipient`` is our ACS URL (``sso_recipient_mismatch``),
  ``InResponseTo`` is the request this sign-in began with (``sso_request_mismatch``), ``NotOnOrAfter`` not passed
  (``sso_expired``); when the whole Response is signed, its ``Destination``, ``InResponseTo`` and ``Status`` too;
* replay: the assertion's id is recorded once (hashed, in the data table, ``TOKEN#<sha256>`` / ``SAMLASSERTION``:
  the unscoped prefix of single-use items) until it expires; a second use is refused (``sso_assertion_replayed``),
  concurrent ones included (a conditional put);
* who it is: the email from an ``emailAddress`` NameID or an email attribute, a name from the usual attributes;
  whether the provider used a second factor, from the ``AuthnContextClassRef`` (``MFA_CONTEXTS``).

Refusals are ``errors.Unauthorized`` with a stable ``sso_*`` code; no assertion, NameID or attribute is ever logged.
Metadata (``parse_metadata``, ``fetch_metadata``) is read with lxml without entities, network or DTDs; fetching it
connects only to global addresses over HTTPS (``protu.ops.audit_streams.urls``/``transport``: checked again as the
connection opens), no redirects, a size limit and short timeouts. Locally (stage ``local``) the local server's SAML
stand-in, ``http://127.0.0.1|localhost:<port>/_local/idp/saml/...`` (``infra/idp_saml.py``), is allowed too.

lxml, minisaml and requests are imported where used: only SAML sign-ins and settings load them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from protu import errors, schemas
from protu.identity.sso_protocol import SamlConnection, SsoIdentity
from protu.settings import settings
from protu.store import dynamo
from protu.store.items import DataItem
from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import PutError

LEEWAY = timedelta(seconds=90)  # clock skew allowed between the provider and us
MAX_RESPONSE = 200_000  # characters of a base64 SAMLResponse
MAX_METADATA = 512 * 1024  # bytes of a metadata document
MAX_CERTIFICATES = 8
MAX_URL = 2000
FETCH_TIMEOUT = (3.0, 5.0)  # connect, read (seconds)
LOCAL_PATH = "/_local/idp/saml/"
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"saml": SAML, "samlp": SAMLP, "md": MD, "ds": DS}
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
EMAIL_ATTRIBUTES = ("email", "mail", "emailAddress", _CLAIMS + "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3")
DISPLAY_NAME_ATTRIBUTES = (
    "displayName",
    "name",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
)
GIVEN_NAME_ATTRIBUTES = ("givenName", "firstName", _CLAIMS + "givenname", "urn:oid:2.5.4.42")
SURNAME_ATTRIBUTES = ("sn", "surname", "lastName", _CLAIMS + "surname", "urn:oid:2.5.4.4")
MAX_NAME = 100


class SamlAssertionUse(DataItem):
    """An assertion that signed someone in, kept until it expires (``expires_at``, the table's TTL): its id is
    hashed with the provider's entity id. Under ``TOKEN#`` (``protu.store.base.UNSCOPED_PREFIXES``), like the other
    single-use items: written inside a request bound to the company, which only the unscoped prefixes allow."""

    used_at = NumberAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(idp_entity_id: str, assertion_id: str) -> tuple[str, str]:
        digest = hashlib.sha256(f"saml assertion\n{idp_entity_id}\n{assertion_id}".encode()).hexdigest()
        return f"TOKEN#{digest}", "SAMLASSERTION"


def refused(code: str, message: str = "The sign-in through your company's identity provider could not be trusted."):
    return errors.Unauthorized(message, code=code)


def _metadata_invalid(why: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(
        f"The identity provider's SAML metadata cannot be used: {why}", code="saml_metadata_invalid"
    )


def _libraries() -> tuple[Any, Any, Any, Any]:
    """minisaml's request and response modules, minisignxml's verification and errors, imported on first use."""
    with warnings.catch_warnings():
        # minisignxml parses with defusedxml.lxml, whose import warns that it is deprecated (it still works)
        warnings.simplefilter("ignore", DeprecationWarning)
        # cold start: only SAML sign-ins load lxml and minisaml
        from minisaml import request, response
        from minisignxml import errors as signxml_errors
        from minisignxml import verify
    return request, response, verify, signxml_errors


# ------------------------------------------------------------------------------------------------ the sign-in
def begin(connection: SamlConnection, *, acs_url: str, sp_entity_id: str, relay_state: str) -> tuple[str, str]:
    """The provider's URL with our AuthnRequest (HTTP-Redirect binding, asking for the answer by HTTP-POST to
    ``acs_url``) and ``relay_state``; answers (that URL, the request's id), the id to pass to ``finish``."""
    request, _, _, _ = _libraries()
    request_id = "_" + secrets.token_hex(20)  # an xs:ID: must not start with a digit
    url = request.get_request_redirect_url(
        saml_endpoint=connection.sso_url,
        expected_audience=sp_entity_id,
        acs_url=acs_url,
        request_id=request_id,
        relay_state=relay_state,
    )
    return url, request_id


def finish(
    connection: SamlConnection, *, acs_url: str, sp_entity_id: str, saml_response: str, request_id: str
) -> SsoIdentity:
    """The identity a ``SAMLResponse`` (base64, as posted to the ACS) proves, after every check (module doc), the
    assertion recorded as used. ``errors.Unauthorized`` with an ``sso_*`` code otherwise."""
    if not isinstance(saml_response, str) or not saml_response or len(saml_response) > MAX_RESPONSE:
        raise refused("sso_response_invalid")
    saml_response = "".join(saml_response.split())  # some providers wrap the base64 in lines
    _, response_module, verify, signxml_errors = _libraries()
    from lxml import etree  # cold start: loaded by minisaml just above

    certificates = _certificates(connection)
    unreadable = (ValueError, KeyError, IndexError, TypeError, SyntaxError, etree.LxmlError)
    try:
        xml = _assertion_signature_only(base64.b64decode(saml_response, validate=True))
        saml_response = base64.b64encode(xml).decode("ascii")
        signed, _ = verify.extract_verified_element_and_certificate(xml=xml, certificates=certificates)
    except (signxml_errors.MiniSignXMLError, *unreadable):
        raise refused("sso_signature_invalid") from None
    try:
        parsed = response_module.validate_response(
            data=saml_response,
            certificate=certificates,
            expected_audience=sp_entity_id,
            idp_issuer=connection.idp_entity_id,
            allowed_time_drift=response_module.TimeDriftLimits(LEEWAY, LEEWAY),
        )
    except response_module.AudienceMismatch:
        raise refused("sso_audience_mismatch") from None
    except (response_module.ResponseExpired, response_module.ResponseTooEarly):
        raise refused("sso_expired") from None
    except response_module.IssuerMismatch:
        raise refused("sso_issuer_mismatch") from None
    except (response_module.MiniSAMLError, signxml_errors.MiniSignXMLError, *unreadable):
        raise refused("sso_response_invalid") from None

    assertion = _signed_assertion(signed, acs_url=acs_url, request_id=request_id)
    confirmation = assertion.find("saml:Subject/saml:SubjectConfirmation", NS)  # exactly one: minisaml checked
    data = confirmation.find("saml:SubjectConfirmationData", NS)
    if confirmation.get("Method") != BEARER:
        raise refused("sso_response_invalid")
    if data.get("Recipient") != acs_url:
        raise refused("sso_recipient_mismatch")
    if parsed.in_response_to != request_id:
        raise refused("sso_request_mismatch")
    now = datetime.now(UTC)
    confirmed_until = _instant(data.get("NotOnOrAfter"))
    if now - LEEWAY >= confirmed_until:
        raise refused("sso_expired")
    conditions_until = _instant(assertion.find("saml:Conditions", NS).get("NotOnOrAfter"))
    assertion_id = assertion.get("ID") or ""
    if not assertion_id:
        raise refused("sso_response_invalid")

    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    identity = SsoIdentity(
        subject=parsed.name_id or "",
        email=_email(name_id.get("Format"), parsed.name_id, parsed.attributes),
        name=_name(parsed.attributes),
        provider=f"saml {connection.idp_entity_id}",
        mfa=_multi_factor(assertion),
    )
    if not identity.subject or len(identity.subject) > 1024:
        raise refused("sso_response_invalid")
    _record_use(connection.idp_entity_id, assertion_id, max(confirmed_until, conditions_until) + LEEWAY)
    return identity


# AuthnContextClassRefs that say the provider used more than one factor (Entra ID's, REFEDS MFA, the SAML 2.0
# classes of a second device, token or card, and the OpenID PAPE multi-factor policy some providers send).
MFA_CONTEXTS = frozenset(
    (
        "http://schemas.microsoft.com/claims/multipleauthn",
        "https://refeds.org/profile/mfa",
        "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
    )
)


def _multi_factor(assertion: Any) -> bool:
    """Whether the signed assertion's authentication statement names a multi-factor context."""
    refs = assertion.findall("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef", NS)
    return any((ref.text or "").strip() in MFA_CONTEXTS for ref in refs)


def _safe_parser() -> Any:
    """lxml without entities, DTDs, network or huge trees: what reads a provider's XML here (XXE, billion laughs)."""
    from lxml import etree  # cold start: only SAML sign-ins and settings load it

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def _assertion_signature_only(xml: bytes) -> bytes:
    """A Response signed as a whole AND in its Assertion (ADFS, Entra's "sign response and assertion") carries two
    signatures, and minisaml verifies exactly one: the Response's is taken away, so the Assertion's own signature is
    the one checked, as for a provider that signs only the Assertion (what the Response alone says is then not
    trusted: ``finish`` reads the signed assertion). Anything else is given back unchanged for the library to judge."""
    if xml.count(b"SignatureValue") < 4:  # fewer than two signatures (each names SignatureValue twice)
        return xml
    from lxml import etree  # cold start: loaded by minisaml already

    parser = _safe_parser()
    try:
        root = etree.fromstring(xml, parser)  # noqa: S320 - entities, DTDs and network are off
    except (etree.LxmlError, ValueError):
        return xml
    if root.getroottree().docinfo.doctype or root.tag != f"{{{SAMLP}}}Response":
        return xml
    outer = root.findall("ds:Signature", NS)
    if len(outer) != 1 or len(root.findall("saml:Assertion/ds:Signature", NS)) != 1:
        return xml
    root.remove(outer[0])
    return etree.tostring(root)


def _certificates(connection: SamlConnection) -> list[Any]:
    # cold start: only SAML sign-ins read certificates
    from cryptography.x509 import load_pem_x509_certificate

    try:
        return [load_pem_x509_certificate(pem.encode()) for pem in connection.certificates]
    except ValueError:
        raise refused("sso_signature_invalid") from None


def _signed_assertion(signed: Any, *, acs_url: str, request_id: str) -> Any:
    """The assertion inside the element the signature covers; a signed Response's own fields checked too."""
    if signed.tag == f"{{{SAML}}}Assertion":
        return signed
    # minisaml accepted it: a Response with exactly one Assertion
    destination, in_response_to = signed.get("Destination"), signed.get("InResponseTo")
    if destination is not None and destination != acs_url:
        raise refused("sso_recipient_mismatch")
    if in_response_to is not None and in_response_to != request_id:
        raise refused("sso_request_mismatch")
    status = signed.find("samlp:Status/samlp:StatusCode", NS)
    if status is None or status.get("Value") != SUCCESS:
        raise refused("sso_response_invalid")
    return signed.find("saml:Assertion", NS)


def _instant(text: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        raise refused("sso_response_invalid") from None
    if moment.tzinfo is None:
        raise refused("sso_response_invalid")
    return moment


def _email(name_id_format: str | None, name_id: str | None, attributes: list[Any]) -> str:
    """The address the provider vouches for: an ``emailAddress`` NameID, else the first email attribute."""
    candidates = [name_id] if name_id_format == EMAIL_FORMAT else []
    candidates += [_attribute(attributes, EMAIL_ATTRIBUTES)]
    for candidate in candidates:
        if candidate:
            try:
                return schemas.mailable(candidate)
            except errors.ValidationFailed:
                message = "Your identity provider did not give a usable email address."
                raise refused("sso_email_invalid", message) from None
    raise refused("sso_email_invalid", "Your identity provider did not give an email address.")


def _name(attributes: list[Any]) -> str | None:
    """A display name, or given name and surname; None when absent, too long or not a plain name."""
    name = _attribute(attributes, DISPLAY_NAME_ATTRIBUTES)
    if not name:
        parts = (_attribute(attributes, GIVEN_NAME_ATTRIBUTES), _attribute(attributes, SURNAME_ATTRIBUTES))
        name = " ".join(part for part in parts if part)
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME or "@" in name:
        return None
    try:
        schemas.check_name(name)
    except errors.ValidationFailed:
        return None
    return name


def _attribute(attributes: list[Any], names: tuple[str, ...]) -> str | None:
    wanted = {name.casefold() for name in names}
    for attribute in attributes:
        if attribute.name.casefold() in wanted and attribute.value and attribute.value.strip():
            return attribute.value.strip()
    return None


def _record_use(idp_entity_id: str, assertion_id: str, until: datetime) -> None:
    """Record the assertion as used until ``until``; a second use is a replay (``sso_assertion_replayed``)."""
    now = int(time.time())
    marker = SamlAssertionUse(
        *SamlAssertionUse.key(idp_entity_id, assertion_id), used_at=now, expires_at=int(until.timestamp()) + 1
    )
    try:
        marker.save(condition=SamlAssertionUse.pk.does_not_exist())
    except PutError as error:
        if dynamo.condition_failed(error):
            raise refused("sso_assertion_replayed") from None
        raise


# ------------------------------------------------------------------------------------------------ metadata
def parse_metadata(xml: str) -> SamlConnection:
    """The identity provider an ``EntityDescriptor`` describes: its ``entityID``, its HTTP-Redirect
    ``SingleSignOnService`` and its signing certificates (RSA, as minisignxml verifies). 422
    ``saml_metadata_invalid`` for anything else, a document with a DTD (entities, XXE) included."""
    if not isinstance(xml, str) or not xml.strip():
        raise _metadata_invalid("it is empty.")
    document = xml.encode("utf-8", "replace")
    if len(document) > MAX_METADATA:
        raise _metadata_invalid(f"it is larger than {MAX_METADATA // 1024} KB.")
    # cold start: only SSO settings read metadata
    from lxml import etree

    parser = _safe_parser()
    try:
        root = etree.fromstring(document, parser)  # noqa: S320 - entities, DTDs and network are off (above, below)
    except (etree.LxmlError, ValueError):
        raise _metadata_invalid("it is not well-formed XML.") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _metadata_invalid("a document type declaration (DTD) is not accepted.")
    entities = [e for e in root.iter(f"{{{MD}}}EntityDescriptor") if e.find("md:IDPSSODescriptor", NS) is not None]
    if len(entities) != 1:
        raise _metadata_invalid("it must describe exactly one identity provider (an IDPSSODescriptor).")
    entity = entities[0]
    entity_id = (entity.get("entityID") or "").strip()
    if not entity_id or len(entity_id) > 1024:
        raise _metadata_invalid("it has no entityID.")
    descriptor = entity.find("md:IDPSSODescriptor", NS)
    locations = [
        (service.get("Location") or "").strip()
        for service in descriptor.findall("md:SingleSignOnService", NS)
        if service.get("Binding") == REDIRECT_BINDING
    ]
    if not locations or not _sso_url_allowed(locations[0]):
        raise _metadata_invalid("it has no HTTP-Redirect SingleSignOnService with an https:// location.")
    return SamlConnection(idp_entity_id=entity_id, sso_url=locations[0], certificates=_signing_certificates(descriptor))


def _signing_certificates(descriptor: Any) -> tuple[str, ...]:
    # cold start: only SSO settings read metadata
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import load_der_x509_certificate

    found: list[str] = []
    for key in descriptor.findall("md:KeyDescriptor", NS):
        if key.get("use") not in (None, "signing"):
            continue
        for element in key.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS):
            try:
                certificate = load_der_x509_certificate(base64.b64decode("".join((element.text or "").split())))
            except ValueError:
                raise _metadata_invalid("a signing certificate cannot be read.") from None
            if not isinstance(certificate.public_key(), RSAPublicKey):
                raise _metadata_invalid("only RSA signing certificates are supported.")
            pem = certificate.public_bytes(Encoding.PEM).decode()
            if pem not in found:
                found.append(pem)
    if not found:
        raise _metadata_invalid("it names no signing certificate.")
    if len(found) > MAX_CERTIFICATES:
        raise _metadata_invalid(f"it names more than {MAX_CERTIFICATES} signing certificates.")
    return tuple(found)


def _sso_url_allowed(url: str) -> bool:
    if len(url) > MAX_URL or not _PRINTABLE.fullmatch(url):
        return False
    if _local(url):
        return True
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc and not parts.fragment


def _local(url: str) -> bool:
    """The local server's SAML stand-in (``make run`` and the tests; stage ``local`` only, never in the cloud)."""
    if not settings().is_local:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number is refused here
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname in _LOCAL_HOSTS
        and "@" not in parts.netloc
        and parts.path.startswith(LOCAL_PATH)
    )


def _why(error: Exception) -> str:
    """What the owner reads when the metadata could not be fetched (``transport.FetchFailed``'s reasons)."""
    reason, status = getattr(error, "reason", "address_not_allowed"), getattr(error, "status", None)
    return {
        "status": f"its address answered {status}, not 200.",
        "too_large": f"it is larger than {MAX_METADATA // 1024} KB.",
        "address_not_allowed": "its host is a private or local address.",
    }.get(reason, "its address could not be reached.")


def fetch_metadata(url: str) -> SamlConnection:
    """``parse_metadata`` of the document at ``url``: https:// to a global address only (no redirects, at most
    ``MAX_METADATA`` bytes, short timeouts), or the local stand-in locally. 422 ``saml_metadata_invalid``."""
    # cold start: only SSO settings fetch metadata
    from protu.ops.audit_streams import transport, urls

    if not isinstance(url, str) or not url or len(url) > MAX_URL or not _PRINTABLE.fullmatch(url):
        raise _metadata_invalid("give its https:// address.")
    local = _local(url)
    try:
        if not local:
            try:
                target = urls.check(url)
            except errors.ValidationFailed:
                raise _metadata_invalid(
                    "its address must be https:// on a public host (not a private or local address)."
                ) from None
            urls.allowed_addresses(target.host, target.port)  # a clear refusal before anything is sent
        document = transport.fetch(url, max_bytes=MAX_METADATA, timeout=FETCH_TIMEOUT, local=local)
    except (urls.AddressNotAllowed, transport.FetchFailed) as error:
        raise _metadata_invalid(_why(error)) from None
    except OSError:  # the check's DNS lookup (socket.gaierror)
        raise _metadata_invalid("its address could not be reached.") from None
    return parse_metadata(document.decode("utf-8", "replace"))
