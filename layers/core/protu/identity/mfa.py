"""Two-factor authentication: TOTP (RFC 6238, 30-second steps, 6 digits) and single-use recovery codes.

The TOTP secret is a secret like a password: it is stored encrypted under the company's key (``protu.crypto``,
entity ``user``, field ``totp_secret``), never logged, and shown once at enrolment. A code is accepted within one
step either side of now and only once: the user record keeps the last step used, and a conditional write makes a
replay (or a race of two requests with one code) fail. Recovery codes carry 60 random bits each and are stored
as SHA-256 hashes; using one removes it (conditionally, so it is used at most once). A user whose first second
factor is a passkey gets recovery codes with it (``identity.passkeys``), so they work without the app too.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from datetime import UTC, datetime

from protu import errors
from protu.identity import tokens
from protu.identity.accounts import get_company, send
from protu.identity.models import User
from protu.store.dynamo import condition_failed
from protu.store.tx import Transaction
from pynamodb.exceptions import UpdateError

ISSUER = "Protu"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (i, l, o, 0, 1)


def _encrypt(user: User, secret: str) -> str:
    # cold start: loaded on first use
    from protu import crypto

    blob = crypto.encrypt_fields(user.tenant_id, "user", user.id, {"totp_secret": secret})
    return base64.b64encode(blob).decode("ascii")


def _decrypt(user: User, stored: str) -> str:
    # cold start: loaded on first use
    from protu import crypto

    return crypto.decrypt_fields(user.tenant_id, "user", user.id, base64.b64decode(stored), ["totp_secret"])[
        "totp_secret"
    ]


def _qr_data_uri(uri: str) -> str:

    # cold start: loaded on first use
    import segno

    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def recovery_hash(code: str) -> str:
    return tokens.token_hash(code.strip().lower().replace(" ", ""))


def start_enrolment(user: User) -> dict[str, str]:
    """A new secret, kept pending until a code from it is confirmed; answers what the authenticator app needs."""
    # cold start: loaded on first use
    import pyotp

    if user.mfa_enabled:
        raise errors.Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    with Transaction(user.tenant_id) as tx:
        tx.update(user, [User.totp_pending_ciphertext.set(_encrypt(user, secret))], condition=User.pk.exists())
        tx.audit("mfa.enrolment_started", f"user:{user.id}")
    return {"secret": secret, "otpauth_uri": uri, "qr_data_uri": _qr_data_uri(uri)}


def _matching_step(secret: str, code: str, now: float) -> int | None:
    # cold start: loaded on first use
    import pyotp

    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // 30)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * 30), code):
            return step
    return None


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor on with a first good code; answers the ten recovery codes, shown this once."""
    if user.mfa_enabled:
        raise errors.Conflict("Two-factor authentication is already on.", code="mfa_already_enabled")
    if not user.totp_pending_ciphertext:
        raise errors.Conflict("Start the two-factor setup first.", code="mfa_not_started")
    secret = _decrypt(user, user.totp_pending_ciphertext)
    step = _matching_step(secret, code, time.time())
    if step is None:
        raise errors.ValidationFailed("The code is not correct.", code="invalid_code", details={"field": "code"})
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    with Transaction(user.tenant_id) as tx:
        tx.update(
            user,
            [
                User.mfa_enabled.set(True),
                User.totp_ciphertext.set(user.totp_pending_ciphertext),
                User.totp_pending_ciphertext.remove(),
                User.totp_last_step.set(step),
                User.recovery_hashes.set([recovery_hash(c) for c in codes]),
            ],
            condition=User.mfa_enabled == False,  # noqa: E712 - a PynamoDB condition, not a comparison
        )
        tx.audit("mfa.enabled", f"user:{user.id}")
    return codes


ACCEPTED, WRONG, JUST_USED = "accepted", "wrong", "just_used"
JUST_USED_MESSAGE = "This code was just used; wait for the next one."
"""What answers ``code_just_used``: a code of the app's current steps that was already spent (or one before a code
already spent). Only someone who holds a valid current code learns it, and it counts as a failure like a wrong one."""


def check_second_factor(user: User, code: str) -> str:
    """A TOTP code (once) or a recovery code (once): ``ACCEPTED``; a TOTP code of the current steps that was already
    used: ``JUST_USED``; anything else: ``WRONG``. Never raises for a wrong code."""
    if "recovery_code" not in user.second_factors or not isinstance(code, str):
        return WRONG
    now = time.time()
    step = _matching_step(_decrypt(user, user.totp_ciphertext), code, now) if user.totp_ciphertext else None
    if step is not None and user.mfa_enabled:
        try:
            user.update(actions=[User.totp_last_step.set(step)], condition=User.totp_last_step < step)
        except UpdateError as error:
            if condition_failed(error):  # this code (or a later one) was already used
                return JUST_USED
            raise
        return ACCEPTED
    hashed = recovery_hash(code)
    if hashed not in (user.recovery_hashes or []):
        return WRONG
    remaining = [h for h in user.recovery_hashes if h != hashed]
    try:
        user.update(actions=[User.recovery_hashes.set(remaining)], condition=User.recovery_hashes.contains(hashed))
    except UpdateError as error:
        if condition_failed(error):  # used by a concurrent request
            return WRONG
        raise
    return ACCEPTED


def verify_second_factor(user: User, code: str) -> bool:
    """``check_second_factor`` as yes or no."""
    return check_second_factor(user, code) == ACCEPTED


def disable(user: User) -> None:
    """Turn the authenticator app off. In a company that requires two-factor, only while a passkey remains (the
    same rule as removing a passkey: 409 ``last_second_factor``)."""
    if not user.mfa_enabled:
        raise errors.Conflict("Two-factor authentication is already off.", code="mfa_not_enabled")
    condition = User.pk.exists()
    codes = [] if not user.passkey_count else list(user.recovery_hashes or [])  # passkeys keep the codes
    if get_company(user.tenant_id).require_mfa:
        if not user.passkey_count:
            raise errors.Conflict(
                "Your company requires two-factor authentication: add a passkey before turning the app off.",
                code="last_second_factor",
            )
        condition &= User.passkey_count >= 1  # a passkey removed meanwhile: the write is refused (409)
    with Transaction(user.tenant_id) as tx:
        tx.update(
            user,
            [
                User.mfa_enabled.set(False),
                User.totp_ciphertext.remove(),
                User.totp_pending_ciphertext.remove(),
                User.recovery_hashes.set(codes),
            ],
            condition=condition,
        )
        tx.audit("mfa.disabled", f"user:{user.id}")


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the user has (none without the app or a passkey)."""
    return len(user.recovery_hashes or []) if user.mfa_enabled or user.passkey_count else 0


def regenerate_recovery_codes(user: User) -> list[str]:
    """A new set of ten recovery codes, answered this once; the earlier ones stop working in the same write."""
    if not user.mfa_enabled and not user.passkey_count:
        raise errors.Conflict("Two-factor authentication is off.", code="mfa_not_enabled")
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    with Transaction(user.tenant_id) as tx:
        tx.update(
            user,
            [User.recovery_hashes.set([recovery_hash(c) for c in codes])],
            condition=(User.mfa_enabled == True) | (User.passkey_count >= 1),  # noqa: E712 - a PynamoDB condition
        )
        tx.audit(
            "mfa.recovery_codes_regenerated",
            f"user:{user.id}",
            details={"unused_before": recovery_codes_left(user), "codes": RECOVERY_CODES},
        )
    send("recovery_codes_regenerated", user.email, when=datetime.now(UTC))  # if it was not them, they know now
    return codes
