"""Verification of a tenant's chain: recompute every hash, follow every link, compare with the head.

What each kind of tampering looks like to the walk below (``first_broken`` is the position where it shows):

- an edited event: its recomputed hash differs from its stored ``hash`` (or, if the editor re-hashed it, the
  next event's ``prev_hash`` no longer links to it);
- a deleted event in the middle: a gap in the keys; at the tail: the head names a later seq than the last event;
- an inserted event: a key or ``seq`` out of place, a broken link, or an event beyond the head;
- reordered events: a ``seq`` field that does not match its key, or hashes/links that no longer match.

A writer who can rewrite the whole suffix *and* the head with fresh hashes defeats any unkeyed chain; that is what
the Object-Lock mirror (and later the signed digests) are for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pynamodb.exceptions import AttributeDeserializationError, DoesNotExist

from protu.audit.chain import EVENT_PREFIX, HEAD_SK, event_hash, event_sk, genesis_hash
from protu.audit.models import AuditEvent, AuditHead, chain_pk


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int  # events that verified before the first break (all of them when ok)
    first_broken: int | None  # the chain position (seq) where verification first failed
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(tenant_id: str) -> VerifyResult:
    """Walk the tenant's chain in seq order (consistent, paginated Query) and report the first break."""
    pk = chain_pk(tenant_id)
    try:
        head = AuditHead.get(pk, HEAD_SK, consistent_read=True)
    except DoesNotExist:
        head = None
    expected, prev = 1, genesis_hash(tenant_id)

    def broken(reason: str) -> VerifyResult:
        return VerifyResult(False, expected - 1, expected, reason)

    try:
        for event in AuditEvent.query(pk, AuditEvent.sk.startswith(EVENT_PREFIX), consistent_read=True):
            if event.sk != event_sk(expected):
                key_seq = event.sk[len(EVENT_PREFIX) :]
                if key_seq.isdigit() and len(key_seq) == 12 and int(key_seq) > expected:
                    return broken(f"event {expected} is missing")
                return broken(f"unexpected item {event.sk!r} at position {expected}")
            if event.seq != expected or event.tenant != tenant_id:
                return broken("the event's seq or tenant does not match its key")
            if event.hash != event_hash(event.to_document()):
                return broken("the event's content does not match its hash")
            if event.prev_hash != prev:
                return broken(f"the event does not link to event {expected - 1}")
            prev = event.hash
            expected += 1
    except (AttributeDeserializationError, ValueError, TypeError) as exc:
        return broken(f"the event cannot be read: {type(exc).__name__}")

    last = expected - 1
    head_seq = int(head.seq) if head else 0
    if head_seq > last:
        return broken(f"events {last + 1}..{head_seq} are missing at the tail")
    if head_seq < last:
        return VerifyResult(False, head_seq, head_seq + 1, "events exist beyond the chain head")
    if head is not None and head.hash != prev:
        return VerifyResult(False, last - 1, last, "the chain head does not match the last event")
    return VerifyResult(True, last, None, None)
