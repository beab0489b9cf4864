"""Company single sign-on, the part no protocol owns: the company's connection to its identity provider, routing an
email to it, the flow's state between leaving and coming back, just-in-time provisioning and the session.

- **Connection** (one per company, ``T#<tenant>#SSO`` / ``CONNECTION``): OIDC (issuer, client id, client secret
  sealed with the company's key) or SAML (the provider's entity id, sign-in URL and signing certificates from its
  metadata), whether single sign-on is enforced and the break-glass owners (at least one owner with two-factor on
  when enforced). Saving or removing it puts the sign-in policy on the company's domain claims
  (``domains.SsoDomainClaim``) in the same transaction.
- **Start** (``start``): the email's domain decides; a verified domain of a company with a connection gets a flow
  (``TOKEN#<sha256 of state>`` / ``SSOFLOW``, 10 minutes, single use) holding the protocol's values and the hash of
  a browser-binding cookie, and the provider's URL. Any address of another domain costs one read.
- **Finish** (``finish_oidc``, ``finish_saml``): the flow is redeemed once and must come back with its binding
  cookie (a callback link sent to someone else signs nobody in), the protocol verifies the provider's answer
  (``sso_oidc``, ``sso_saml``), the email must be at one of the company's verified domains, the user is found or
  provisioned (role admin; an address with another company's account is refused ``email_in_use``), their name
  kept in step, and a session started as every sign-in starts one (``sign_in_method`` ``sso``, the provider in the
  audit event).
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import msgspec
from protu import errors, metrics
from protu.identity import accounts, company_settings, domains, rbac, tokens
from protu.identity.accounts import SignedIn
from protu.identity.domains import SsoDomainClaim
from protu.identity.models import EmailAccount, PendingInvitation, SsoConnection, User
from protu.identity.sso_protocol import OidcConnection, SamlConnection, SsoIdentity
from protu.logging import get_logger
from protu.principal import Principal
from protu.settings import settings
from protu.store.dynamo import condition_failed
from protu.store.items import DataItem
from protu.store.tx import Transaction
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist

log = get_logger(__name__)

FLOW_SECONDS = 10 * 60
BINDING_COOKIE = "protu_sso"
PROTOCOLS = ("oidc", "saml")


class SsoFlow(DataItem):
    """A sign-in on its way to the provider and back: found by the hash of its ``state`` (OIDC) or ``RelayState``
    (SAML), used once, expires with ``expires_at`` (TTL too)."""

    tenant_id = UnicodeAttribute()
    protocol = UnicodeAttribute()
    binding_hash = UnicodeAttribute()  # sha256 of the browser-binding cookie's value
    nonce = UnicodeAttribute(null=True)
    code_verifier = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()

    @staticmethod
    def key(state_hash: str) -> tuple[str, str]:
        return f"TOKEN#{state_hash}", "SSOFLOW"


# ------------------------------------------------------------------------------------------------ SP values
def oidc_redirect_uri() -> str:
    return f"{settings().app_origin}/api/auth/sso/oidc/callback"


def saml_acs_url() -> str:
    return f"{settings().app_origin}/api/auth/sso/saml/acs"


def saml_entity_id() -> str:
    return f"{settings().app_origin}/api/auth/sso/saml/metadata"


def saml_sp_metadata() -> str:
    """Protu's SAML service provider metadata, for an owner to give their identity provider: its entity id, the
    ACS (HTTP-POST), signed assertions wanted, email address as the NameID format."""
    # cold start: loaded on first use
    from xml.etree import ElementTree

    md = "urn:oasis:names:tc:SAML:2.0:metadata"
    ElementTree.register_namespace("md", md)
    root = ElementTree.Element(f"{{{md}}}EntityDescriptor", {"entityID": saml_entity_id()})
    sp = ElementTree.SubElement(
        root,
        f"{{{md}}}SPSSODescriptor",
        {
            "AuthnRequestsSigned": "false",
            "WantAssertionsSigned": "true",
            "protocolSupportEnumeration": "urn:oasis:names:tc:SAML:2.0:protocol",
        },
    )
    name_id = ElementTree.SubElement(sp, f"{{{md}}}NameIDFormat")
    name_id.text = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    ElementTree.SubElement(
        sp,
        f"{{{md}}}AssertionConsumerService",
        {"Binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "Location": saml_acs_url(), "index": "0"},
    )
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


# ------------------------------------------------------------------------------------------------ the connection
def get_connection(tenant_id: str) -> SsoConnection | None:
    try:
        return SsoConnection.get(*SsoConnection.key(tenant_id), consistent_read=True)
    except DoesNotExist:
        return None


def described(connection: SsoConnection | None) -> dict[str, Any]:
    """What an owner sees of the connection: never the secret, only whether one is set."""
    if connection is None:
        return {"configured": False}
    return {
        "configured": True,
        "protocol": connection.protocol,
        "issuer": connection.issuer,
        "client_id": connection.client_id,
        "client_secret_set": bool(connection.client_secret_sealed),
        "metadata_url": connection.metadata_url,
        "idp_entity_id": connection.idp_entity_id,
        "sso_url": connection.sso_url,
        "enforced": bool(connection.enforced),
        "require_provider_mfa": bool(connection.require_provider_mfa),
        "break_glass_user_ids": list(connection.break_glass_user_ids or []),
        "updated_at": int(connection.updated_at),
    }


def _seal(tenant_id: str, secret: str) -> str:
    # cold start: loaded on first use
    from protu import crypto

    blob = crypto.encrypt_fields(tenant_id, "sso", "connection", {"client_secret": secret})
    return base64.b64encode(blob).decode("ascii")


def _unseal(tenant_id: str, sealed: str) -> str:
    # cold start: loaded on first use
    from protu import crypto

    fields = crypto.decrypt_fields(tenant_id, "sso", "connection", base64.b64decode(sealed), ["client_secret"])
    return fields["client_secret"]


def _refuse(message: str, code: str, field: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(message, code=code, details={"field": field})


def _break_glass(tenant_id: str, ids: list[str], enforced: bool) -> list[str]:
    """The break-glass owners: each an active owner of the company; when enforced, at least one with two-factor."""
    ids = list(dict.fromkeys(ids))
    members = {user.id: user for user in User.members(tenant_id)}
    for user_id in ids:
        user = members.get(user_id)
        if user is None or user.role != rbac.OWNER or user.status != "active":
            raise _refuse(
                "Each break-glass user must be an owner of your company.", "break_glass_invalid", "break_glass_user_ids"
            )
    if enforced and not any(members[user_id].second_factors for user_id in ids):  # the app or a passkey
        raise _refuse(
            "Name at least one owner with two-factor authentication on, who can still sign in with a password if "
            "the identity provider is down.",
            "break_glass_required",
            "break_glass_user_ids",
        )
    return ids


def save_connection(principal: Principal, given: dict[str, Any]) -> SsoConnection:
    """Create or replace the company's connection (``given``: the PUT body's fields). The OIDC issuer is discovered
    and the SAML metadata read before anything is saved; a client secret left out keeps the one saved."""
    tenant_id = principal.tenant_id
    current = get_connection(tenant_id)
    protocol = given["protocol"]
    enforced = bool(given.get("enforced") or False)
    values: dict[str, Any] = {
        "protocol": protocol,
        "enforced": enforced,
        "require_provider_mfa": bool(given.get("require_provider_mfa") or False),
        "break_glass_user_ids": _break_glass(tenant_id, list(given.get("break_glass_user_ids") or []), enforced),
        "updated_at": int(time.time()),
    }
    if protocol == "oidc":
        values |= _oidc_values(tenant_id, given, current)
    else:
        values |= _saml_values(given)
    connection = SsoConnection(*SsoConnection.key(tenant_id), **values)
    with Transaction(tenant_id, actor=principal.user_id) as tx:
        tx.save(connection)
        _put_policy(tx, tenant_id, connection)
        tx.audit(
            "sso.connection_saved",
            f"company:{tenant_id}",
            details={
                "protocol": protocol,
                "provider": connection.issuer or connection.idp_entity_id,
                "enforced": enforced,
                "require_provider_mfa": bool(connection.require_provider_mfa),
                "break_glass_user_ids": connection.break_glass_user_ids,
                "client_secret_changed": bool(given.get("client_secret")),
            },
        )
    company_settings.forget(tenant_id)  # the policy says whether the company has a provider
    return connection


def _oidc_values(tenant_id: str, given: dict[str, Any], current: SsoConnection | None) -> dict[str, Any]:
    # cold start: loaded on first use
    from protu.identity import sso_oidc

    issuer = (given.get("issuer") or "").strip()  # exactly as the provider names itself (a trailing "/" too)
    client_id = (given.get("client_id") or "").strip()
    if not issuer:
        raise _refuse("Enter the issuer of your identity provider.", "issuer_required", "issuer")
    if not client_id:
        raise _refuse("Enter the client id your identity provider gave Protu.", "client_id_required", "client_id")
    secret = given.get("client_secret")
    if secret:
        sealed = _seal(tenant_id, secret)
    elif current is not None and current.protocol == "oidc" and current.client_secret_sealed:
        sealed = current.client_secret_sealed
    else:
        raise _refuse("Enter the client secret.", "client_secret_required", "client_secret")
    sso_oidc.discover(issuer)  # refuses an issuer that does not answer as one (sso_issuer_unreachable/_invalid)
    return {"issuer": issuer, "client_id": client_id, "client_secret_sealed": sealed}


def _saml_values(given: dict[str, Any]) -> dict[str, Any]:
    # cold start: loaded on first use
    from protu.identity import sso_saml

    xml, url = given.get("metadata_xml"), (given.get("metadata_url") or "").strip()
    if xml or url:
        try:
            found = sso_saml.parse_metadata(xml) if xml else sso_saml.fetch_metadata(url)
        except errors.ValidationFailed as error:
            error.details = error.details or {"field": "metadata_xml" if xml else "metadata_url"}
            raise
    else:
        raise _refuse(
            "Give your identity provider's metadata: its URL or the XML.", "metadata_required", "metadata_url"
        )
    return {
        "metadata_url": url or None,
        "idp_entity_id": found.idp_entity_id,
        "sso_url": found.sso_url,
        "certificates": list(found.certificates),
    }


def _put_policy(tx: Transaction, tenant_id: str, connection: SsoConnection | None) -> None:
    """The company's sign-in policy onto the claims of its verified domains (read before any company is known)."""
    for domain in domains.verified(tenant_id):
        tx.update(
            SsoDomainClaim(*SsoDomainClaim.key(domain)),
            [
                SsoDomainClaim.connected.set(connection is not None),
                SsoDomainClaim.enforced.set(bool(connection and connection.enforced)),
                SsoDomainClaim.break_glass_user_ids.set(list(connection.break_glass_user_ids) if connection else []),
            ],
            condition=SsoDomainClaim.tenant_id == tenant_id,
            unscoped=True,
        )


