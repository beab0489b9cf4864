"""Passkeys (WebAuthn, with the ``webauthn`` library): registered by a signed-in user (recent authentication),
used as the first factor without typing an email (a discoverable credential with user verification counts as two
factors) or as the second factor after a password or an email link.

* **Records.** A user's passkeys live beside their sessions, in ``T#<tenant>#USER#<user>#PASSKEYS`` / ``PK#<id>``
  (``id`` is ours; the credential id and the public key stay in the item, never in answers, logs or audit
  details). The user's ``passkey_count`` changes in the same transaction, so "has a second factor" needs no query.
* **Finding the account without an email.** The authenticator returns the user handle given at registration,
  ``<tenant>/<user>`` (opaque ids, no personal data); the credential must then be one of that user's passkeys and
  its signature verify against the stored key. So no global index of credentials is needed.
* **Ceremonies.** Each ceremony is a single-use token (``accounts.token_item``, ``TOKEN#<sha256>``, 5 minutes)
  of its kind, bound to the user (registration, second factor) or to nobody (first factor). The client holds the
  token; the challenge is derived from it (``challenge``), so only its hash is stored, and a ceremony is consumed by
  its first answer, good or bad.
* **Counters and backup flags.** The sign counter is kept; a counter that goes back (both non-zero) is refused as
  a cloned authenticator (401 ``passkey_cloned``, signal ``passkey.cloned``, the passkey left unchanged). The backup
  flags say whether a passkey is synced (``backup_eligible``) and backed up now.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec
from protu import audit, errors, metrics
from protu.identity import accounts, domains, mfa
from protu.identity.models import Company, OneTimeToken, User
from protu.logging import get_logger
from protu.principal import Principal
from protu.security import login_guard, signals
from protu.settings import settings
from protu.store.base import tenant_pk
from protu.store.dynamo import condition_failed
from protu.store.items import DataItem
from protu.store.tx import Transaction
from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError

log = get_logger(__name__)

CEREMONY_SECONDS = 5 * 60
MAX_PASSKEYS = 10  # per user
REGISTER, SIGN_IN, SECOND_FACTOR, REAUTH = "passkey_register", "passkey_signin", "passkey_mfa", "passkey_reauth"
NOBODY = "-"  # the tenant and user of a first-factor ceremony: it is bound to no one
RP_NAME = "Protu"
_HANDLE = re.compile(r"^([a-z0-9][a-z0-9-]{2,63})/(u-[0-9a-f]{20})$")


class Passkey(DataItem):
    """One registered passkey of a user (see the module doc)."""

    id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    name = UnicodeAttribute()
    credential_id = UnicodeAttribute()  # base64url, as the browser names it
    public_key = UnicodeAttribute()  # base64url of the COSE key
    sign_count = NumberAttribute(default=0)
    transports = ListAttribute(of=UnicodeAttribute, default=list)
    backup_eligible = BooleanAttribute(default=False)  # a synced (multi-device) passkey
    backed_up = BooleanAttribute(default=False)
    created_at = NumberAttribute()
    last_used_at = NumberAttribute(null=True)

    @staticmethod
    def partition(tenant_id: str, user_id: str) -> str:
        return tenant_pk(tenant_id, "USER", user_id, "PASSKEYS")

    @staticmethod
    def key(tenant_id: str, user_id: str, passkey_id: str) -> tuple[str, str]:
        return Passkey.partition(tenant_id, user_id), f"PK#{passkey_id}"


class Ceremony(msgspec.Struct):
    token: str  # the client's handle on the ceremony (only its hash is stored)
    options: dict[str, Any]  # PublicKeyCredential{Creation,Request}OptionsJSON


def rp_id() -> str:
    return urlsplit(settings().app_origin).hostname or ""


def challenge(token: str) -> bytes:
    """The WebAuthn challenge of a ceremony, derived from its token: the stored hash cannot give it back."""
    return hashlib.sha256(b"protu passkey challenge\x00" + token.encode()).digest()


def user_handle(user: User) -> bytes:
    return f"{user.tenant_id}/{user.id}".encode()


def of_user(tenant_id: str, user_id: str) -> list[Passkey]:
    found = Passkey.query(Passkey.partition(tenant_id, user_id), consistent_read=True)
    return sorted(found, key=lambda p: (p.created_at, p.name))  # oldest first (to the second)


def _options_json(options: Any) -> dict[str, Any]:
    # cold start: loaded on first use
    from webauthn import options_to_json

    return json.loads(options_to_json(options))


def _new_ceremony(kind: str, tenant_id: str, user_id: str) -> tuple[str, OneTimeToken]:
    token, item = accounts.token_item(kind, tenant_id, user_id, int(time.time()) + CEREMONY_SECONDS)
    item.save(condition=OneTimeToken.pk.does_not_exist())
    return token, item


def _spend(token: str, kind: str, tenant_id: str = NOBODY, user_id: str = NOBODY) -> None:
    """Use the ceremony of ``token`` once, whatever the answer then proves (a failed answer needs a new ceremony):
    unknown, used (a conditional delete: two answers racing cannot both pass), expired, of another kind or bound to
    someone else is 401 ``ceremony_expired``."""
    expired = errors.Unauthorized("This passkey request expired. Try again.", code="ceremony_expired")
    try:
        item = accounts.redeem(token, kind)
    except errors.BadRequest:
        raise expired from None
    if (item.tenant_id, item.user_id) != (tenant_id, user_id):
        raise expired
    try:
        item.delete(condition=OneTimeToken.pk.exists())
    except DeleteError as error:
        if condition_failed(error):
            raise expired from None
        raise


def _invalid() -> errors.Unauthorized:
    return errors.Unauthorized("This passkey could not be verified.", code="passkey_invalid")


# ------------------------------------------------------------------------------------------------ registration
def registration_options(user: User) -> Ceremony:
    # cold start: loaded on first use
    from webauthn import generate_registration_options
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    existing = of_user(user.tenant_id, user.id)
    if len(existing) >= MAX_PASSKEYS:
        raise errors.Conflict(f"You have {MAX_PASSKEYS} passkeys: remove one first.", code="passkey_limit_reached")
    token, _ = _new_ceremony(REGISTER, user.tenant_id, user.id)
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=user_handle(user),
        user_display_name=user.name or user.email,
        challenge=challenge(token),
        timeout=CEREMONY_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=_bytes(p.credential_id)) for p in existing],
    )
    return Ceremony(token, _options_json(options))


def register(user: User, ceremony: str, name: str, credential: dict[str, Any]) -> tuple[Passkey, list[str]]:
    """Verify the browser's answer to ``registration_options`` and keep the passkey (audited). Its refusals are
    400s (``ceremony_expired``, ``passkey_invalid``): inside a session, a 401 would mean the session ended.
    Answers the passkey and, when it is the user's first second factor (no app, no recovery codes), ten recovery
    codes made in the same transaction (``mfa.recovery_codes_created``), shown this once: a device-bound passkey
    lost does not lock its holder out."""
    try:
        return _register(user, ceremony, name, credential)
    except errors.Unauthorized as error:
        raise errors.BadRequest(error.message, code=error.code) from None


def _register(user: User, ceremony: str, name: str, credential: dict[str, Any]) -> tuple[Passkey, list[str]]:
    # cold start: loaded on first use
    from webauthn import verify_registration_response
    from webauthn.helpers import parse_registration_credential_json

    _spend(ceremony, REGISTER, user.tenant_id, user.id)
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge(ceremony),
            expected_rp_id=rp_id(),
            expected_origin=settings().app_origin,
            require_user_verification=True,
        )
    except Exception as error:  # noqa: BLE001 - the library raises many kinds for a malformed or forged answer
        _refused(user, "passkey.registered", error)
        raise _invalid() from None
    credential_id = _b64(verified.credential_id)
    existing = of_user(user.tenant_id, user.id)
    if any(p.credential_id == credential_id for p in existing):
        raise errors.Conflict("This passkey is registered already.", code="passkey_exists")
    if len(existing) >= MAX_PASSKEYS:
        raise errors.Conflict(f"You have {MAX_PASSKEYS} passkeys: remove one first.", code="passkey_limit_reached")
    passkey_id = accounts.new_id("pk")
    passkey = Passkey(
        *Passkey.key(user.tenant_id, user.id, passkey_id),
        id=passkey_id,
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=name,
        credential_id=credential_id,
        public_key=_b64(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=[t.value for t in (parsed.response.transports or [])][:8],
        backup_eligible=verified.credential_device_type == "multi_device",
        backed_up=bool(verified.credential_backed_up),
        created_at=int(time.time()),
    )
    first = not user.mfa_enabled and not user.recovery_hashes  # no app, no recovery codes: give them codes now
    codes = [mfa.new_recovery_code() for _ in range(mfa.RECOVERY_CODES)] if first else []
    actions, condition = [User.passkey_count.add(1)], User.pk.exists()
    if first:  # an app turned on meanwhile brought its own codes: then this write is refused (409), not mixed
        actions.append(User.recovery_hashes.set([mfa.recovery_hash(c) for c in codes]))
        condition &= ~(User.mfa_enabled == True)  # noqa: E712 - a PynamoDB condition, not a comparison
    with Transaction(user.tenant_id, actor=user.id) as tx:
        tx.save(passkey, condition=Passkey.pk.does_not_exist())
        tx.update(user, actions, condition=condition)
        tx.audit("passkey.registered", f"user:{user.id}", details=_described(passkey))
        if first:
            tx.audit("mfa.recovery_codes_created", f"user:{user.id}", details={"codes": len(codes), "with": "passkey"})
    return passkey, codes


def rename(user: User, passkey_id: str, name: str) -> Passkey:
    passkey = _get(user, passkey_id)
    with Transaction(user.tenant_id, actor=user.id) as tx:
        tx.update(passkey, [Passkey.name.set(name)], condition=Passkey.pk.exists())
        tx.audit(
            "passkey.renamed", f"user:{user.id}", details={"passkey": passkey.id, "from": passkey.name, "to": name}
        )
    passkey.name = name
    return passkey


def remove(user: User, company: Company, passkey_id: str) -> None:
    """Remove a passkey; the last second factor of a company that requires one stays (409 ``last_second_factor``)."""
    passkey = _get(user, passkey_id)
    remains = User.passkey_count >= 1
    if company.require_mfa:
        if not user.mfa_enabled and int(user.passkey_count or 0) <= 1:
            raise errors.Conflict(
                "Your company requires two-factor authentication: keep at least one passkey or authenticator app.",
                code="last_second_factor",
            )
        remains &= (User.mfa_enabled == True) | (User.passkey_count >= 2)  # noqa: E712 - a condition; racing the app
    actions = [User.passkey_count.add(-1)]
    if not user.mfa_enabled and int(user.passkey_count or 0) <= 1:  # no second factor left: its codes go too
        actions.append(User.recovery_hashes.set([]))
    with Transaction(user.tenant_id, actor=user.id) as tx:
        tx.delete(passkey, condition=Passkey.pk.exists())
        tx.update(user, actions, condition=remains)
        tx.audit("passkey.removed", f"user:{user.id}", details={"passkey": passkey.id, "name": passkey.name})


def _get(user: User, passkey_id: str) -> Passkey:
    try:
        return Passkey.get(*Passkey.key(user.tenant_id, user.id, passkey_id), consistent_read=True)
    except Passkey.DoesNotExist:
        raise errors.NotFound("No such passkey.") from None


def _described(passkey: Passkey) -> dict[str, Any]:
    return {"passkey": passkey.id, "name": passkey.name, "synced": bool(passkey.backup_eligible)}


# ------------------------------------------------------------------------------------------------ sign-in
def sign_in_options(source_ip: str) -> Ceremony:
    """A first-factor ceremony: discoverable (no credentials listed), user verification required."""
    # cold start: loaded on first use
    from webauthn import generate_authentication_options
    from webauthn.helpers.structs import UserVerificationRequirement

    login_guard.check_address(source_ip)
    token, _ = _new_ceremony(SIGN_IN, NOBODY, NOBODY)
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge(token),
        timeout=CEREMONY_SECONDS * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return Ceremony(token, _options_json(options))


def sign_in(ceremony: str, credential: dict[str, Any], *, ip: str, user_agent: str) -> accounts.SignedIn:
    """The first factor: the passkey names its user (the user handle); with user verification it is two factors.
    A failure counts against the source address only (``login_guard``): nobody is locked out by it."""
    login_guard.check_address(ip)
    _spend(ceremony, SIGN_IN)
    user: User | None = None
    try:
        user, company = _account_of(credential)
        use = _verify(user, credential, ceremony, ip=ip, require_uv=True)
    except errors.Unauthorized:
        metrics.count("SignInFailures")
        login_guard.record_address_failure(ip)
        signals.raise_signal(  # as a wrong password: the incident detector counts guesses per address
            "login.failed",
            tenant_id=user.tenant_id if user else None,
            user_id=user.id if user else None,
            source_ip=ip,
            details={"method": "passkey", **({"account": login_guard.account_id(user.email)} if user else {})},
        )
        raise
    if user.locked_until and int(user.locked_until) > time.time():
        raise errors.Forbidden(
            "This account is locked after suspicious activity. Sign in with a link from your email, or reset your "
            "password, to unlock it.",
            code="account_locked",
        )
    domains.refuse_user_unless_allowed(user)  # single sign-on enforced: the provider decides who signs in
    # cold start: the sign-in flows load with the routes that use them
    from protu.identity import signin

    signed_in = signin.signed_in_with(user, company, "passkey", ip, user_agent, passkey_update=_used(use))
    login_guard.step_up_done(user.email)  # two factors: as much as a step-up asks
    return signed_in


def second_factor_options(mfa_token: str) -> Ceremony:
    """A second-factor ceremony for the two-factor step of ``mfa_token``: the user's passkeys listed."""
    step = accounts.redeem(mfa_token, "mfa")
    return _user_options(SECOND_FACTOR, step.tenant_id, step.user_id, user_verification="preferred")


