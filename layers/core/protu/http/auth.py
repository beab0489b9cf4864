"""Identity routes: sign-up and sign-in (``/api/auth/*``, public), the caller's own account (``/api/me*``).

The refresh token is an HttpOnly, Secure, SameSite=Strict cookie scoped to ``/api/auth``: the SPA's JavaScript
never sees it, and the browser sends it only to the refresh and sign-out endpoints.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from protu import errors
from protu.http.routing import PUBLIC, Call, Refusal, Router
from protu.identity import (
    accounts,
    company_settings,
    domains,
    invitations,
    rbac,
    reauth,
    sessions,
    tokens,
    welcome,
)
from protu.schemas import Email, Name, NewSecret, Secret, Strict, documented, mailable, record_id
from protu.security import ratelimit

router = Router("auth")
EXAMPLE_TOKEN = "Vx3ka9Qe0lJ2pYHn7cR5sT1uW8zA4bD6fG2hK9mN0pQ"  # noqa: S105 - the shape of a token, for the API document

Token = Annotated[str, msgspec.Meta(min_length=20, max_length=128)]
Code = Annotated[str, msgspec.Meta(min_length=6, max_length=32)]

# What these routes can refuse beyond the generic errors (the API document lists it; ``Router.route(errors=...)``).
POLICY = tuple(
    Refusal(422, code, why)
    for code, why in (
        ("password_too_short", "The password is shorter than the policy once normalised (NFKC)."),
        ("password_too_long", "The password is longer than the policy once normalised (NFKC)."),
        ("password_common", "The password is one of the most common ones."),
        ("password_contextual", "The password is built from the name, email address or company."),
        ("password_weak", "The password is easy to guess (repeats, sequences, keyboard patterns, dates...)."),
    )
)
TOKEN = (
    Refusal(400, "invalid_token", "The link is not valid, was replaced by a newer one, or was already used."),
    Refusal(400, "token_expired", "The link expired: ask for a new one."),
)
NAME_LINK = Refusal(422, "name_contains_link", "A name may not be a web address.")
FOLDED_EMAIL = Refusal(
    422, "validation_failed", 'The address breaks the mailer\'s bounds once case-folded ("ß" is "ss").', "email"
)
RECENT_AUTH = Refusal(403, "reauthentication_required", "Confirm your password first (POST /api/auth/reauthenticate).")
WRONG_ANSWER = Refusal(403, "invalid_password", "The password or the code is not correct.")
JUST_USED_WHY = "The code is a current one but was used already (it counts as a failed attempt): wait for the next."
CODE_JUST_USED = Refusal(403, "code_just_used", JUST_USED_WHY)
PASSWORD_OR_CODE = Refusal(422, "password_or_code_required", "Give your password or a code.")
SIGN_IN_LIMITS = (
    Refusal(429, "too_many_attempts", "Too many attempts from this address or on this account; see Retry-After."),
    Refusal(429, "address_blocked", "This address is blocked after an incident; see Retry-After."),
)
SSO_REQUIRED = Refusal(
    403, "sso_required", "The address's company signs in through its identity provider (single sign-on enforced)."
)
EMAIL_TAKEN = Refusal(409, "email_in_use", "The address has a Protu account already (one address, one company).")


AcceptTerms = Annotated[
    bool,
    documented(const=True, description="The terms and privacy notice are accepted (version and time are recorded)."),
]


class SignupIn(Strict):
    company_name: Name
    name: Name
    email: Email
    password: NewSecret
    accept_terms: AcceptTerms


class TokenIn(Strict):
    token: Token


class LoginIn(Strict):
    email: Email
    password: Secret


class MfaIn(Strict):
    mfa_token: Token
    code: Code


class EmailIn(Strict):
    email: Email


class ResetIn(Strict):
    token: Token
    password: NewSecret


class AcceptIn(Strict):
    token: Token
    name: Name
    password: NewSecret


class ReauthIn(Strict):
    password: Secret | None = None
    code: Code | None = None


class PasswordChangeIn(Strict):
    current_password: Secret
    new_password: NewSecret
    end_other_sessions: bool = True


class CompanyOut(msgspec.Struct):
    id: str
    name: str


class Me(msgspec.Struct):
    id: str
    email: str
    name: str
    role: str
    company: CompanyOut
    mfa_enabled: bool
    email_verified: bool
    permissions: list[str]  # what the role may do (protu.identity.rbac): the SPA shows only what is allowed
    mfa_setup_required: bool  # the company requires two-factor and it is off: only their own account is open
    show_welcome: bool = False  # an owner who has not put the first steps away: a sign-in lands on them
    sign_in_method: str = ""  # how this session began (sessions.METHODS); "sso": the identity provider answers for 2FA


class SignedInOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    user: Me


class MfaRequiredOut(msgspec.Struct):
    mfa_required: bool
    mfa_token: str
    methods: list[str] = msgspec.field(default_factory=list)  # what the step accepts: totp, recovery_code, passkey


class StepUpOut(msgspec.Struct):
    """The password was right, but recent failed attempts on the account ask for more: a sign-in link was emailed."""

    step_up_required: bool
    method: str  # email_link


class StatusOut(msgspec.Struct):
    status: str


class PasswordChangedOut(msgspec.Struct):
    status: str
    sessions_ended: int


class SessionOut(msgspec.Struct):
    id: str
    created_at: int  # when it started
    last_seen_at: int  # last active (written at most once a minute)
    ip: str
    user_agent: str
    current: bool  # this device: the session of the request
    browser: str | None  # "Firefox", from the user agent; None when it names nothing recognisable
    browser_version: str | None  # the browser's major version, "128"
    system: str | None  # "Windows", "iOS 17.5"
    network: str | None  # the coarse network the session is bound to: the /16 (IPv4) or /48 (IPv6)
    sign_in_method: str | None  # password, magic_link (+mfa, +passkey), passkey, invitation (sessions.METHODS)


def me_of(user, company, sign_in_method: str = "") -> Me:
    return Me(
        user.id,
        user.email,
        user.name,
        user.role,
        CompanyOut(company.id, company.name),
        bool(user.mfa_enabled),
        bool(user.email_verified),
        sorted(rbac.ROLE_PERMISSIONS.get(user.role, ())),
        company_settings.mfa_setup_required(user, company, sign_in_method),
        welcome.shows(user),
        sign_in_method,
    )


def refresh_cookie(value: str, max_age: int) -> str:
    return f"{sessions.REFRESH_COOKIE}={value}; Max-Age={max_age}; Path=/api/auth; HttpOnly; Secure; SameSite=Strict"


def _signed_in(call: Call, result) -> SignedInOut | MfaRequiredOut | StepUpOut:
    if isinstance(result, accounts.MfaRequired):
        return MfaRequiredOut(True, result.mfa_token, result.methods)
    if isinstance(result, accounts.StepUpRequired):
        return StepUpOut(True, result.method)
    remaining = max(0, int(result.session.absolute_expires_at - result.session.last_seen_at))
    call.response_headers["Set-Cookie"] = refresh_cookie(result.refresh_token, remaining)
    me = me_of(result.user, result.company, result.session.sign_in_method or "")
    return SignedInOut(result.access_token, "Bearer", tokens.ACCESS_TOKEN_SECONDS, me)


def cookie(call: Call, name: str) -> str | None:
    """The value of the request's cookie ``name``, if it came with one."""
    for part in call.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _limit(scope: str, key: str, limit: int, window: int) -> bool:
    return ratelimit.hit(scope, key, limit=limit, window_seconds=window).allowed