def claim_policy(tenant_id: str) -> dict[str, Any]:
    """What a newly verified domain's claim says of the company's sign-in (``domains.verify``)."""
    connection = get_connection(tenant_id)
    if connection is None:
        return {}
    return {
        "connected": True,
        "enforced": bool(connection.enforced),
        "break_glass_user_ids": list(connection.break_glass_user_ids or []),
    }


def delete_connection(principal: Principal) -> None:
    tenant_id = principal.tenant_id
    connection = get_connection(tenant_id)
    if connection is None:
        raise errors.NotFound("Your company has no single sign-on connection.")
    with Transaction(tenant_id, actor=principal.user_id) as tx:
        tx.delete(connection, condition=SsoConnection.pk.exists())
        _put_policy(tx, tenant_id, None)
        tx.audit("sso.connection_removed", f"company:{tenant_id}", details={"protocol": connection.protocol})
    company_settings.forget(tenant_id)  # its SSO sessions are held to two-factor like any other from now on


def _oidc(tenant_id: str, connection: SsoConnection) -> OidcConnection:
    return OidcConnection(
        connection.issuer or "", connection.client_id or "", _unseal(tenant_id, connection.client_secret_sealed or "")
    )


def _saml(connection: SsoConnection) -> SamlConnection:
    return SamlConnection(
        connection.idp_entity_id or "", connection.sso_url or "", tuple(connection.certificates or ())
    )


