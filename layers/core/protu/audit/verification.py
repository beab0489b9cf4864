"""Verification of a tenant's chain: recompute every hash, follow every link, compare with the head.

What each kind of tampering looks like to the walk below (``first_broken`` is the position where it shows):

- an edited event: its recomputed hash differs from its stored ``hash`` (or, if the editor re-hashed it, the
  next event's ``prev_hash`` no longer links to it);
- a deleted event in the middle: a gap in the keys; at the tail: the head names a later seq than the last event;
- an inserted event: a key or ``seq`` out of place, a broken link, or an event beyond the head;
- reordered events: a ``seq`` field that does not match its key, or hashes/links that no longer match.

A writer who can rewrite the whole suffix *and* the head with fresh hashes defeats any unkeyed chain; that is what
the signed digests are for (``protu.audit.digests``): after the walk, every digest of the company is checked
(``check_digests``), in order, against the public key and against the chain:

- a digest whose signature does not verify (edited, swapped for another company's, or signed by another key);
- a digest that does not name the one before it, or does not start where it ended (one removed or replaced);
- a signed event that is missing (a truncated tail, the head moved back) or whose hash is not the signed one (an
  event deleted or edited and every later one re-hashed, head included).

Events newer than the last digest (at most an hour's) are compared with their Object-Lock copies
(``check_copies``); the digest job compares them too before it signs them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pynamodb.exceptions import AttributeDeserializationError, DoesNotExist

from protu.audit import mirror
from protu.audit.chain import EVENT_PREFIX, HEAD_SK, event_hash, event_sk, genesis_hash
from protu.audit.models import AuditEvent, AuditHead, chain_pk


class VerifyResult(msgspec.Struct, frozen=True):
    ok: bool
    checked: int  # events that verified before the first break (all of them when ok)
    first_broken: int | None  # the chain position (seq) where verification first failed
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


def verify(tenant_id: str) -> VerifyResult:
    """Walk the tenant's chain, then check its signed digests against it; report the first break."""
    walked = _walk(tenant_id)
    if not walked.ok:
        return walked
    problem, signed_up_to = check_digests(tenant_id, walked.checked)
    return problem or check_copies(tenant_id, signed_up_to, walked.checked) or walked


def check_digests(tenant_id: str, head_seq: int) -> tuple[VerifyResult | None, int]:
    """The first problem with the company's digests (see the module doc), or None when every one holds; and the
    last event they sign."""
    from protu.audit import digests  # cold start: verification only (the public key, the bucket)

    signed = digests.all_of(tenant_id)
    if not signed:
        return None, 0
    key = digests.verifier()
    previous: dict[str, Any] | None = None
    for name, digest in signed:
        if not key.verifies(digest):
            return _digest_broken(digest, f"the digest {name} is not signed by the audit key"), 0
        if digest.get("tenant") != tenant_id or name != digests.object_key(tenant_id, int(digest["last_seq"])):
            return _digest_broken(digest, f"the digest {name} is not this company's"), 0
        expected_first = int(previous["last_seq"]) + 1 if previous else 1
        expected_link = digests.digest_hash(previous) if previous else None
        if digest.get("previous_digest_hash") != expected_link or int(digest["first_seq"]) != expected_first:
            return _digest_broken(digest, f"the digest {name} does not follow the one before it"), 0
        last = int(digest["last_seq"])
        if last > head_seq:
            missing = f"events {head_seq + 1}..{last} were signed but are missing"
            return VerifyResult(False, head_seq, head_seq + 1, missing), 0
        try:
            event = AuditEvent.get(chain_pk(tenant_id), event_sk(last), consistent_read=True)
        except DoesNotExist:
            return VerifyResult(False, last - 1, last, f"event {last} was signed but is missing"), 0
        if event.hash != digest["last_hash"]:
            return VerifyResult(False, 0, last, f"event {last} is not the one its signed digest names"), 0
        previous = digest
    return None, int(previous["last_seq"]) if previous else 0


def check_copies(tenant_id: str, after: int, head_seq: int) -> VerifyResult | None:
    """Events no digest signs yet (at most an hour's), each against its Object-Lock copy (``audit.mirror``): the
    copy written when the event was inserted, which nobody can change or remove. An event rewritten in the table
    (re-sealed in place, the chain kept consistent) differs from it; an event written to the bucket twice (deleted
    and inserted again) is named too. An event whose copy is not there yet (the mirror follows the table's stream
    within seconds) is left to the next verification."""
    if head_seq <= after:
        return None
    found = mirror.copies(tenant_id, after)
    pk = chain_pk(tenant_id)
    for event in AuditEvent.query(
        pk, AuditEvent.sk.between(event_sk(after + 1), event_sk(head_seq)), consistent_read=True
    ):
        outcome = mirror.compare(event.hash, found.get(event.seq))
        if outcome == mirror.TWICE:
            return VerifyResult(
                False, event.seq - 1, event.seq, f"event {event.seq} reached the Object-Lock bucket twice"
            )
        if outcome == mirror.DIFFERS:
            return VerifyResult(False, event.seq - 1, event.seq, f"event {event.seq} differs from its Object-Lock copy")
    return None


def remirror(tenant_id: str) -> tuple[VerifyResult, int]:
    """Write the Object-Lock copies the mirror never wrote (a stream batch it gave up on that has since left the
    stream: ``protu-ops redrive`` finds it expired after 24 hours), from the audit table; answers the verification
    and how many copies were written. Until they are there, the digest job signs nothing past the first of them.

    Only a chain that verifies as it stands (its links, its signed digests, every copy there is) is copied: a copy is
    what nobody can change afterwards, so a rewritten event must not become one. The events without a copy are each
    held by the chain's links to what is anchored after them (the next copy there is, or the head); ``write_object``
    writes each once, however often this runs."""
    walked = _walk(tenant_id)
    if not walked.ok:
        return walked, 0
    problem, signed_up_to = check_digests(tenant_id, walked.checked)
    problem = problem or check_copies(tenant_id, signed_up_to, walked.checked)
    if problem is not None:
        return problem, 0
    if walked.checked <= signed_up_to:
        return walked, 0
    found = mirror.copies(tenant_id, signed_up_to)
    written = 0
    for event in AuditEvent.query(
        chain_pk(tenant_id),
        AuditEvent.sk.between(event_sk(signed_up_to + 1), event_sk(walked.checked)),
        consistent_read=True,
    ):
        if not found.get(event.seq):
            written += mirror.write_object(event.to_document())
    return walked, written


def _digest_broken(digest: dict[str, Any], reason: str) -> VerifyResult:
    try:
        first = max(1, int(digest.get("first_seq") or 1))
    except (TypeError, ValueError):
        first = 1
    return VerifyResult(False, first - 1, first, reason)


def _walk(tenant_id: str) -> VerifyResult:
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
