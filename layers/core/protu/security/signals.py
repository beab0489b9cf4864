"""Security signals: facts worth watching (a burst of failed sign-ins, a reused refresh token), kept for
monitoring. ``protu.security.incidents`` turns them into incidents with severities.

A signal is NOT an audit event. The audit log records what a person did, hash-chained, and the caller writes that
event itself (``protu.audit.record`` or a ``Transaction``); a signal is a monitoring record next to it, written
without a transaction, which may be lost or expire (``TTL_DAYS``) without breaking any guarantee.

Layout (data table)::

    pk tenant_pk(<tenant>, "SIGNALS")           sk "<ISO time, µs, Z>#<random id>"   a signal about a tenant's user
    pk "SIGNALS#GLOBAL#<yyyy-mm-dd>"             sk the same                           no tenant (an unknown account)
    attributes: id, kind, time, tenant, user, source_ip, details (redacted JSON), expires_at (epoch seconds),
                record_type "security_signal" (the incident detector's stream filter: protu.security.incidents)

Global signals are split per day so one partition never grows without bound. Every signal also makes one WARNING
log line ``security signal`` (written before the item, so a storage failure still leaves a trace). Details pass
through ``protu.logging.redact`` before they are logged or stored: a secret handed in by mistake is kept nowhere.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, date, datetime
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from protu.logging import get_logger, redact
from protu.store.base import tenant_pk
from protu.store.items import DataItem

TTL_DAYS = 400  # more than a year: long enough to compare with the same period last year
MAX_LIST = 1000

#: The kinds a caller may raise, and what each means. Unknown kinds are refused, so a typo fails at once instead of
#: producing a signal no monitor looks for.
KINDS: dict[str, str] = {
    "login.failed": "a sign-in failed (wrong password or unknown account)",
    "login.locked": "an account was locked (an incident's containment found it compromised)",
    "login.step_up": "an account reached the failure limit: its next sign-in needs an email link or second factor",
    "reauth.failed_burst": "several wrong passwords were given in one session to confirm a sensitive change",
    "refresh.reused": "a refresh token was used again after rotation: the session was revoked",
    "session.fingerprint_changed": "a session's client fingerprint changed during its life",
    "mfa.failed_burst": "several second-factor codes failed in a row",
    "passkey.cloned": "a passkey's signature counter went back: the authenticator may have been copied",
    "session.suspicious_signout": "a session was signed out because it looked compromised",
    "access.unusual": "one user opened far more sensitive records than usual in a short time",
    "access.off_hours": "sensitive records were opened in an hour when the company is usually quiet",
    "backup.restore_failed": "the daily restore test found a backup that does not restore or decrypt as recorded",
    "webhook.bad_signature": "a provider webhook arrived with a signature that does not verify (forged or misrouted)",
    "security.report_received": "someone reported a vulnerability through the security-report intake",
}
RECORD_TYPE = "security_signal"  # on every signal item: what the incident detector's stream filter matches

_log = get_logger(__name__)


class SecuritySignal(DataItem):
    """One stored signal (see the module doc for the layout)."""

    id = UnicodeAttribute()
    kind = UnicodeAttribute()
    time = UnicodeAttribute()
    tenant = UnicodeAttribute(null=True)
    user = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    details = JSONAttribute(null=True)
    expires_at = NumberAttribute()
    record_type = UnicodeAttribute(default=RECORD_TYPE)

    def to_document(self) -> dict[str, Any]:
        fields = ("id", "kind", "time", "tenant", "user", "source_ip", "details")
        return {name: getattr(self, name) for name in fields}


def raise_signal(
    kind: str,
    *,
    tenant_id: str | None = None,
    user_id: str | None = None,
    source_ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Log and store one signal; returns its document. ``kind`` must be one of ``KINDS`` (``ValueError``
    otherwise). Without ``tenant_id`` the signal goes to the day's global partition."""
    if kind not in KINDS:
        raise ValueError(f"unknown security signal kind {kind!r}; add it to protu.security.signals.KINDS")
    moment = datetime.now(UTC)
    stamp = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    signal_id = secrets.token_hex(8)
    pk = tenant_pk(tenant_id, "SIGNALS") if tenant_id is not None else _global_pk(moment.date())
    clean = redact(details) if details else None
    _log.warning(
        "security signal",
        extra={
            "kind": kind,
            "signal_id": signal_id,
            "tenant": tenant_id,
            "user": user_id,
            "source_ip": source_ip,
            "details": clean,
        },
    )
    item = SecuritySignal(
        pk,
        f"{stamp}#{signal_id}",
        id=signal_id,
        kind=kind,
        time=stamp,
        tenant=tenant_id,
        user=user_id,
        source_ip=source_ip,
        details=clean,
        expires_at=int(time.time()) + TTL_DAYS * 86400,
    )
    item.save()
    return item.to_document()


def list_signals(tenant_id: str, *, since: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """A tenant's signals, newest first; ``since`` (ISO-8601 UTC, inclusive) keeps only the later ones."""
    condition = SecuritySignal.sk >= since if since else None
    return _query(tenant_pk(tenant_id, "SIGNALS"), condition, limit)


def list_global(day: date | str, *, limit: int = MAX_LIST) -> list[dict[str, Any]]:
    """The signals without a tenant raised on ``day`` (a date or ``"yyyy-mm-dd"``, UTC), newest first."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return _query(_global_pk(day), None, limit)


def _global_pk(day: date) -> str:
    return f"SIGNALS#GLOBAL#{day.isoformat()}"


def _query(pk: str, condition: Any, limit: int) -> list[dict[str, Any]]:
    limit = max(1, min(int(limit), MAX_LIST))
    items = SecuritySignal.query(pk, condition, scan_index_forward=False, limit=limit)
    return [item.to_document() for item in items]
