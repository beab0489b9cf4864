"""Delivering a company's audit events to its endpoints: at least once, in order, retried with backoff for a day.

Two jobs drive it (``functions/jobs/jobs.py``):

* ``on_new_events`` (``jobs.audit_stream``, the audit table's stream, INSERTs of events): for each company with new
  events, a run for each of its ``active`` endpoints. It never raises because an endpoint is down (the audit write
  committed long before); it raises only when our own storage fails before a run could record anything, so Lambda
  delivers the batch again (runs are idempotent: an endpoint continues from what it accepted).
* ``retry_due`` (``jobs.audit_stream_retry``, every 5 minutes): a run for each endpoint in the due index whose time
  has come: failing ones after their backoff, runs that had more than ``MAX_EVENTS_PER_RUN`` events to send, runs
  whose holder died (when its lease ends).

**A run** (``run``) takes the endpoint's lease (a conditional update: one run per endpoint at a time, whichever job
starts it), opens its secret, and sends the events after ``delivered_seq`` up to the chain's head, read from the
audit table (not from the stream record: what is delivered is exactly the chain), one message per event::

    {"type": "audit.event", "timestamp": <RFC 3339, now>, "data": <the event document, seq and hash included>}

in canonical JSON, ``webhook-id`` ``<company>:<seq>`` (the same on every attempt, so a receiver drops
duplicates). A 2xx advances ``delivered_seq`` (one conditional update per event: the lease still held, the secret
not rotated meanwhile); anything else stops the endpoint at that event, so later events wait (order): it becomes
``failing`` with ``next_attempt_at`` after a backoff (30 s doubling to 1 h, with jitter), and once it has failed for
``GIVE_UP_AFTER`` (24 h since ``failing_since``) it is ``failed``: out of the due index, ``audit_stream.failed``
audited and every owner emailed, once (the change is conditional on it still failing). An owner resumes it.

**Nothing is missed between runs.** A stream run that finds an endpoint leased adds one to its ``kicks``; the holder
releases a caught-up endpoint only if ``kicks`` is what it was when it last read the chain's head, and otherwise
reads the head again and continues. A run that dies leaves the endpoint in the due index at its lease's end, and
the retry job takes it from there.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from protu import errors, metrics
from protu.audit.chain import EVENT_PREFIX, canonical_json, event_sk, stored_time
from protu.audit.models import AuditEvent, chain_pk
from protu.logging import get_logger
from protu.ops.audit_streams import endpoints, model, transport, urls
from protu.ops.audit_streams.model import AuditStream
from protu.store import dynamo, scope
from protu.store.tx import Transaction

log = get_logger(__name__)

MAX_EVENTS_PER_RUN = 500
PAGE = 100  # events read per query
LEASE_SECONDS = 330  # longer than the functions' timeout (300 s): a lease outlives the run that took it
MARGIN_SECONDS = 20  # no delivery starts this close to the lease's end (one takes at most 15 s)
FIRST_BACKOFF, MAX_BACKOFF = 30, 3600
GIVE_UP_AFTER = 24 * 3600
OWN_FAILURE_RETRY = 300  # our own failure during a run: the retry job tries again after this
ROUNDS = 3  # re-reads of the head when kicked during a run
MAX_DUE_PER_RUN = 200
ACTOR = "system:audit-stream"

_FAILED, _LOST, _MORE, _CAUGHT_UP = "failed", "lost", "more", "caught_up"


class Run(msgspec.Struct):
    outcome: str = "delivered"  # delivered | busy | failed | error | gone
    delivered: int = 0


def message(document: dict[str, Any], at: int) -> bytes:
    """The body delivering one event (canonical JSON, UTF-8)."""
    moment = stored_time(datetime.fromtimestamp(at, UTC))
    return canonical_json({"type": "audit.event", "timestamp": moment, "data": document}).encode("utf-8")


def backoff(attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: 30 s doubling to 1 h, half of it jitter."""
    base = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(max(attempts, 1) - 1, 16))
    return base // 2 + secrets.randbelow(base // 2 + 1)


