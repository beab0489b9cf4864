"""Access tokens (short-lived JWTs naming a session) and opaque single-use tokens.

Access tokens are HS256 JWTs signed with a key from Secrets Manager (``SIGNING_SECRET_ID``: JSON
``{"kid", "secret", "previous": [{"kid", "secret", "until"}...]}``). The key id travels in the header, so a
rotation (``protu.identity.signing_keys``) adds a new current key while tokens signed with a previous one still
verify until they expire; a previous key verifies nothing after its ``until`` (epoch seconds). Keys are cached in
memory for ``KEY_CACHE_SECONDS``: a warm request makes no Secrets Manager call, and a token naming a key this
process has not seen makes it read the secret again.

Opaque tokens (email links, refresh secrets, the two-factor step) carry 256 bits from ``secrets`` and are stored
only as their SHA-256: a leaked table reveals no usable token, and high-entropy tokens need no slow hash.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
import threading
import time
from typing import Any

import msgspec
from protu import aws, caches, errors
from protu.settings import settings


def _import_jwt_for_hmac() -> None:
    """Import pyjwt knowing HMAC only. Access tokens are HS256, while pyjwt loads cryptography's X.509 and elliptic
    curves for the RSA and EC algorithms when it can: ~26 ms of a cold start's first authenticated request, for keys
    never used here. pyjwt takes them as absent when their import fails (``has_crypto``), so they are hidden while it
    loads (None entries in sys.modules, as ``protu/__init__`` does for pyOpenSSL) and importable again at once. At
    import time: a function's cold import, one thread."""
    if "jwt" in sys.modules:
        return
    hidden = [name for name in _PYJWT_HEAVY if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))
    try:
        import jwt  # noqa: F401 - cold start: ~4 ms without them
    finally:
        for name in hidden:
            del sys.modules[name]


_PYJWT_HEAVY = ("cryptography.x509", "cryptography.hazmat.primitives.asymmetric.ec")
_import_jwt_for_hmac()

ACCESS_TOKEN_SECONDS = 600
ISSUER, AUDIENCE = "protu", "protu-api"
KEY_CACHE_SECONDS = 300

_lock = threading.Lock()
# (loaded at, current kid, {kid: secret}, {kid: until} of the previous keys)
_keys: tuple[float, str, dict[str, str], dict[str, float]] | None = None


def new_token() -> tuple[str, str]:
    """A fresh opaque token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _signing_keys() -> tuple[str, dict[str, str]]:
    """The current key id and every key that verifies now (the current one, and previous ones until their end)."""
    global _keys
    with _lock:
        if _keys is None or time.monotonic() - _keys[0] > KEY_CACHE_SECONDS:
            raw = aws.client("secretsmanager").get_secret_value(SecretId=settings().signing_secret_id)["SecretString"]
            value = json.loads(raw)
            keys, ends = {value["kid"]: value["secret"]}, {}
            for old in value.get("previous", []):
                if old["kid"] not in keys:
                    keys[old["kid"]] = old["secret"]
                    # A previous key without "until" (written by hand, before rotations set it) verifies one token
                    # lifetime past each read of the secret: until the next rotation drops it.
                    ends[old["kid"]] = float(old.get("until") or time.time() + ACCESS_TOKEN_SECONDS)
            _keys = (time.monotonic(), value["kid"], keys, ends)
        now = time.time()
        current, keys, ends = _keys[1], _keys[2], _keys[3]
        return current, {kid: key for kid, key in keys.items() if kid == current or ends.get(kid, 0) > now}


def can_sign_with(value: dict[str, Any]) -> bool:
    """True when a secret value's current key signs a token that verifies with it (a rotation's test step)."""
    # cold start: loaded on first use
    import jwt

    kid, key = value.get("kid"), value.get("secret")
    if not isinstance(kid, str) or not kid or not isinstance(key, str) or len(key) < 32:
        return False
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "rotation-test", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})
    try:
        jwt.decode(token, key, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.PyJWTError:
        return False
    return jwt.get_unverified_header(token).get("kid") == kid


@caches.register
def forget_signing_keys() -> None:
    """Read the signing keys again on next use (after a rotation in this process)."""
    global _keys
    with _lock:
        _keys = None


class AccessClaims(msgspec.Struct, frozen=True):
    tenant_id: str
    user_id: str
    session_id: str


def issue_access_token(tenant_id: str, user_id: str, session_id: str, now: float | None = None) -> str:
    # cold start: loaded on first use
    import jwt

    kid, keys = _signing_keys()
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "tid": tenant_id,
        "sid": session_id,
        "iat": issued,
        "exp": issued + ACCESS_TOKEN_SECONDS,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, keys[kid], algorithm="HS256", headers={"kid": kid})


def read_access_token(token: str) -> AccessClaims:
    """Verify signature, issuer, audience and expiry; 401 ``token_expired`` or ``invalid_token`` otherwise."""
    # cold start: loaded on first use
    import jwt

    try:
        kid = jwt.get_unverified_header(token).get("kid")
        _, keys = _signing_keys()
        if kid not in keys:
            forget_signing_keys()  # maybe rotated since we cached: look once more
            _, keys = _signing_keys()
        if kid not in keys:
            raise errors.Unauthorized("Please sign in again.", code="invalid_token")
        claims: dict[str, Any] = jwt.decode(
            token,
            keys[kid],
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise errors.Unauthorized("Your sign-in has expired. Please sign in again.", code="token_expired") from None
    except jwt.PyJWTError:
        raise errors.Unauthorized("Please sign in again.", code="invalid_token") from None
    try:
        return AccessClaims(str(claims["tid"]), str(claims["sub"]), str(claims["sid"]))
    except KeyError:
        raise errors.Unauthorized("Please sign in again.", code="invalid_token") from None