# ------------------------------------------------------------------------------------------------ public
@router.post(
    "/api/auth/signup",
    permission=PUBLIC,
    body=SignupIn,
    status=201,
    errors=(
        *POLICY,
        NAME_LINK,
        FOLDED_EMAIL,
        Refusal(422, "terms_not_accepted", "The terms and privacy notice are not accepted.", "accept_terms"),
        Refusal(429, "too_many_attempts", "Too many sign-ups from here."),
    ),
    example={
        "company_name": "Acme Ltd",
        "name": "Ana Smith",
        "email": "ana@acme.example",
        "password": "violet harbour lantern 42",
        "accept_terms": True,
    },
)
def signup(call: Call) -> StatusOut:
    """Create a company with you as its owner; a verification email follows. ``accept_terms`` must be true: the
    version of the terms and privacy notice accepted and the time are recorded with the company."""
    from protu.identity import signup as signups  # imported by the routes that use it: cold start

    if not _limit("signup", call.source_ip, 10, 3600):
        raise errors.RateLimited(code="too_many_attempts")
    b = call.body
    signups.signup(b.company_name.strip(), b.name.strip(), mailable(b.email), b.password, accepted_terms=b.accept_terms)
    return StatusOut("verification_sent")


@router.post(
    "/api/auth/verify-email",
    permission=PUBLIC,
    body=TokenIn,
    example={"token": EXAMPLE_TOKEN},
    errors=(*TOKEN, EMAIL_TAKEN),
)
def verify_email(call: Call) -> StatusOut:
    """Confirm an email address with the token from the verification email."""
    from protu.identity import signup as signups  # imported by the routes that use it: cold start

    signups.verify_email(call.body.token)
    return StatusOut("verified")