# ------------------------------------------------------------------------------------------------ the jobs
def tenants_in(records: list[dict[str, Any]]) -> list[str]:
    """The companies with new events among DynamoDB stream records of the audit table, in order."""
    found: list[str] = []
    for record in records:
        change = record.get("dynamodb") or {}
        image = change.get("NewImage") or {}
        sk = ((change.get("Keys") or {}).get("sk") or image.get("sk") or {}).get("S", "")
        tenant = (image.get("tenant") or {}).get("S")
        if record.get("eventName") != "INSERT" or not sk.startswith(EVENT_PREFIX) or not tenant or tenant in found:
            continue
        try:
            chain_pk(tenant)  # a company id (only a hand-made item has another, and verify() reports it)
        except ValueError:
            log.error("audit stream skipped an event of no company", extra={"keys": change.get("Keys")})
            continue
        found.append(tenant)
    return found


def on_new_events(records: list[dict[str, Any]], *, deadline: float | None = None) -> dict[str, int]:
    """The stream job: a run for every active endpoint of every company with new events (see the module doc)."""
    summary = {"companies": 0, "endpoints": 0, "delivered": 0, "failed": 0, "errors": 0}
    problem: Exception | None = None
    for tenant_id in tenants_in(records):
        try:
            with scope.acting_for(tenant_id):
                active = [item for item in endpoints.list_for(tenant_id) if item.status == model.ACTIVE]
                summary["companies"] += 1
                for item in active:
                    summary["endpoints"] += 1
                    if deadline is not None and time.monotonic() >= deadline:
                        _due_now(tenant_id, item.id)  # out of time: the retry job takes it
                        continue
                    _count(summary, run(tenant_id, item.id, deadline=deadline, only_active=True))
        except Exception as error:  # noqa: BLE001 - our own failure: the other companies first, then Lambda retries
            log.exception("audit stream failed for a company", extra={"tenant": tenant_id})
            summary["errors"] += 1
            problem = problem or error
    if problem is not None:
        raise problem
    return summary


def retry_due(*, deadline: float | None = None, now: float | None = None) -> dict[str, int]:
    """The schedule job: a run for every endpoint in the due index whose time has come (failing ones after their
    backoff, leftovers, runs that died). One company's failure does not stop the others (counted as ``errors``)."""
    now = model.clock() if now is None else now
    summary = {"endpoints": 0, "delivered": 0, "failed": 0, "errors": 0}
    found = AuditStream.gsi1.query(model.DUE, model.DueIndex.gsi1sk <= model.due_until(now), limit=MAX_DUE_PER_RUN)
    for item in found:
        parsed = model.parse_due(item.gsi1sk or "")
        if parsed is None:
            continue
        if deadline is not None and time.monotonic() >= deadline:
            break
        tenant_id, stream_id = parsed
        summary["endpoints"] += 1
        try:
            with scope.acting_for(tenant_id):
                _count(summary, run(tenant_id, stream_id, deadline=deadline))
        except Exception:  # noqa: BLE001 - the next run (5 minutes) tries again
            log.exception("audit stream retry failed", extra={"tenant": tenant_id, "stream": stream_id})
            summary["errors"] += 1
    return summary


def _count(summary: dict[str, int], done: Run) -> None:
    summary["delivered"] += done.delivered
    summary["failed"] += done.outcome == "failed"
    summary["errors"] += done.outcome == "error"


# ------------------------------------------------------------------------------------------------ one run
def run(tenant_id: str, stream_id: str, *, deadline: float | None = None, only_active: bool = False) -> Run:
    """Deliver what the endpoint has not accepted yet, in order, within the lease and ``deadline`` (monotonic).
    ``only_active``: the stream job's run, which leaves failing endpoints to their backoff and, finding the
    endpoint leased, kicks it instead."""
    now = int(model.clock())
    item = _take_lease(tenant_id, stream_id, now, only_active)
    if item is None:
        if only_active:
            _update(AuditStream.keyed(tenant_id, stream_id), [AuditStream.kicks.add(1)], AuditStream.pk.exists())
        return Run("busy")
    lease = int(item.lease_until)
    stop = time.monotonic() + (lease - now) - MARGIN_SECONDS
    if deadline is not None:
        stop = min(stop, deadline)
    done = Run()
    try:
        try:
            secret, url = endpoints.opened(item)
        except errors.KeyDestroyed:  # the company is being erased: its endpoints go with it
            _update(item, _out_of_index(), AuditStream.lease_until == lease)
            done.outcome = "gone"
            return done
        try:
            target = urls.check(url)
        except errors.ValidationFailed:  # allowed when added (the local receiver), not in this process
            kicks = int(item.kicks or 0)
            if endpoints.head_seq(tenant_id) > int(item.delivered_seq):
                refused = transport.Outcome(False, error="address_not_allowed")
                _fail(item, lease, int(item.delivered_seq) + 1, refused)
                done.outcome = "failed"
            elif not _release_caught_up(item, lease, kicks):
                _release(item, lease, due_at=now)
            return done
        with transport.Sender(target) as sender:
            for _ in range(ROUNDS):
                kicks = int(item.kicks or 0)
                head = endpoints.head_seq(tenant_id)
                state = _deliver(item, lease, sender, secret, head, stop, done)
                if state in (_FAILED, _LOST):
                    return done
                if state == _MORE:
                    _release(item, lease, due_at=int(model.clock()))
                    return done
                if _release_caught_up(item, lease, kicks):
                    return done
                item.refresh(consistent_read=True)  # kicked: events came after the head was read
                if int(item.lease_until or 0) != lease:
                    return done
            _release(item, lease, due_at=int(model.clock()))
            return done
    except Exception:  # noqa: BLE001 - ours (storage, keys, a broken chain): logged, retried by the retry job
        log.exception("audit stream run failed", extra={"tenant": tenant_id, "stream": stream_id})
        _release(item, lease, due_at=int(model.clock()) + OWN_FAILURE_RETRY)
        done.outcome = "error"
        return done


