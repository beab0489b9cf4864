"""Maintenance windows: planned downtime, announced ahead (the security page's "advance notice for any planned
downtime"). Deploys stay zero-downtime (canary); a window is for what is not.

An operator schedules one (``protu-ops maintenance schedule --start ... --minutes ... --summary ...``): every
owner of every live company is emailed at once, at least ``NOTICE_HOURS`` before it starts (a sooner start is
refused unless it is an emergency); signed-in people see it among their notices (``GET /api/me/notices``) from
then until it ends, and the public status page lists it (``GET /api/status``) with its start, end and summary only.
Cancelling one emails the owners who were told of it.

Layout (data table; ``MAINTENANCE#`` is one of ``protu.store.base.UNSCOPED_PREFIXES``: it belongs to no company)::

    pk "MAINTENANCE#WINDOWS"   sk "<start, epoch s, 12 digits>#<id>"
        id ("mw-<16 hex>"), start, end (epoch s), minutes, summary, status "scheduled" | "cancelled", emergency,
        scheduled_at, cancelled_at?, history [{action, at, emergency?}] (what operators did, oldest first)
    pk "MAINTENANCE#<id>"      sk "<scheduled|cancelled>#<company>#<user>"
        sent_at, expires_at (TTL, 30 days after the window's end): that owner was emailed that news once

Owners are found without scanning: the sparse index of every live company (``identity.companies``), then each
company's users, read acting for it. The emails go out from the operator's command in a paged loop: a page of
companies at a time, each owner marked once emailed, so the command may be run again after an interruption or a
Mailgun failure (the same schedule finds the same window: its id is a hash of start, minutes and summary) and
emails only whom it has not yet. A window's readers (the notices and the status page) keep the list
``CACHE_SECONDS`` per process; a change drops the copy of the process that made it.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
from pynamodb.attributes import BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from protu import caches, errors
from protu.logging import get_logger
from protu.store import scope
from protu.store.items import DataItem

NOTICE_HOURS = 72
MAX_MINUTES = 1440
MAX_SUMMARY = 300
CACHE_SECONDS = 60.0
MARK_DAYS = 30
SCHEDULED, CANCELLED = "scheduled", "cancelled"
TEMPLATES = {SCHEDULED: "maintenance_scheduled", CANCELLED: "maintenance_cancelled"}
PARTITION = "MAINTENANCE#WINDOWS"

log = get_logger(__name__)
_cache: tuple[float, str, list[Window]] | None = None


class Window(DataItem):
    """One maintenance window (see the module doc for the layout)."""

    id = UnicodeAttribute()
    start = NumberAttribute()
    end = NumberAttribute()
    minutes = NumberAttribute()
    summary = UnicodeAttribute()
    status = UnicodeAttribute(default=SCHEDULED)
    emergency = BooleanAttribute(default=False)
    scheduled_at = NumberAttribute()
    cancelled_at = NumberAttribute(null=True)
    history = ListAttribute(of=MapAttribute, default=list)

    @staticmethod
    def key(start: int, window_id: str) -> tuple[str, str]:
        return PARTITION, f"{int(start):012d}#{window_id}"

    def public(self) -> dict[str, str]:
        """What anybody may know of it: when, and what for."""
        return {"start": _iso(self.start), "end": _iso(self.end), "summary": self.summary}


class Sent(DataItem):
    """An owner was emailed a window's news (``scheduled`` or ``cancelled``) once: ``MAINTENANCE#<id>``."""

    sent_at = NumberAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(window_id: str, news: str, tenant_id: str, user_id: str) -> tuple[str, str]:
        return f"MAINTENANCE#{window_id}", f"{news}#{tenant_id}#{user_id}"


@caches.register
def _forget() -> None:
    global _cache
    _cache = None


# ------------------------------------------------------------------------------------------------ operators
class Scheduled(msgspec.Struct, frozen=True):
    window: Window
    new: bool  # False: the same window was scheduled before (this run resumes its emails)