def reauthentication_options(tenant_id: str, user_id: str) -> Ceremony:
    """A ceremony to confirm it is still the signed-in user (``reauth``): their passkeys listed, user verification
    required (the passkey's PIN or biometric stands for the password)."""
    return _user_options(REAUTH, tenant_id, user_id, user_verification="required")


def _user_options(kind: str, tenant_id: str, user_id: str, *, user_verification: str) -> Ceremony:
    # cold start: loaded on first use
    from webauthn import generate_authentication_options
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

    found = of_user(tenant_id, user_id)
    if not found:
        raise errors.Conflict("You have no passkey.", code="no_passkey")
    token, _ = _new_ceremony(kind, tenant_id, user_id)
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge(token),
        timeout=CEREMONY_SECONDS * 1000,
        allow_credentials=[PublicKeyCredentialDescriptor(id=_bytes(p.credential_id)) for p in found],
        user_verification=UserVerificationRequirement(user_verification),
    )
    return Ceremony(token, _options_json(options))


def reauthenticate(principal: Principal, ceremony: str, credential: dict[str, Any], *, source_ip: str) -> None:
    """Re-authenticate with one of your passkeys (user verification required): a refused one counts as a wrong
    password does (``reauth.wrong_answer``) and is a 403 (inside a session a 401 would mean it ended); a right one
    renews the session's ``auth_time`` with the passkey's use."""
    # cold start: loaded on first use
    from protu.identity import reauth

    user = accounts.get_user(principal.tenant_id, principal.user_id)
    try:
        _spend(ceremony, REAUTH, user.tenant_id, user.id)
        use = _verify(user, credential, ceremony, ip=source_ip, require_uv=True, action="auth.reauthenticate")
    except errors.Unauthorized as refused:
        if refused.code == "passkey_invalid":  # audited by _verify; a clone is signalled there
            reauth.wrong_answer(principal, user, source_ip, "reauth.failed_burst")
        raise errors.Forbidden(refused.message, code=refused.code) from None
    passkey, actions, condition, details = _used(use)
    reauth.confirmed(principal, user, details={"method": "passkey", **details}, also=(passkey, actions, condition))