@router.post(
    "/api/auth/login",
    permission=PUBLIC,
    body=LoginIn,
    example={"email": "ana@acme.example", "password": "violet harbour lantern 42"},
    errors=(
        Refusal(401, "invalid_credentials", "The email or the password is not correct."),
        Refusal(403, "account_locked", "The account is locked: sign in with an email link, or reset the password."),
        SSO_REQUIRED,
        *SIGN_IN_LIMITS,
    ),
)
def login(call: Call) -> SignedInOut | MfaRequiredOut | StepUpOut:
    """Sign in with email and password; answers the two-factor step when it is on, or ``step_up_required`` (a
    sign-in link was emailed) after repeated failed attempts on the account."""
    from protu.identity import signin  # imported by the routes that use it: cold start

    result = signin.login(call.body.email, call.body.password, ip=call.source_ip, user_agent=call.user_agent)
    return _signed_in(call, result)


@router.post(
    "/api/auth/mfa",
    permission=PUBLIC,
    body=MfaIn,
    example={"mfa_token": EXAMPLE_TOKEN, "code": "123456"},
    errors=(
        *TOKEN,
        Refusal(401, "invalid_code", "The code is not correct."),
        Refusal(401, "code_just_used", JUST_USED_WHY),
        Refusal(401, "mfa_attempts_exceeded", "Too many wrong codes: sign in again."),
    ),
)
def mfa(call: Call) -> SignedInOut:
    """Finish signing in with a two-factor code or a recovery code."""
    from protu.identity import signin  # imported by the routes that use it: cold start

    result = signin.complete_mfa(call.body.mfa_token, call.body.code, ip=call.source_ip, user_agent=call.user_agent)
    return _signed_in(call, result)


@router.post(
    "/api/auth/magic-link",
    permission=PUBLIC,
    body=EmailIn,
    status=202,
    example={"email": "ana@acme.example"},
    errors=(SSO_REQUIRED,),
)
def magic_link(call: Call) -> StatusOut:
    """Email a single-use sign-in link (valid 10 minutes). Same answer for every email."""
    from protu.identity import mailjobs  # imported by the routes that use it: cold start

    enforced = domains.enforcing(call.body.email)  # single sign-on enforced: the domain decides, not the account
    if _limit("magic-link-ip", call.source_ip, 30, 3600):  # the rest, off the request path: the same for every email
        mailjobs.enqueue("magic_link", email=accounts.normalise_email(call.body.email), ip=call.source_ip)
    if enforced is not None:  # 403 for every address; the job mails a break-glass owner's link all the same
        raise domains.sso_required()
    return StatusOut("sent_if_registered")


@router.post(
    "/api/auth/magic-link/verify",
    permission=PUBLIC,
    body=TokenIn,
    example={"token": EXAMPLE_TOKEN},
    errors=(*TOKEN, SSO_REQUIRED),
)
def magic_link_verify(call: Call) -> SignedInOut | MfaRequiredOut:
    """Sign in with the token of a magic link."""
    from protu.identity import magic_link as magic_links  # imported where used: cold start

    result = magic_links.verify_magic_link(call.body.token, ip=call.source_ip, user_agent=call.user_agent)
    return _signed_in(call, result)


