"""Unusual data access, two ways: one user opening far more personal data than anyone needs to, and personal data
opened at an hour when the company is usually quiet.

What counts is every read on the record: each audit event of an audited read (``<area>.read``: a candidate, an
employee, a response, the users list, a user's sessions, the settings, the audit log; ``<area>.exported``) weighs
the records it names. The watch runs off the request path, on the audit table's stream (``watch``, called by
``jobs.mirror_audit``), so an audited read costs its request one DynamoDB write, its audit event, and nothing more.

* **Volume.** Each read of sensitive records counts towards a per-user window (``ratelimit``, weighted by the
  records opened). Crossing ``READS_LIMIT`` within ``WINDOW_SECONDS`` raises ``access.unusual`` once per window.
* **Hours.** Each read also marks, per company, the hour (UTC) of the day it happened in
  (``T#<tenant>#ACCESS_HOURS``, ``sk D#<yyyy-mm-dd>#<hh>``, expiring after ``HISTORY_DAYS`` + 7 days). Once a
  company has read on ``MIN_DAYS`` different days of the last ``HISTORY_DAYS``, a read in an hour it read in on
  fewer than ``USUAL_DAYS`` of those days raises ``access.off_hours``, at most once per user and hour. Counting days
  rather than records means a burst at 3 a.m. does not make 3 a.m. usual. UTC hours need no time zone setting:
  the profile learns whatever the company's day looks like in UTC. It is read once per ``PROFILE_CACHE_SECONDS``
  per company and process, and each (day, hour) is written once.

The read itself is still answered (it is audited either way): containing a suspicious user is the incident
workflow's decision, not a read path's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute

from protu import caches
from protu.audit.chain import EVENT_PREFIX
from protu.audit.models import AuditEvent
from protu.logging import get_logger
from protu.principal import Principal
from protu.security import ratelimit, signals
from protu.store import scope
from protu.store.base import tenant_pk
from protu.store.items import DataItem

READS_LIMIT = 500  # records of personal data one user opens in WINDOW_SECONDS (a list page weighs its records)
READ_SUFFIXES = (".read", ".exported")
log = get_logger(__name__)
WINDOW_SECONDS = 600
HISTORY_DAYS = 28
MIN_DAYS = 10
USUAL_DAYS = 3
PROFILE_CACHE_SECONDS = 600

clock = time.time  # the only clock of this module (tests move it to another hour)

_profiles: dict[str, tuple[float, dict[int, set[str]]]] = {}  # tenant -> (read at, UTC hour -> days read in it)
_lock = threading.Lock()


@caches.register
def _forget_profiles() -> None:
    _profiles.clear()


class AccessHour(DataItem):
    """A company opened sensitive records in this hour (UTC) of this day."""

    expires_at = NumberAttribute()


def watch(records: Iterable[dict[str, Any]]) -> int:
    """Count the reads among the audit table's stream records (INSERTs of events whose action is a read) towards
    their readers' windows and the company's hours. One batch's reads by one user of one kind are counted together
    (one counter write); answers how many such groups were counted."""
    weights: dict[tuple[str, str, str], int] = {}
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or not image.get("sk", {}).get("S", "").startswith(EVENT_PREFIX):
            continue
        try:
            event = AuditEvent.from_raw_data(image)
            action, actor, tenant = str(event.action), str(event.actor), str(event.tenant)
            details = event.details if isinstance(event.details, dict) else {}
        except Exception:  # noqa: BLE001, S112 - a hand-made item: verify() names it, the mirror skips it
            continue
        if not (action.endswith(READ_SUFFIXES) and actor.startswith("u-")):
            continue
        key = (tenant, actor, action.split(".", 1)[0])
        weights[key] = weights.get(key, 0) + _weight(details)
    for (tenant, actor, entity), weight in weights.items():
        with scope.acting_for(tenant):
            opened(Principal.system(tenant, actor), entity, weight)
    return len(weights)


def _weight(details: dict[str, Any]) -> int:
    """How many records of personal data a read event names (at least one). A company's own export counts once:
    an owner exporting everything is the export's purpose, on the record as ``company.exported``, not a bulk read
    to contain."""
    for name in ("records", "subjects"):
        if isinstance(details.get(name), list):
            return max(1, len(details[name]))
    about = details.get("records_about_them")
    if isinstance(about, int) and not isinstance(about, bool):
        return max(1, 1 + about)  # the person and every record about them
    return 1


def opened(principal: Principal, entity: str, count: int) -> list[str]:
    """Count ``count`` sensitive records opened by the caller; answers the signals this read raised."""
    raised = []
    now = clock()
    if _too_many(principal, entity, count, now):
        raised.append("access.unusual")
    if _off_hours(principal, entity, count, now):
        raised.append("access.off_hours")
    return raised


def _too_many(principal: Principal, entity: str, count: int, now: float) -> bool:
    key = f"{principal.tenant_id}:{principal.user_id}"
    decision = ratelimit.hit("reads", key, limit=READS_LIMIT, window_seconds=WINDOW_SECONDS, weight=count, now=now)
    crossed = decision.count > READS_LIMIT >= decision.count - count
    if crossed:
        signals.raise_signal(
            "access.unusual",
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            details={"entity": entity, "opened": decision.count, "window_seconds": WINDOW_SECONDS},
        )
    return crossed


def _off_hours(principal: Principal, entity: str, count: int, now: float) -> bool:
    """Whether this read happened in one of the company's quiet hours (judged before it is counted)."""

    moment = datetime.fromtimestamp(now, UTC)
    profile = usual_hours(principal.tenant_id, now)
    days = set().union(*profile.values())
    usual = len(profile.get(moment.hour, ()))
    quiet = len(days) >= MIN_DAYS and usual < USUAL_DAYS
    _mark(principal.tenant_id, moment, profile)
    if not quiet:
        return False
    key = f"{principal.tenant_id}:{principal.user_id}"
    if ratelimit.hit("offhours", key, limit=1, window_seconds=3600, now=now).count != 1:
        return False  # already raised for this user this hour
    signals.raise_signal(
        "access.off_hours",
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        details={
            "entity": entity,
            "opened": count,
            "hour_utc": moment.hour,
            "days_read_in_this_hour": usual,
            "days_read": len(days),
            "history_days": HISTORY_DAYS,
        },
    )
    return True