# ------------------------------------------------------------------------------------------------ start
class Started(msgspec.Struct):
    redirect_url: str
    binding: str  # the browser-binding cookie's value
    protocol: str


def start(email: str) -> Started | None:
    """Where ``email`` signs in: its company's provider when its domain is verified by a company with a connection,
    else None. Only the domain decides: no account is read."""
    found = domains.claim(domains.of_email(email))
    if found is None or not found.connected:
        return None
    connection = get_connection(found.tenant_id)
    if connection is None:
        return None
    state, state_hash = tokens.new_token()
    binding, binding_hash = tokens.new_token()
    flow = SsoFlow(
        *SsoFlow.key(state_hash),
        tenant_id=found.tenant_id,
        protocol=connection.protocol,
        binding_hash=binding_hash,
        expires_at=int(time.time()) + FLOW_SECONDS,
    )
    if connection.protocol == "oidc":
        # cold start: loaded on first use
        from protu.identity import sso_oidc

        flow.nonce = secrets.token_urlsafe(24)
        flow.code_verifier = secrets.token_urlsafe(48)
        url = sso_oidc.begin(
            _oidc(found.tenant_id, connection),
            redirect_uri=oidc_redirect_uri(),
            state=state,
            nonce=flow.nonce,
            code_verifier=flow.code_verifier,
        )
    else:
        # cold start: loaded on first use
        from protu.identity import sso_saml

        url, flow.request_id = sso_saml.begin(
            _saml(connection), acs_url=saml_acs_url(), sp_entity_id=saml_entity_id(), relay_state=state
        )
    flow.save(condition=SsoFlow.pk.does_not_exist())
    return Started(url, binding, connection.protocol)