def schedule(
    start: str, minutes: str | int, summary: str, *, emergency: bool = False, now: float | None = None
) -> Scheduled:
    """Record a window (or find the same one, scheduled before). ``ValidationFailed`` naming the field for a start
    that is not a future ISO 8601 time with its zone, minutes outside 1..1440, a summary that is not 1..300
    printable characters, or (``notice_too_short``) a start less than ``NOTICE_HOURS`` away without
    ``emergency``; ``Conflict`` ``maintenance_cancelled`` when this very window was cancelled."""
    moment = int(time.time() if now is None else now)
    begins = _start(start, moment)
    length = _minutes(minutes)
    text = _summary(summary)
    window_id = "mw-" + hashlib.sha256(f"{begins}|{length}|{text}".encode()).hexdigest()[:16]
    try:
        found = Window.get(*Window.key(begins, window_id), consistent_read=True)
    except DoesNotExist:
        found = None
    if found is not None:
        if found.status == CANCELLED:
            raise errors.Conflict(
                "This window was cancelled; schedule another (a different start or summary).",
                code="maintenance_cancelled",
            )
        return Scheduled(found, new=False)
    if begins - moment < NOTICE_HOURS * 3600 and not emergency:
        raise errors.ValidationFailed(
            f"Owners must be told at least {NOTICE_HOURS} hours before a window starts; use --emergency for an "
            "emergency.",
            code="notice_too_short",
            details={"field": "start"},
        )
    window = Window(
        *Window.key(begins, window_id),
        id=window_id,
        start=begins,
        end=begins + length * 60,
        minutes=length,
        summary=text,
        emergency=emergency,
        scheduled_at=moment,
        history=[{"action": SCHEDULED, "at": moment, "emergency": emergency}],
    )
    try:
        window.save(condition=Window.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return schedule(start, minutes, summary, emergency=emergency, now=now)  # the same, scheduled meanwhile
    _forget()
    log.info("maintenance window scheduled", extra={"window": window_id, "emergency": emergency})
    return Scheduled(window, new=True)


def cancel(window_id: str, *, now: float | None = None) -> Window:
    """Cancel a window that has not ended (again: nothing changes, its emails resume). ``NotFound``
    ``maintenance_not_found`` for an unknown or ended one."""
    moment = int(time.time() if now is None else now)
    found = next((w for w in _current(moment, cancelled=True) if w.id == window_id), None)
    if found is None:
        raise errors.NotFound("No such maintenance window (or it has ended).", code="maintenance_not_found")
    if found.status == CANCELLED:
        return found
    try:
        found.update(
            actions=[
                Window.status.set(CANCELLED),
                Window.cancelled_at.set(moment),
                Window.history.set(Window.history.append([{"action": CANCELLED, "at": moment}])),
            ],
            condition=Window.status == SCHEDULED,
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return Window.get(found.pk, found.sk, consistent_read=True)  # cancelled meanwhile
    _forget()
    log.info("maintenance window cancelled", extra={"window": window_id})
    return found


def listing(*, now: float | None = None) -> list[Window]:
    """Windows not ended yet (current and upcoming, cancelled ones too), soonest first: the operators' list."""
    return _current(int(time.time() if now is None else now), cancelled=True)


class Notified(msgspec.Struct, frozen=True):
    sent: int  # emailed now
    before: int  # emailed by an earlier run
    failed: int  # could not be emailed now (run the command again)


def notify(window: Window, news: str, *, progress: Callable[[int], None] | None = None) -> Notified:
    """Email every active owner of every live company ``news`` (``scheduled`` or ``cancelled``) of ``window``,
    each once: a page of companies at a time, every owner marked as they are emailed. A cancellation goes only to
    owners who were told of the window. A failed email is logged (never its address) and counted."""
    # cold start: loaded on first use
    from protu import mail
    from protu.identity import companies
    from protu.identity.models import User

    counts: Counter[str] = Counter()
    for company in companies.every_company():
        with scope.acting_for(company.id):
            owners = [u for u in User.members(company.id) if u.role == "owner" and u.status == "active"]
        for user in owners:
            if _was_sent(window.id, news, company.id, user.id):
                counts["before"] += 1
                continue
            if news == CANCELLED and not _was_sent(window.id, SCHEDULED, company.id, user.id):
                continue
            try:
                mail.send(
                    TEMPLATES[news],
                    user.email,
                    company=company.name,
                    start=_moment(window.start),
                    end=_moment(window.end),
                    summary=window.summary,
                )
            except (errors.ProtuError, ValueError) as error:
                counts["failed"] += 1
                log.warning(
                    "maintenance email not sent",
                    extra={"window": window.id, "news": news, "error_type": type(error).__name__},
                )
                continue
            moment = int(time.time())
            Sent(
                *Sent.key(window.id, news, company.id, user.id),
                sent_at=moment,
                expires_at=int(window.end) + MARK_DAYS * 86400,
            ).save()
            counts["sent"] += 1
            if progress is not None:
                progress(1)
    log.info("maintenance emails", extra={"window": window.id, "news": news, **counts})
    return Notified(counts["sent"], counts["before"], counts["failed"])


# ------------------------------------------------------------------------------------------------ readers
def announced(*, now: float | None = None) -> list[Window]:
    """Scheduled windows that have not ended, soonest first (the notices and the public status page): kept
    ``CACHE_SECONDS`` per process and table."""
    global _cache
    moment = int(time.time() if now is None else now)
    table = Window.Meta.table_name
    if _cache is None or _cache[1] != table or time.monotonic() - _cache[0] > CACHE_SECONDS:
        _cache = (time.monotonic(), table, _current(moment, cancelled=False))
    return [w for w in _cache[2] if w.end > moment]


def _current(moment: int, *, cancelled: bool) -> list[Window]:
    """One query: a window not ended yet started at most ``MAX_MINUTES`` ago."""
    since = f"{max(0, moment - MAX_MINUTES * 60):012d}"
    found = Window.query(PARTITION, Window.sk >= since, consistent_read=True)
    return [w for w in found if w.end > moment and (cancelled or w.status == SCHEDULED)]


def _was_sent(window_id: str, news: str, tenant_id: str, user_id: str) -> bool:
    try:
        Sent.get(*Sent.key(window_id, news, tenant_id, user_id), consistent_read=True)
    except DoesNotExist:
        return False
    return True


# ------------------------------------------------------------------------------------------------ input
def _start(value: str, moment: int) -> int:
    text = (value or "").strip()
    try:
        parsed = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise errors.ValidationFailed(
            "The start is a date and time with its zone, such as 2026-12-10T02:00+00:00 or 2026-12-10T02:00Z.",
            details={"field": "start"},
        )
    begins = int(parsed.timestamp())
    if begins <= moment:
        raise errors.ValidationFailed("The start must be in the future.", details={"field": "start"})
    return begins


def _minutes(value: str | int) -> int:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_MINUTES:
        raise errors.ValidationFailed(
            f"The length is a whole number of minutes from 1 to {MAX_MINUTES}.", details={"field": "minutes"}
        )
    return int(text)


def _summary(value: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > MAX_SUMMARY or not text.isprintable():
        raise errors.ValidationFailed(
            f"The summary is 1 to {MAX_SUMMARY} printable characters on one line.", details={"field": "summary"}
        )
    return text


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _iso(epoch: float) -> str:
    return _moment(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")