def second_factor(
    mfa_token: str, ceremony: str, credential: dict[str, Any], *, ip: str, user_agent: str
) -> accounts.SignedIn:
    """Finish the two-factor step with a passkey of the step's user."""
    step = accounts.redeem(mfa_token, "mfa")
    _spend(ceremony, SECOND_FACTOR, step.tenant_id, step.user_id)
    user, company = accounts.get_user(step.tenant_id, step.user_id), accounts.get_company(step.tenant_id)
    try:
        use = _verify(user, credential, ceremony, ip=ip, require_uv=False)
    except errors.Unauthorized:
        metrics.count("SignInFailures")
        raise
    # cold start: the sign-in flows load with the routes that use them
    from protu.identity import signin

    method = f"{step.method}+passkey" if step.method in ("password", "magic_link") else "passkey"
    signed_in = signin.signed_in_with(
        user, company, method, ip, user_agent, extra=step, audited="passkey", passkey_update=_used(use)
    )
    login_guard.step_up_done(user.email)  # the second factor is the step-up
    return signed_in


class _Use(msgspec.Struct):
    passkey: Passkey
    sign_count: int
    backed_up: bool


def _used(use: _Use) -> tuple[Passkey, list, Any, dict[str, Any]]:
    """What a successful use writes (in the session's transaction): counter, backup state, last use."""
    passkey = use.passkey
    actions = [
        Passkey.sign_count.set(max(use.sign_count, int(passkey.sign_count or 0))),
        Passkey.backed_up.set(use.backed_up),
        Passkey.last_used_at.set(int(time.time())),
    ]
    condition = Passkey.sign_count == int(passkey.sign_count or 0)  # two uses racing with one counter: one wins
    return passkey, actions, condition, {"passkey": passkey.id, "name": passkey.name}