# ------------------------------------------------------------------------------------------------ finish
def _redeem(state: str, binding: str | None, protocol: str) -> SsoFlow:
    """The flow of ``state``, used once: it must exist, be of ``protocol``, unexpired, and come back with the
    browser-binding cookie it was started with."""
    if not state or len(state) > 128:
        raise errors.Unauthorized("This sign-in is not valid. Start again.", code="sso_state_invalid")
    try:
        flow = SsoFlow.get(*SsoFlow.key(tokens.token_hash(state)), consistent_read=True)
    except DoesNotExist:
        raise errors.Unauthorized(
            "This sign-in is not valid or was used. Start again.", code="sso_state_invalid"
        ) from None
    try:
        flow.delete(condition=SsoFlow.pk.exists())
    except DeleteError as error:
        if not condition_failed(error):
            raise
        raise errors.Unauthorized("This sign-in was used already. Start again.", code="sso_state_invalid") from None
    if flow.protocol != protocol or flow.expires_at <= time.time():
        raise errors.Unauthorized("This sign-in has expired. Start again.", code="sso_state_expired")
    if not binding or not secrets.compare_digest(tokens.token_hash(binding), flow.binding_hash):
        # Login CSRF: a callback link started in another browser (an attacker's) must not sign this one in.
        raise errors.Unauthorized("Start signing in from this browser.", code="sso_browser_mismatch")
    return flow


def finish_oidc(state: str, code: str, binding: str | None, *, ip: str, user_agent: str) -> SignedIn:
    # cold start: loaded on first use
    from protu.identity import sso_oidc

    flow = _redeem(state, binding, "oidc")
    connection = _connection_for(flow)
    if not code or len(code) > 2048:
        raise errors.Unauthorized("The identity provider did not sign you in.", code="sso_token_invalid")
    identity = sso_oidc.finish(
        _oidc(flow.tenant_id, connection),
        redirect_uri=oidc_redirect_uri(),
        code=code,
        nonce=flow.nonce or "",
        code_verifier=flow.code_verifier or "",
    )
    return _sign_in(flow.tenant_id, connection, identity, ip=ip, user_agent=user_agent)


def finish_saml(relay_state: str, saml_response: str, binding: str | None, *, ip: str, user_agent: str) -> SignedIn:
    # cold start: loaded on first use
    from protu.identity import sso_saml

    flow = _redeem(relay_state, binding, "saml")
    connection = _connection_for(flow)
    if not saml_response:
        raise errors.Unauthorized("The identity provider did not sign you in.", code="sso_token_invalid")
    identity = sso_saml.finish(
        _saml(connection),
        acs_url=saml_acs_url(),
        sp_entity_id=saml_entity_id(),
        saml_response=saml_response,
        request_id=flow.request_id or "",
    )
    return _sign_in(flow.tenant_id, connection, identity, ip=ip, user_agent=user_agent)


