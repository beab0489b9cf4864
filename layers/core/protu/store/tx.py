"""Unit of work: a mutating service call and its audit event(s) commit in ONE DynamoDB transaction.

This is how "an audit event cannot be skipped by a mutating service call" is made true: services write company
data only through a ``Transaction``, and a transaction refuses to commit data writes without an audit event::

    with Transaction(tenant_id, actor=user_id) as tx:        # actor/request_id/source_ip default to the request's
        tx.save(role, condition=Role.pk.does_not_exist())
        tx.audit("role.create", target=f"role:{role.id}", details={"name": role.name})

On a clean exit the data writes, the new events and a conditional write of the tenant's chain head go to
DynamoDB as one ``TransactWriteItems``: all of them happen or none does. The head condition (its seq is still
the one read, or it does not exist yet) serialises concurrent appends to one chain; a writer that lost the race
re-reads the head and tries again. A failed data condition is the caller's conflict (``errors.Conflict``) and is
never retried. An exception inside the ``with`` block writes nothing.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from protu import errors
from protu.audit import chain, context, models  # modules, not names: protu.audit imports protu.store too
from protu.settings import settings
from protu.store import dynamo

MAX_ITEMS = 100  # DynamoDB's limit of items per TransactWriteItems
HEAD_RACE_SECONDS = 8.0  # how long a writer keeps retrying a contended chain head before answering 503
BACKOFF_MS, BACKOFF_CAP_MS = 10, 250  # exponential, full jitter: racers for one chain spread out


class AuditRequired(RuntimeError):
    """A transaction with data writes was committed without an audit event: a programming error."""


class TransactionTooLarge(ValueError):
    """More than DynamoDB's 100 items (data writes + audit events + the chain head) in one transaction."""