@router.post(
    "/api/auth/password/forgot",
    permission=PUBLIC,
    body=EmailIn,
    status=202,
    example={"email": "ana@acme.example"},
    errors=(SSO_REQUIRED,),
)
def forgot(call: Call) -> StatusOut:
    """Email a password-reset link. Same answer for every email."""
    from protu.identity import mailjobs  # imported by the routes that use it: cold start

    enforced = domains.enforcing(call.body.email)  # single sign-on enforced: the domain decides, not the account
    if _limit("reset-ip", call.source_ip, 30, 3600):  # the rest, off the request path: the same for every email
        mailjobs.enqueue("password_reset", email=accounts.normalise_email(call.body.email), ip=call.source_ip)
    if enforced is not None:  # 403 for every address; the job mails a break-glass owner's link all the same
        raise domains.sso_required()
    return StatusOut("sent_if_registered")


@router.post(
    "/api/auth/password/reset",
    permission=PUBLIC,
    body=ResetIn,
    example={"token": EXAMPLE_TOKEN, "password": "a new long passphrase 7"},
    errors=(*TOKEN, *POLICY, SSO_REQUIRED),
)
def reset(call: Call) -> StatusOut:
    """Set a new password with a reset token; every session of the account ends. Refused (403 ``sso_required``)
    once the company enforces single sign-on for the address, unless it is a break-glass owner's."""
    from protu.identity import recovery  # imported by the routes that use it: cold start

    recovery.reset_password(call.body.token, call.body.password)
    return StatusOut("password_changed")


@router.post(
    "/api/auth/invitations/accept",
    permission=PUBLIC,
    body=AcceptIn,
    example={"token": EXAMPLE_TOKEN, "name": "Ben Jones", "password": "quiet orange bicycle 9"},
    errors=(*TOKEN, *POLICY, NAME_LINK, EMAIL_TAKEN),
)
def accept_invitation(call: Call) -> SignedInOut:
    """Join a company with the token of an invitation: your address becomes your account now. Only the newest link
    of an invitation works (400 ``invalid_token``); an address that has a Protu account already answers 409
    ``email_in_use`` (one address, one company); a name may not be a web address (422 ``name_contains_link``)."""

    b = call.body
    result = invitations.accept(b.token, b.name.strip(), b.password, ip=call.source_ip, user_agent=call.user_agent)
    return _signed_in(call, result)


@router.post(
    "/api/auth/invitations/refuse", permission=PUBLIC, body=TokenIn, example={"token": EXAMPLE_TOKEN}, errors=TOKEN
)
def refuse_invitations(call: Call) -> StatusOut:
    """With the refuse link of an invitation email: decline that invitation (whoever sent it is told) and receive
    no more invitations to this address from anyone for a year (they answer 409 ``invitations_refused``)."""

    invitations.refuse(call.body.token)
    return StatusOut("refused")


@router.post("/api/auth/refresh", permission=PUBLIC)
def refresh(call: Call) -> SignedInOut:
    """A new access token for the session of the refresh cookie; the cookie rotates."""
    value = cookie(call, sessions.REFRESH_COOKIE)
    if not value:
        raise errors.Unauthorized("Sign in to continue.", code="invalid_refresh")
    try:
        result = accounts.refresh(value, ip=call.source_ip, user_agent=call.user_agent)
    except errors.Unauthorized as error:
        error.headers = {**error.headers, "Set-Cookie": refresh_cookie("", 0)}
        raise
    return _signed_in(call, result)


@router.post("/api/auth/logout", permission=PUBLIC)
def logout(call: Call) -> None:
    """End this session at once (by its access token or its refresh cookie)."""
    ids = None
    header = call.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            claims = tokens.read_access_token(header[7:].strip())
            ids = (claims.tenant_id, claims.user_id, claims.session_id)
        except errors.Unauthorized:
            ids = None
    if ids is None and (value := cookie(call, sessions.REFRESH_COOKIE)):
        try:
            tenant_id, user_id, session_id, secret = sessions.parse_refresh(value)
            session = sessions.load(tenant_id, user_id, session_id)
            if session is not None and session.refresh_hash == tokens.token_hash(secret):
                ids = (tenant_id, user_id, session_id)
        except errors.Unauthorized:
            ids = None
    if ids is not None:
        accounts.end_session(*ids, actor=ids[1], reason="logout", action="auth.logout")
    call.response_headers["Set-Cookie"] = refresh_cookie("", 0)
    return None