def usual_hours(tenant_id: str, now: float | None = None) -> dict[int, set[str]]:
    """For each UTC hour, the days of the last ``HISTORY_DAYS`` on which the company opened sensitive records in
    it (cached per process)."""
    now = clock() if now is None else now
    cached = _profiles.get(tenant_id)
    if cached is not None and 0 <= now - cached[0] < PROFILE_CACHE_SECONDS:
        return cached[1]
    since = (datetime.fromtimestamp(now, UTC) - timedelta(days=HISTORY_DAYS)).date().isoformat()
    profile: dict[int, set[str]] = {}
    for item in AccessHour.query(_pk(tenant_id), AccessHour.sk >= f"D#{since}", consistent_read=True):
        _, day, hour = item.sk.split("#")
        profile.setdefault(int(hour), set()).add(day)
    with _lock:
        _profiles[tenant_id] = (now, profile)
    return profile


def _mark(tenant_id: str, moment: datetime, profile: dict[int, set[str]]) -> None:
    """Record that the company read in this hour today (once: the profile already knows the hours it wrote)."""
    day = moment.date().isoformat()
    if day in profile.get(moment.hour, ()):
        return
    expires = int((moment + timedelta(days=HISTORY_DAYS + 7)).timestamp())
    AccessHour(_pk(tenant_id), f"D#{day}#{moment.hour:02d}", expires_at=expires).save()
    profile.setdefault(moment.hour, set()).add(day)


def _pk(tenant_id: str) -> str:
    return tenant_pk(tenant_id, "ACCESS_HOURS")
