"""Server-side sessions: created at sign-in, checked on every request, revocable at once.

A session record lives under its user (``T#<tenant>#USER#<user>#SESSIONS``). Every authenticated request reads it
(consistent read), so a revocation, a force sign-out or the inactivity timeout takes effect on the next request,
whatever access token the client still holds. ``last_seen_at`` is written at most once a minute.

The refresh token is an opaque secret bound to one session; the session keeps only its hash. Each refresh rotates
it; presenting an already-used one revokes the session (a stolen token was used) and raises a security signal.
A session also records a coarse client fingerprint (browser family, OS family, network prefix): a token used from
a different one signs the session out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time

from protu import errors
from protu.identity import agents, company_settings, tokens
from protu.identity.models import Company, Session, User
from pynamodb.exceptions import DoesNotExist

ABSOLUTE_SECONDS = 12 * 3600
DEFAULT_IDLE_SECONDS = 30 * 60
TOUCH_EVERY_SECONDS = 60
USED_REFRESH_KEPT = 20
REFRESH_COOKIE = "protu_refresh"


_BROWSERS = (
    ("edg/", "edge"),
    ("opr/", "opera"),
    ("firefox/", "firefox"),
    ("chrome/", "chrome"),
    ("chromium/", "chrome"),
    ("safari/", "safari"),
)
_SYSTEMS = (
    ("windows", "windows"),
    ("android", "android"),
    ("iphone", "ios"),
    ("ipad", "ios"),
    ("mac os", "macos"),
    ("cros", "chromeos"),
    ("linux", "linux"),
)


def device_id(user_agent: str, ip: str) -> str:
    """A short hash of the fingerprint: what a user's record keeps of the devices they signed in from (enough to
    notice a new one, no address or browser string stored)."""

    return hashlib.sha256(fingerprint(user_agent, ip).encode()).hexdigest()[:16]


def fingerprint(user_agent: str, ip: str) -> str:
    """Browser family, OS family and network (/16 for IPv4, /48 for IPv6): stable across updates and DHCP renewals
    within one network, different for a token replayed from elsewhere."""
    agent = (user_agent or "").lower()
    browser = next((name for marker, name in _BROWSERS if marker in agent), re.sub(r"[^a-z]", "", agent)[:16] or "-")
    system = next((name for marker, name in _SYSTEMS if marker in agent), "-")
    return f"{browser}|{system}|{network(ip) or '-'}"


def network(ip: str) -> str | None:
    """The coarse network a session is bound to: the /16 of an IPv4 address, the /48 of an IPv6 one."""
    try:
        prefix = 16 if ipaddress.ip_address(ip).version == 4 else 48
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
    except ValueError:
        return None


# How a session was started (``Session.sign_in_method``); sessions from before it was recorded have none, and "mfa"
# alone is a two-factor step begun before the first factor was kept on it. "passkey": a passkey with user
# verification as the first factor (two factors in one); "+passkey": a passkey as the second factor.
METHODS = (
    "password",
    "password+mfa",
    "magic_link",
    "magic_link+mfa",
    "invitation",
    "mfa",
    "passkey",
    "password+passkey",
    "magic_link+passkey",
    "sso",  # the company's identity provider (protu.identity.sso)
)


def described(session: Session) -> dict[str, str | None]:
    """What tells two sessions apart, in words: browser and major version, system, network, sign-in method."""
    agent = agents.parse(session.user_agent)
    return {
        "browser": agent.browser,
        "browser_version": agent.version,
        "system": agent.system,
        "network": network(session.ip),
        "sign_in_method": session.sign_in_method,
    }


def new_session(
    user: User, company: Company, *, ip: str, user_agent: str, method: str, now: float | None = None
) -> tuple[Session, str]:
    """A session record to save in the caller's transaction, and its refresh token (the cookie value). ``method``
    is how the person signed in (one of ``METHODS``)."""
    if method not in METHODS:
        raise ValueError(f"unknown sign-in method {method!r}")
    now = int(now or time.time())
    session_id = secrets.token_hex(16)
    secret, secret_hash = tokens.new_token()
    pk, sk = Session.key(user.tenant_id, user.id, session_id)
    idle = int(company.idle_timeout_minutes or DEFAULT_IDLE_SECONDS // 60) * 60
    session = Session(
        pk,
        sk,
        id=session_id,
        tenant_id=user.tenant_id,
        user_id=user.id,
        role=user.role,
        created_at=now,
        last_seen_at=now,
        auth_time=now,
        absolute_expires_at=now + ABSOLUTE_SECONDS,
        idle_timeout_seconds=idle,
        expires_at=now + ABSOLUTE_SECONDS + 86400,
        ip=ip[:64],
        user_agent=user_agent[:256],
        fingerprint=fingerprint(user_agent, ip),
        sign_in_method=method,
        refresh_hash=secret_hash,
        used_refresh_hashes=[],
    )
    return session, refresh_value(session, secret)


def refresh_value(session: Session, secret: str) -> str:
    return f"{session.tenant_id}.{session.user_id}.{session.id}.{secret}"


def parse_refresh(value: str) -> tuple[str, str, str, str]:
    parts = (value or "").split(".")
    if len(parts) != 4 or not all(parts) or len(value) > 256:
        raise errors.Unauthorized("Sign in again.", code="invalid_refresh")
    return parts[0], parts[1], parts[2], parts[3]


def load(tenant_id: str, user_id: str, session_id: str) -> Session | None:
    try:
        return Session.get(*Session.key(tenant_id, user_id, session_id), consistent_read=True)
    except (DoesNotExist, ValueError):
        return None


def idle_seconds(session: Session) -> int:
    """How long the session may sit unused: the timeout it was started with, or the company's current one when
    that is shorter (an owner shortening it ends idle sessions at their next request; a longer one applies from the
    next sign-in, so an idle session is never revived). The company's value is read through
    ``company_settings.policy``: consistent, kept at most 30 s per process."""

    own = int(session.idle_timeout_seconds or DEFAULT_IDLE_SECONDS)
    current = company_settings.policy(session.tenant_id)
    return min(own, current.idle_seconds) if current is not None else own


def ended(session: Session, now: float | None = None) -> str | None:
    """Why the session can no longer be used (``revoked``, ``expired``, ``idle``), or None while it is alive."""
    now = now or time.time()
    if session.revoked_at:
        return "revoked"
    if now >= session.absolute_expires_at:
        return "expired"
    if now - session.last_seen_at > idle_seconds(session):
        return "idle"
    return None


_ENDED = {
    "revoked": ("session_revoked", "This session was signed out. Sign in again."),
    "expired": ("session_expired", "This session has expired. Sign in again."),
    "idle": ("session_idle", "You were signed out after a period of inactivity. Sign in again."),
}


def ended_error(why: str) -> errors.Unauthorized:
    """The 401 that tells a client why its session can no longer be used."""
    code, message = _ENDED[why]
    return errors.Unauthorized(message, code=code)


def touch(session: Session, now: float | None = None) -> int:
    """Record activity, at most once a minute; never revives a revoked session. Answers the last activity on
    record afterwards (what the idle timeout counts from)."""
    now = int(now or time.time())
    if now - session.last_seen_at < TOUCH_EVERY_SECONDS:
        return int(session.last_seen_at)
    try:
        session.update(actions=[Session.last_seen_at.set(now)], condition=Session.revoked_at.does_not_exist())
    except Exception:  # noqa: BLE001 - revoked meanwhile: the next request finds out; activity is best effort
        return int(session.last_seen_at)
    return now


def idle_left(session: Session, last_seen: int, now: float | None = None) -> int:
    """Seconds until the session ends for inactivity unless it is used again (never below 0)."""
    return max(0, int(last_seen + idle_seconds(session) - (now or time.time())))


def revoke_actions(reason: str, now: float | None = None) -> list:
    return [Session.revoked_at.set(int(now or time.time())), Session.revoke_reason.set(reason)]


def list_for(tenant_id: str, user_id: str) -> list[Session]:
    return list(Session.query(Session.partition(tenant_id, user_id), consistent_read=True))


def live_for(tenant_id: str, user_id: str, now: float | None = None) -> list[Session]:
    return [s for s in list_for(tenant_id, user_id) if ended(s, now) is None]