# ------------------------------------------------------------------------------------------------ signed in
@router.post(
    "/api/auth/reauthenticate",
    permission="self",
    body=ReauthIn,
    example={"password": "violet harbour lantern 42"},
    errors=(WRONG_ANSWER, CODE_JUST_USED, PASSWORD_OR_CODE),
)
def reauthenticate(call: Call) -> StatusOut:
    """Confirm your password (or a two-factor code) before a sensitive change."""
    reauth.reauthenticate(call.principal, password=call.body.password, code=call.body.code, source_ip=call.source_ip)
    return StatusOut("reauthenticated")


@router.get("/api/me", permission="self")
def me(call: Call) -> Me:
    """Who you are, and your company."""
    p = call.principal
    return me_of(accounts.get_user(p.tenant_id, p.user_id), accounts.get_company(p.tenant_id), p.sign_in_method)


@router.post(
    "/api/me/password",
    permission="self",
    body=PasswordChangeIn,
    example={
        "current_password": "violet harbour lantern 42",
        "new_password": "a new long passphrase 7",
        "end_other_sessions": True,
    },
    errors=(RECENT_AUTH, Refusal(403, "invalid_password", "The current password is not correct."), *POLICY),
)
def change_password(call: Call) -> PasswordChangedOut:
    """Change your password (needs recent authentication); optionally end your other sessions."""
    from protu.identity import recovery  # imported by the routes that use it: cold start

    b = call.body
    ended = recovery.change_password(
        call.principal, b.current_password, b.new_password, end_other_sessions=b.end_other_sessions
    )
    return PasswordChangedOut("password_changed", ended)


@router.get("/api/me/sessions", permission="self")
def my_sessions(call: Call) -> list[SessionOut]:
    """Your active sessions, newest first."""
    p = call.principal
    live = sorted(sessions.live_for(p.tenant_id, p.user_id), key=lambda s: s.created_at, reverse=True)
    return [
        SessionOut(
            s.id,
            int(s.created_at),
            int(s.last_seen_at),
            s.ip,
            s.user_agent,
            s.id == p.session_id,
            **sessions.described(s),
        )
        for s in live
    ]


@router.delete("/api/me/sessions/{session_id}", permission="self", status=204, errors=(RECENT_AUTH,))
def revoke_session(call: Call) -> None:
    """End one of your sessions (another one needs recent authentication; this one is signing out)."""
    p = call.principal
    session_id = record_id(call, "session_id", "No such active session.")
    if session_id != p.session_id:
        reauth.require_recent_auth(p)  # ASVS 7.5.2: terminating sessions takes a fresh factor
    if not accounts.end_session(p.tenant_id, p.user_id, session_id, actor=p.user_id, reason="revoked_by_user"):
        raise errors.NotFound("No such active session.")


@router.delete("/api/me/sessions", permission="self", status=204, errors=(RECENT_AUTH,))
def revoke_other_sessions(call: Call) -> None:
    """End all your sessions but this one (needs recent authentication)."""
    p = call.principal
    reauth.require_recent_auth(p)
    accounts.end_sessions(p.tenant_id, p.user_id, actor=p.user_id, reason="revoked_by_user", keep=p.session_id)


# ------------------------------------------------------------------------------------------------ two-factor
class MfaConfirmIn(Strict):
    code: Code
    end_other_sessions: bool = False


class MfaOffIn(Strict):
    password: Secret | None = None
    code: Code | None = None
    end_other_sessions: bool = False


class EnrolmentOut(msgspec.Struct):
    secret: str
    otpauth_uri: str
    qr_data_uri: str


class RecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]
    sessions_ended: int = 0


class NewRecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]  # shown this once; the earlier codes no longer work