def _account_of(credential: Any) -> tuple[User, Company]:
    """The active user a discoverable credential names by its user handle."""
    response = credential.get("response") if isinstance(credential, dict) else None
    handle = response.get("userHandle") if isinstance(response, dict) else None
    try:
        found = _HANDLE.fullmatch(_bytes(handle).decode()) if isinstance(handle, str) and len(handle) < 200 else None
    except (ValueError, UnicodeDecodeError):
        found = None
    if found is None:
        raise _invalid()
    try:
        user, company = accounts.get_user(*found.groups()), accounts.get_company(found.group(1))
    except errors.NotFound:
        raise _invalid() from None
    if user.status != "active":
        raise _invalid()
    return user, company


def _verify(
    user: User, credential: Any, ceremony: str, *, ip: str, require_uv: bool, action: str = "auth.login"
) -> _Use:
    """The credential must be one of ``user``'s passkeys and verify (challenge, origin, RP id, signature, user
    presence, and user verification when asked). A counter that went back is a clone: refused and signalled. A
    refusal is on the audit log as a failed ``action``."""
    # cold start: loaded on first use
    from webauthn import verify_authentication_response

    credential_id = credential.get("id") if isinstance(credential, dict) else None
    passkey = next((p for p in of_user(user.tenant_id, user.id) if p.credential_id == credential_id), None)
    if passkey is None:
        _refused(user, action, "unknown credential")
        raise _invalid()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge(ceremony),
            expected_rp_id=rp_id(),
            expected_origin=settings().app_origin,
            credential_public_key=_bytes(passkey.public_key),
            credential_current_sign_count=0,  # the counter is checked below, after the signature
            require_user_verification=require_uv,
        )
    except Exception as error:  # noqa: BLE001 - the library raises many kinds for a malformed or forged answer
        _refused(user, action, error, passkey)
        raise _invalid() from None
    stored = int(passkey.sign_count or 0)
    if stored and verified.new_sign_count and verified.new_sign_count <= stored:
        details = {"method": "passkey", "passkey": passkey.id, "reason": "cloned"}
        audit.record(user.tenant_id, action, f"user:{user.id}", actor=user.id, outcome="failure", details=details)
        signals.raise_signal(
            "passkey.cloned", tenant_id=user.tenant_id, user_id=user.id, source_ip=ip, details={"passkey": passkey.id}
        )
        raise errors.Unauthorized(
            "This passkey looks copied: it was refused. Use another way to sign in.", code="passkey_cloned"
        )
    return _Use(passkey, verified.new_sign_count, bool(verified.credential_backed_up))


def _refused(user: User, action: str, error: Any, passkey: Passkey | None = None) -> None:
    """A refused passkey on the company's audit log: the reason's kind, never the credential."""
    reason = error if isinstance(error, str) else type(error).__name__
    details: dict[str, Any] = {"method": "passkey", "reason": reason}
    if passkey is not None:
        details["passkey"] = passkey.id
    audit.record(user.tenant_id, action, f"user:{user.id}", actor=user.id, outcome="failure", details=details)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