def _deliver(
    item: AuditStream, lease: int, sender: transport.Sender, secret: str, head: int, stop: float, done: Run
) -> str:
    next_seq = int(item.delivered_seq) + 1
    version = int(item.secret_version)
    sent = 0
    while next_seq <= head:
        last = min(head, next_seq + PAGE - 1)
        page = AuditEvent.query(
            chain_pk(item.tenant_id), AuditEvent.sk.between(event_sk(next_seq), event_sk(last)), consistent_read=True
        )
        for event in page:
            if int(event.seq) != next_seq:
                raise RuntimeError(f"audit event {next_seq} is missing from the chain")
            if sent >= MAX_EVENTS_PER_RUN or time.monotonic() >= stop:
                return _MORE
            at = int(model.clock())
            outcome = sender.post(secret, f"{item.tenant_id}:{next_seq}", at, message(event.to_document(), at))
            if not outcome.delivered:
                _fail(item, lease, next_seq, outcome)
                done.outcome = "failed"
                return _FAILED
            if not _advance(item, lease, version, next_seq, at):
                return _LOST  # deleted, rotated, or the lease taken over
            done.delivered += 1
            sent += 1
            next_seq += 1
        if next_seq <= last:
            raise RuntimeError(f"audit event {next_seq} is missing from the chain")
    return _CAUGHT_UP


# ------------------------------------------------------------------------------------------------ state changes
def _update(item: AuditStream, actions: list, condition: Any) -> bool:
    """One conditional update of the endpoint (``item`` takes the new values); False when the condition did not
    hold (another run, a rotation, a deletion), raised otherwise."""
    try:
        item.update(actions=actions, condition=condition)
    except Exception as error:
        if dynamo.condition_failed(error):
            return False
        raise
    return True


def _take_lease(tenant_id: str, stream_id: str, now: int, only_active: bool) -> AuditStream | None:
    item = AuditStream.keyed(tenant_id, stream_id)
    lease = now + LEASE_SECONDS
    free = AuditStream.lease_until.does_not_exist() | (AuditStream.lease_until < now)
    ready = AuditStream.status == model.ACTIVE
    if not only_active:
        ready = ready | ((AuditStream.status == model.FAILING) & (AuditStream.next_attempt_at <= now))
    actions = [
        AuditStream.lease_until.set(lease),
        AuditStream.gsi1pk.set(model.DUE),  # should this run die, the retry job takes over when the lease ends
        AuditStream.gsi1sk.set(model.due_key(lease, tenant_id, stream_id)),
    ]
    return item if _update(item, actions, AuditStream.pk.exists() & free & ready) else None


def _due_now(tenant_id: str, stream_id: str) -> None:
    now = int(model.clock())
    actions = [
        AuditStream.kicks.add(1),
        AuditStream.gsi1pk.set(model.DUE),
        AuditStream.gsi1sk.set(model.due_key(now, tenant_id, stream_id)),
    ]
    _update(AuditStream.keyed(tenant_id, stream_id), actions, AuditStream.pk.exists())


def _recovered() -> list:
    return [
        AuditStream.status.set(model.ACTIVE),
        AuditStream.attempts.set(0),
        AuditStream.failing_since.remove(),
        AuditStream.next_attempt_at.remove(),
        AuditStream.last_error.remove(),
    ]