class RecoveryCodesLeftOut(msgspec.Struct):
    remaining: int  # unused recovery codes (0 while two-factor is off)


MFA_OFF = Refusal(409, "mfa_not_enabled", "Two-factor authentication is off.")


@router.post(
    "/api/me/mfa/totp",
    permission="self",
    errors=(RECENT_AUTH, Refusal(409, "mfa_already_enabled", "Two-factor authentication is on already.")),
)
def mfa_start(call: Call) -> EnrolmentOut:
    """Start two-factor setup (needs recent authentication): a secret and its QR code for an authenticator app."""
    # cold start: loaded on first use
    from protu.identity import mfa

    reauth.require_recent_auth(call.principal)
    p = call.principal
    return EnrolmentOut(**mfa.start_enrolment(accounts.get_user(p.tenant_id, p.user_id)))


def _end_others(call: Call, reason: str) -> int:
    p = call.principal
    return accounts.end_sessions(p.tenant_id, p.user_id, actor=p.user_id, reason=reason, keep=p.session_id)


@router.post(
    "/api/me/mfa/totp/confirm",
    permission="self",
    body=MfaConfirmIn,
    example={"code": "123456", "end_other_sessions": True},
    errors=(
        RECENT_AUTH,
        Refusal(409, "mfa_already_enabled", "Two-factor authentication is on already."),
        Refusal(409, "mfa_not_started", "Start the two-factor setup first (POST /api/me/mfa/totp)."),
        Refusal(422, "invalid_code", "The code is not the app's current one."),
    ),
)
def mfa_confirm(call: Call) -> RecoveryCodesOut:
    """Turn two-factor on with a code from the app; answers ten single-use recovery codes, shown once.
    ``end_other_sessions`` signs out your other sessions, so they too must pass two-factor to come back."""
    # cold start: loaded on first use
    from protu.identity import mfa

    reauth.require_recent_auth(call.principal)
    p = call.principal
    codes = mfa.confirm_enrolment(accounts.get_user(p.tenant_id, p.user_id), call.body.code)
    ended = _end_others(call, "mfa_enabled") if call.body.end_other_sessions else 0
    return RecoveryCodesOut(codes, ended)


@router.delete(
    "/api/me/mfa/totp",
    permission="self",
    body=MfaOffIn,
    status=204,
    example={"password": "violet harbour lantern 42"},
    errors=(
        WRONG_ANSWER,
        CODE_JUST_USED,
        PASSWORD_OR_CODE,
        MFA_OFF,
        Refusal(409, "last_second_factor", "The company requires two-factor and you have no passkey."),
    ),
)
def mfa_off(call: Call) -> None:
    """Turn two-factor off; needs your current password or a code. ``end_other_sessions`` signs out the others.
    While your company requires two-factor, only if a passkey remains (409 ``last_second_factor``)."""
    # cold start: loaded on first use
    from protu.identity import mfa

    b = call.body
    user = reauth.confirm_identity(
        call.principal, password=b.password, code=b.code, source_ip=call.source_ip, action="mfa.disable"
    )
    mfa.disable(user)
    if b.end_other_sessions:
        _end_others(call, "mfa_disabled")


@router.get("/api/me/mfa/recovery-codes", permission="self")
def recovery_codes_left(call: Call) -> RecoveryCodesLeftOut:
    """How many of your recovery codes are left unused (never the codes themselves)."""
    # cold start: loaded on first use
    from protu.identity import mfa

    p = call.principal
    return RecoveryCodesLeftOut(mfa.recovery_codes_left(accounts.get_user(p.tenant_id, p.user_id)))


@router.post("/api/me/mfa/recovery-codes", permission="self", errors=(RECENT_AUTH, MFA_OFF))
def new_recovery_codes(call: Call) -> NewRecoveryCodesOut:
    """Make a new set of ten recovery codes (needs recent authentication), shown this once: the earlier ones stop
    working at once, and you are emailed that new codes were made."""
    # cold start: loaded on first use
    from protu.identity import mfa

    reauth.require_recent_auth(call.principal)
    p = call.principal
    return NewRecoveryCodesOut(mfa.regenerate_recovery_codes(accounts.get_user(p.tenant_id, p.user_id)))
