"""Passkeys (``protu.identity.passkeys``): the caller's own (``/api/me/passkeys*``), and signing in with one as the
first factor (``/api/auth/passkey*``) or as the second (``/api/auth/mfa/passkey*``).

Each ceremony is two calls: ``.../options`` answers ``{ceremony, options}`` (``options`` is the
``PublicKeyCredentialCreationOptionsJSON`` or ``...RequestOptionsJSON`` for ``navigator.credentials``), then the
browser's ``credential.toJSON()`` comes back with the ``ceremony``, which works once and for 5 minutes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from protu import errors
from protu.http.auth import (
    EXAMPLE_TOKEN,
    RECENT_AUTH,
    SIGN_IN_LIMITS,
    SSO_REQUIRED,
    TOKEN,
    SignedInOut,
    StatusOut,
    Token,
    _signed_in,
)
from protu.http.routing import PUBLIC, Call, Refusal, Router
from protu.identity import accounts, passkeys, reauth
from protu.schemas import Name, Strict, check_name, record_id
from protu.security import ratelimit

router = Router("passkeys")

Credential = Annotated[
    dict[str, Any],
    msgspec.Meta(
        max_length=16,
        description="The browser's PublicKeyCredential as JSON (`credential.toJSON()`): id, rawId, type, response...",
    ),
]
EXAMPLE_CREDENTIAL = {
    "id": "3q2-7w",
    "rawId": "3q2-7w",
    "type": "public-key",
    "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
}

INVALID = Refusal(401, "passkey_invalid", "The passkey did not verify (or is not one of this account's).")
EXPIRED = Refusal(401, "ceremony_expired", "The ceremony was used already or expired: ask for new options.")
CLONED = Refusal(401, "passkey_cloned", "The passkey's signature counter went back: refused as a possible copy.")
LAST = Refusal(409, "last_second_factor", "The company requires two-factor and this is your last second factor.")
LIMIT = Refusal(409, "passkey_limit_reached", f"You have {passkeys.MAX_PASSKEYS} passkeys already.")


class NothingIn(Strict):
    """An empty object: ``{}``."""


class RegisterIn(Strict):
    ceremony: Token
    name: Name
    credential: Credential


class RenameIn(Strict):
    name: Name


class SignInIn(Strict):
    ceremony: Token
    credential: Credential


class MfaOptionsIn(Strict):
    mfa_token: Token


class ReauthPasskeyIn(Strict):
    ceremony: Token
    credential: Credential


class MfaPasskeyIn(Strict):
    mfa_token: Token
    ceremony: Token
    credential: Credential


class PasskeyOut(msgspec.Struct):
    id: str
    name: str
    created_at: int
    last_used_at: int | None  # None: never used to sign in
    synced: bool  # backed up / multi-device (a synced passkey); False: bound to one device
    transports: list[str]  # how the browser reaches it (internal, hybrid, usb...)


class PasskeyAddedOut(PasskeyOut):
    recovery_codes: list[str] = []  # with a first second factor only: ten recovery codes, shown this once


class CeremonyOut(msgspec.Struct):
    ceremony: str  # send it back with the credential (once, within 5 minutes)
    options: dict[str, Any]  # for navigator.credentials (base64url strings): parse...OptionsFromJSON


def _out(passkey: passkeys.Passkey) -> PasskeyOut:
    last = int(passkey.last_used_at) if passkey.last_used_at else None
    synced = bool(passkey.backup_eligible)
    return PasskeyOut(passkey.id, passkey.name, int(passkey.created_at), last, synced, list(passkey.transports or []))


def _me(call: Call):
    p = call.principal
    return accounts.get_user(p.tenant_id, p.user_id)


def _name(value: str) -> str:
    check_name(value.strip())
    return value.strip()


OPTIONS_PER_ADDRESS = 300  # in 15 minutes: a sign-in page asks once per visit (conditional mediation)


def _options_limit(call: Call, scope: str) -> None:
    """Options are cheap to ask for but each one is a stored ceremony (5 minutes): bounded per address."""
    if not ratelimit.hit(scope, call.source_ip, limit=OPTIONS_PER_ADDRESS, window_seconds=900).allowed:
        raise errors.RateLimited(code="too_many_attempts")


# ------------------------------------------------------------------------------------------------ your passkeys
@router.get("/api/me/passkeys", permission="self")
def my_passkeys(call: Call) -> list[PasskeyOut]:
    """Your passkeys, oldest first: name, when added and last used, synced or bound to one device."""
    p = call.principal
    return [_out(passkey) for passkey in passkeys.of_user(p.tenant_id, p.user_id)]


@router.post("/api/me/passkeys/options", permission="self", body=NothingIn, example={}, errors=(RECENT_AUTH, LIMIT))
def registration_options(call: Call) -> CeremonyOut:
    """Start adding a passkey (needs recent authentication): options for ``navigator.credentials.create()``."""
    reauth.require_recent_auth(call.principal)
    ceremony = passkeys.registration_options(_me(call))
    return CeremonyOut(ceremony.token, ceremony.options)


@router.post(
    "/api/me/passkeys",
    permission="self",
    body=RegisterIn,
    status=201,
    example={"ceremony": EXAMPLE_TOKEN, "name": "My laptop", "credential": EXAMPLE_CREDENTIAL},
    errors=(
        RECENT_AUTH,
        Refusal(400, "passkey_invalid", "The passkey did not verify (a 400 here: the session is fine)."),
        Refusal(400, "ceremony_expired", "The ceremony was used already or expired: ask for new options."),
        LIMIT,
        Refusal(409, "passkey_exists", "This passkey is registered already."),
        Refusal(422, "name_contains_link", "A name may not be a web address."),
    ),
)
def register(call: Call) -> PasskeyAddedOut:
    """Add a passkey: the browser's answer to the options (needs recent authentication); audited. When it is your
    first second factor (no authenticator app, no recovery codes), the answer carries ten recovery codes, shown
    this once: each signs you in once if you lose the passkey."""
    reauth.require_recent_auth(call.principal)
    b = call.body
    passkey, codes = passkeys.register(_me(call), b.ceremony, _name(b.name), b.credential)
    return PasskeyAddedOut(**msgspec.structs.asdict(_out(passkey)), recovery_codes=codes)


@router.patch(
    "/api/me/passkeys/{passkey_id}",
    permission="self",
    body=RenameIn,
    example={"name": "Work phone"},
    errors=(Refusal(422, "name_contains_link", "A name may not be a web address."),),
)
def rename(call: Call) -> PasskeyOut:
    """Rename one of your passkeys; audited."""
    passkey_id = record_id(call, "passkey_id", "No such passkey.")
    return _out(passkeys.rename(_me(call), passkey_id, _name(call.body.name)))


@router.delete("/api/me/passkeys/{passkey_id}", permission="self", status=204, errors=(RECENT_AUTH, LAST))
def remove(call: Call) -> None:
    """Remove one of your passkeys (needs recent authentication); the last second factor stays while your company
    requires two-factor (409 ``last_second_factor``); audited."""
    reauth.require_recent_auth(call.principal)
    passkey_id = record_id(call, "passkey_id", "No such passkey.")
    passkeys.remove(_me(call), accounts.get_company(call.principal.tenant_id), passkey_id)


# ------------------------------------------------------------------------------------------------ sign-in
@router.post(
    "/api/auth/passkey/options",
    permission=PUBLIC,
    body=NothingIn,
    example={},
    errors=(*SIGN_IN_LIMITS,),
)
def sign_in_options(call: Call) -> CeremonyOut:
    """Start signing in with a passkey, no email needed: options for ``navigator.credentials.get()`` (any passkey
    of this site; user verification required)."""
    _options_limit(call, "passkey-options")
    ceremony = passkeys.sign_in_options(call.source_ip)
    return CeremonyOut(ceremony.token, ceremony.options)


@router.post(
    "/api/auth/passkey",
    permission=PUBLIC,
    body=SignInIn,
    example={"ceremony": EXAMPLE_TOKEN, "credential": EXAMPLE_CREDENTIAL},
    errors=(
        INVALID,
        EXPIRED,
        CLONED,
        Refusal(403, "account_locked", "The account is locked: sign in with an email link, or reset the password."),
        SSO_REQUIRED,
        *SIGN_IN_LIMITS,
    ),
)
def sign_in(call: Call) -> SignedInOut:
    """Sign in with a passkey (user verified: two factors in one). Answers as ``POST /api/auth/login`` does, with
    the refresh cookie. A failure counts against this address only. A user whose company enforces single sign-on
    for their address is refused (403 ``sso_required``) unless they are a break-glass owner."""
    b = call.body
    return _signed_in(call, passkeys.sign_in(b.ceremony, b.credential, ip=call.source_ip, user_agent=call.user_agent))


@router.post(
    "/api/auth/reauthenticate/passkey/options",
    permission="self",
    body=NothingIn,
    example={},
    errors=(Refusal(409, "no_passkey", "You have no passkey."), *SIGN_IN_LIMITS),
)
def reauthentication_options(call: Call) -> CeremonyOut:
    """Confirm it is you with one of your passkeys instead of your password: options listing your passkeys (user
    verification required)."""
    _options_limit(call, "passkey-reauth-options")
    p = call.principal
    ceremony = passkeys.reauthentication_options(p.tenant_id, p.user_id)
    return CeremonyOut(ceremony.token, ceremony.options)


@router.post(
    "/api/auth/reauthenticate/passkey",
    permission="self",
    body=ReauthPasskeyIn,
    example={"ceremony": EXAMPLE_TOKEN, "credential": EXAMPLE_CREDENTIAL},
    errors=(
        Refusal(403, "passkey_invalid", "The passkey did not verify (or is not one of yours)."),
        Refusal(403, "ceremony_expired", "The ceremony was used already or expired: ask for new options."),
        Refusal(403, "passkey_cloned", "The passkey's signature counter went back: refused as a possible copy."),
    ),
)
def reauthenticate(call: Call) -> StatusOut:
    """Confirm it is you with one of your passkeys before a sensitive change, as ``POST /api/auth/reauthenticate``
    does with a password. A refused passkey counts as a wrong password."""
    b = call.body
    passkeys.reauthenticate(call.principal, b.ceremony, b.credential, source_ip=call.source_ip)
    return StatusOut("reauthenticated")


@router.post(
    "/api/auth/mfa/passkey/options",
    permission=PUBLIC,
    body=MfaOptionsIn,
    example={"mfa_token": EXAMPLE_TOKEN},
    errors=(*TOKEN, Refusal(409, "no_passkey", "The account has no passkey."), *SIGN_IN_LIMITS),
)
def second_factor_options(call: Call) -> CeremonyOut:
    """The two-factor step with a passkey: options listing your passkeys."""
    _options_limit(call, "passkey-mfa-options")
    ceremony = passkeys.second_factor_options(call.body.mfa_token)
    return CeremonyOut(ceremony.token, ceremony.options)


@router.post(
    "/api/auth/mfa/passkey",
    permission=PUBLIC,
    body=MfaPasskeyIn,
    example={"mfa_token": EXAMPLE_TOKEN, "ceremony": EXAMPLE_TOKEN, "credential": EXAMPLE_CREDENTIAL},
    errors=(*TOKEN, INVALID, EXPIRED, CLONED),
)
def second_factor(call: Call) -> SignedInOut:
    """Finish the two-factor step with one of your passkeys."""
    b = call.body
    result = passkeys.second_factor(
        b.mfa_token, b.ceremony, b.credential, ip=call.source_ip, user_agent=call.user_agent
    )
    return _signed_in(call, result)
