"""The authorizer of every non-public route: access token -> live session -> permission.

Order matters for what a caller can learn: an invalid or expired token is a 401 before any lookup; a session that
ended is a 401 naming why (``session_revoked``, ``session_expired``, ``session_idle``: the idle timeout is the
company's current one when that is shorter than the session's own); only then is the role's permission checked
(403 ``forbidden``), and last the company's two-factor rule: in a company that requires two-factor, a user who has
not set it up may call only ``self`` routes (their account, two-factor setup, sessions), anything else is 403
``mfa_setup_required``; a session signed in through the company's identity provider (``sso``) is not held to it
while the company has one: the provider answers for the second factor (and the company can make it prove one,
``identity.sso``). Both company settings come from ``company_settings.policy`` (consistent reads, kept at most 30 s
per process). A token replayed from another client fingerprint signs the session out at once, emails the user and
raises a security signal. Every authorised answer carries ``X-Session-Idle-Seconds``: how long the session may now
sit unused before it ends (the SPA warns a minute before).
"""

from __future__ import annotations

import time

from protu import errors
from protu.http.routing import Call, Endpoint
from protu.identity import company_settings, rbac, sessions, tokens
from protu.identity.accounts import sign_out_suspicious
from protu.logging import bind
from protu.principal import Principal
from protu.store import scope

IDLE_HEADER = "X-Session-Idle-Seconds"


def bearer(call: Call) -> str:
    header = call.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.Unauthorized("Sign in to continue.", code="unauthorized")
    return token.strip()


def authorize(call: Call, endpoint: Endpoint) -> Principal:
    claims = tokens.read_access_token(bearer(call))
    session = sessions.load(claims.tenant_id, claims.user_id, claims.session_id)
    if session is None:
        raise sessions.ended_error("revoked")
    now = time.time()
    why = sessions.ended(session, now)
    if why:
        raise sessions.ended_error(why)
    if session.fingerprint != sessions.fingerprint(call.user_agent, call.source_ip):
        sign_out_suspicious(session, reason="session.fingerprint_changed", source_ip=call.source_ip)
        raise sessions.ended_error("revoked")
    seen = sessions.touch(session, now)
    # The SPA warns a minute before the idle sign-out (frontend/idle.js): the seconds left, from the server's clock.
    call.response_headers[IDLE_HEADER] = str(sessions.idle_left(session, seen, now))
    scope.bind(session.tenant_id)  # already bound by the session's key; said here so nobody has to know that
    bind(tenant=session.tenant_id, user=session.user_id)
    if not rbac.allows(session.role, endpoint.permission):
        raise errors.Forbidden()
    method = session.sign_in_method or ""
    principal = Principal(session.tenant_id, session.user_id, session.id, session.role, int(session.auth_time), method)
    if endpoint.permission != "self" and company_settings.needs_mfa_setup(
        session.tenant_id, session.user_id, via_sso=principal.via_sso
    ):
        raise errors.Forbidden(
            "Your company requires two-factor authentication. Set it up on your account page to continue.",
            code="mfa_setup_required",
        )
    return principal