class Transaction:
    """Collects data writes and audit events for one tenant; commits them atomically (see the module doc).

    Data writes must be on the data table under the tenant's own partition (``T#<tenant>#...``); the few
    cross-tenant items (sign-in lookups, tokens) pass ``unscoped=True`` explicitly. Audit items cannot be written
    directly: only ``audit()`` appends to the chain.
    """

    def __init__(
        self,
        tenant_id: str,
        *,
        actor: str | None = None,
        request_id: str | None = None,
        source_ip: str | None = None,
    ) -> None:
        bound = context.current()
        self.tenant_id = tenant_id
        self._pk = models.chain_pk(tenant_id)  # validates the tenant id
        self.actor = actor or bound.actor
        self.request_id = request_id or bound.request_id
        self.source_ip = source_ip or bound.source_ip
        if not self.actor:
            raise ValueError("an audit event needs an actor: pass actor= or bind one for the request")
        self._checks: list[tuple] = []
        self._deletes: list[tuple] = []
        self._puts: list[tuple] = []
        self._updates: list[tuple] = []
        self._entries: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []  # the committed event documents (seq, hash...)
        self._done = False

    # -- data writes -------------------------------------------------------------------------------------------

    def save(self, model: Any, condition: Any = None, *, unscoped: bool = False) -> None:
        self._admit(type(model), getattr(model, type(model)._hash_keyname), unscoped)
        self._puts.append((model, condition))

    def update(self, model: Any, actions: list, condition: Any = None, *, unscoped: bool = False) -> None:
        self._admit(type(model), getattr(model, type(model)._hash_keyname), unscoped)
        self._updates.append((model, actions, condition))

    def delete(self, model: Any, condition: Any = None, *, unscoped: bool = False) -> None:
        self._admit(type(model), getattr(model, type(model)._hash_keyname), unscoped)
        self._deletes.append((model, condition))

    def condition_check(
        self, model_cls: type, hash_key: str, range_key: Any = None, *, condition: Any, unscoped: bool = False
    ) -> None:
        self._admit(model_cls, hash_key, unscoped)
        self._checks.append((model_cls, hash_key, range_key, condition))

    # -- audit --------------------------------------------------------------------------------------------------

    def audit(
        self, action: str, target: str, *, details: dict[str, Any] | None = None, outcome: str = "success"
    ) -> None:
        """Declare an audit event; it gets its seq and hash at commit. Validated now, so mistakes fail early."""
        self._open()
        self._check_size(extra=1)
        self._entries.append(
            chain.entry(
                actor=self.actor,
                action=action,
                target=target,
                outcome=outcome,
                details=details,
                request_id=self.request_id,
                source_ip=self.source_ip,
            )
        )

    # -- commit -------------------------------------------------------------------------------------------------

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._done = True  # an exception in the block: nothing is written

    def commit(self) -> list[dict[str, Any]]:
        """Write everything in one transaction; returns the committed event documents."""
        self._open()
        self._done = True
        if not self._entries:
            raise AuditRequired("a mutating call must record an audit event (tx.audit) before it commits")
        deadline = time.monotonic() + HEAD_RACE_SECONDS
        attempt = 0
        while True:
            head = self._read_head()
            events = self._chain_after(head)
            try:
                self._write(events, head)
            except TransactWriteError as exc:
                if not self._lost_head_race(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise errors.ServiceUnavailable("The audit log is busy. Try again.") from exc
                time.sleep(secrets.randbelow(min(BACKOFF_CAP_MS, BACKOFF_MS * 2 ** min(attempt, 8)) + 1) / 1000)
                attempt += 1
                continue
            self.events = events
            return events

    # -- internals ----------------------------------------------------------------------------------------------

    def _open(self) -> None:
        if self._done:
            raise RuntimeError("this transaction is already committed or abandoned")

    def _admit(self, model_cls: type, hash_key: Any, unscoped: bool) -> None:
        self._open()
        if model_cls.Meta.table_name == settings().audit_table:
            raise ValueError("audit items are written only through tx.audit()")
        if not unscoped and not (isinstance(hash_key, str) and hash_key.startswith(self._pk + "#")):
            raise ValueError(f"key {hash_key!r} is outside tenant {self.tenant_id!r}")
        self._check_size(extra=1)

    def _check_size(self, extra: int = 0) -> None:
        data = len(self._checks) + len(self._deletes) + len(self._puts) + len(self._updates)
        total = data + len(self._entries) + 1 + extra  # +1: the chain head
        if total > MAX_ITEMS:
            raise TransactionTooLarge(
                f"a transaction holds at most {MAX_ITEMS} items (data writes + audit events + 1 chain head); "
                "split the work into smaller units"
            )

    def _read_head(self) -> models.AuditHead | None:
        try:
            return models.AuditHead.get(self._pk, chain.HEAD_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def _chain_after(self, head: models.AuditHead | None) -> list[dict[str, Any]]:
        seq, prev = (int(head.seq), head.hash) if head else (0, chain.genesis_hash(self.tenant_id))
        events = []
        for fields in self._entries:
            seq += 1
            event = chain.seal(self.tenant_id, seq, prev, fields)
            prev = event["hash"]
            events.append(event)
        return events

    def _write(self, events: list[dict[str, Any]], head: models.AuditHead | None) -> None:
        with dynamo.write_transaction() as tw:  # a fresh request token per attempt (see dynamo)
            for model_cls, hash_key, range_key, condition in self._checks:
                tw.condition_check(model_cls, hash_key, range_key, condition=condition)
            for model, condition in self._deletes:
                tw.delete(model, condition)
            for model, condition in self._puts:
                tw.save(model, condition)
            for event in events:
                tw.save(models.AuditEvent.from_document(event), models.AuditEvent.pk.does_not_exist())
            last = events[-1]
            actions = set((head.actions or ()) if head else ()) | {event["action"] for event in events}
            tw.save(
                models.AuditHead(
                    self._pk, chain.HEAD_SK, tenant=self.tenant_id, seq=last["seq"], hash=last["hash"], actions=actions
                ),
                (models.AuditHead.seq == head.seq) if head else models.AuditHead.pk.does_not_exist(),
            )
            for model, actions, condition in self._updates:
                tw.update(model, actions, condition)

    def _lost_head_race(self, exc: TransactWriteError) -> bool:
        """Classify a cancelled transaction: True to retry; raise a domain error; False to re-raise as is.

        Cancellation reasons come one per item, in the order PynamoDB sends them: condition checks, deletes, puts
        (data, then the events, then the head), updates.
        """
        cancelled = dynamo.cancellation(exc)
        if cancelled is None:
            return False
        before = len(self._checks) + len(self._deletes) + len(self._puts)
        labels = ["data"] * before + ["event"] * len(self._entries) + ["head"] + ["data"] * len(self._updates)
        failed = {labels[i] for i in cancelled.failed_conditions if i < len(labels)}
        if "data" in failed:
            raise errors.Conflict() from exc
        if "head" in failed or cancelled.conflicted:
            return True
        if "event" in failed:
            # The head matched but an event's key is taken: the chain was written around this code.
            raise errors.AuditChainBroken("An audit event already exists at the next position.") from exc
        return False