def _advance(item: AuditStream, lease: int, version: int, seq: int, at: int) -> bool:
    was = item.status
    actions = [AuditStream.delivered_seq.set(seq), AuditStream.last_delivered_at.set(at)]
    if was != model.ACTIVE:
        actions += _recovered()
    condition = (AuditStream.lease_until == lease) & (AuditStream.secret_version == version)
    if not _update(item, actions, condition):
        return False
    metrics.count("AuditStreamDeliveries", Outcome="delivered")
    if was != model.ACTIVE:
        log.info("audit stream recovered", extra={"tenant": item.tenant_id, "stream": item.id, "host": item.host})
    return True


def _release(item: AuditStream, lease: int, *, due_at: int) -> None:
    """Give the lease back, leaving the endpoint due at ``due_at``."""
    actions = [
        AuditStream.lease_until.remove(),
        AuditStream.gsi1pk.set(model.DUE),
        AuditStream.gsi1sk.set(model.due_key(due_at, item.tenant_id, item.id)),
    ]
    _update(item, actions, AuditStream.lease_until == lease)


def _out_of_index() -> list:
    return [AuditStream.lease_until.remove(), AuditStream.gsi1pk.remove(), AuditStream.gsi1sk.remove()]


def _release_caught_up(item: AuditStream, lease: int, kicks: int) -> bool:
    """Give the lease back and take the endpoint out of the due index, unless a run kicked it since ``kicks``."""
    actions = _out_of_index()
    if item.status != model.ACTIVE:
        actions += _recovered()
    return _update(item, actions, (AuditStream.lease_until == lease) & (AuditStream.kicks == kicks))


def _fail(item: AuditStream, lease: int, seq: int, outcome: transport.Outcome) -> None:
    """The endpoint did not accept event ``seq``: failing with a backoff, or failed after a day of it."""
    now = int(model.clock())
    attempts = int(item.attempts or 0) + 1
    failing = item.status == model.FAILING and item.failing_since is not None
    since = int(item.failing_since) if failing else now
    error = outcome.last_error or "connection"
    metrics.count("AuditStreamDeliveries", Outcome="failed")
    log.warning(
        "audit stream delivery failed",
        extra={
            "tenant": item.tenant_id,
            "stream": item.id,
            "host": item.host,
            "seq": seq,
            "error": error,
            "attempts": attempts,
        },
    )
    if failing and now - since >= GIVE_UP_AFTER:
        _give_up(item, lease, seq, error, attempts, since)
        return
    due = now + backoff(attempts)
    actions = [
        AuditStream.status.set(model.FAILING),
        AuditStream.failing_since.set(since),
        AuditStream.attempts.set(attempts),
        AuditStream.last_error.set(error),
        AuditStream.next_attempt_at.set(due),
        AuditStream.lease_until.remove(),
        AuditStream.gsi1pk.set(model.DUE),
        AuditStream.gsi1sk.set(model.due_key(due, item.tenant_id, item.id)),
    ]
    _update(item, actions, AuditStream.lease_until == lease)


def _give_up(item: AuditStream, lease: int, seq: int, error: str, attempts: int, since: int) -> None:
    """``failed``: audited and every owner told, once (conditional on the endpoint still failing under this lease)."""
    try:
        with Transaction(item.tenant_id, actor=ACTOR) as tx:
            tx.update(
                item,
                [
                    AuditStream.status.set(model.FAILED),
                    AuditStream.attempts.set(attempts),
                    AuditStream.last_error.set(error),
                    AuditStream.next_attempt_at.remove(),
                    AuditStream.lease_until.remove(),
                    AuditStream.gsi1pk.remove(),
                    AuditStream.gsi1sk.remove(),
                ],
                condition=(AuditStream.status == model.FAILING) & (AuditStream.lease_until == lease),
            )
            tx.audit(
                "audit_stream.failed",
                endpoints.target(item.id),
                details={
                    "host": item.host,
                    "failing_since": since,
                    "attempts": attempts,
                    "last_error": error,
                    "undelivered_from_seq": seq,
                },
            )
    except errors.Conflict:
        return  # changed meanwhile (deleted, resumed): nothing to say
    log.warning("audit stream failed", extra={"tenant": item.tenant_id, "stream": item.id, "host": item.host})
    endpoints.tell_owners(
        item.tenant_id, "audit_stream_failed", host=item.host, since=datetime.fromtimestamp(since, UTC)
    )