def _connection_for(flow: SsoFlow) -> SsoConnection:
    connection = get_connection(flow.tenant_id)
    if connection is None or connection.protocol != flow.protocol:
        raise errors.Unauthorized("Single sign-on is no longer set up for your company.", code="sso_not_configured")
    return connection


def _sign_in(tenant_id: str, connection: SsoConnection, identity: SsoIdentity, *, ip: str, user_agent: str) -> SignedIn:
    """The provider vouched for ``identity``: the email must be at one of this company's verified domains, and the
    sign-in multi-factor when the company asks the provider for it; then its user (provisioned just in time), and a
    session."""
    if connection.require_provider_mfa and not identity.mfa:
        raise errors.Forbidden(
            "Your identity provider did not confirm a second factor for this sign-in, and your company requires one.",
            code="sso_mfa_required",
        )
    email = accounts.normalise_email(identity.email or "")
    if domains.of_email(email) not in domains.verified(tenant_id):
        raise errors.Forbidden(
            "Your identity provider signed you in with an address outside your company's verified domains.",
            code="sso_domain_not_verified",
        )
    # cold start: loaded on first use (a session as every sign-in starts one)
    from protu.identity.signin import _alert_new_device, _start_session

    company = accounts.get_company(tenant_id)
    user = _user_for(tenant_id, company, email, identity)
    if user.status != "active":
        raise errors.Forbidden("This account cannot sign in.", code="sso_account_inactive")
    if user.locked_until and int(user.locked_until) > time.time():
        raise errors.Forbidden("This account is locked after suspicious activity.", code="account_locked")
    name = (identity.name or "").strip()[:100]
    if name and name != user.name:  # the provider's name is the one kept
        with Transaction(tenant_id, actor=user.id) as tx:
            tx.update(user, [User.name.set(name)], condition=User.pk.exists())
            tx.audit("users.updated", f"user:{user.id}", details={"fields": ["name"], "by": "sso"})
        user.name = name
    with Transaction(tenant_id, actor=user.id) as tx:
        signed_in = _start_session(tx, user, company, ip, user_agent, "sso")
        tx.audit(
            "auth.login",
            f"user:{user.id}",
            details={
                "method": "sso",
                "provider": identity.provider,
                "provider_mfa": identity.mfa,
                "session": signed_in.session.id,
            },
        )
    metrics.count("SignIns")
    _alert_new_device(signed_in, ip, user_agent)
    return signed_in


def _user_for(tenant_id: str, company, email: str, identity: SsoIdentity) -> User:
    """The company's user of ``email``, or a new one (role admin) made now with its ``EMAIL#`` item, audited. An
    address with another company's account is refused: one address, one company."""
    owner = accounts.email_owner(email)
    if owner is not None:
        if owner.tenant_id != tenant_id:
            raise errors.Conflict("This address has a Protu account with another company.", code="email_in_use")
        return accounts.get_user(tenant_id, owner.user_id)
    name = (identity.name or "").strip()[:100] or email.partition("@")[0][:100]
    invited = next((u for u in User.members(tenant_id) if u.email == email and u.status == "invited"), None)
    if invited is None:  # a new person takes a seat of the plan, as an invitation does (402 seat_limit_reached)
        # cold start: loaded on first use
        from protu.billing import service as billing

        billing.check_seat(tenant_id)
    with Transaction(tenant_id, actor="system") as tx:
        if invited is not None:  # an invitation waiting for this address: the provider's sign-in accepts it
            user = invited
            tx.update(
                user,
                [User.status.set("active"), User.email_verified.set(True), User.invite_token_hash.remove()],
                condition=User.pk.exists(),
            )
            tx.delete(PendingInvitation(*PendingInvitation.key(email, tenant_id, user.id)), unscoped=True)
            tx.save(
                EmailAccount(*EmailAccount.key(email), tenant_id=tenant_id, user_id=user.id),
                condition=EmailAccount.pk.does_not_exist(),
                unscoped=True,
            )
        else:
            user = accounts.new_member(company, name, email, rbac.ADMIN, None, email_verified=True)  # type: ignore[arg-type]
            accounts.save_member(tx, None, user)
        tx.audit(
            "sso.user_provisioned",
            f"user:{user.id}",
            details={"role": user.role, "provider": identity.provider, "invited": invited is not None},
        )
    user.status = "active"
    return user
