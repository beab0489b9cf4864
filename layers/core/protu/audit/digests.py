"""Signed digests of each company's audit chain: evidence anyone can check with the public key alone.

Hourly (``AuditDigestFunction``, ``jobs.audit_digests``; on demand ``protu-ops``), each company whose chain grew
since its last digest gets a new one, in the Object-Lock audit bucket (``digests/<tenant>/<last seq>.json``, 12
digits, so the newest sorts last), as CloudTrail's log-file integrity validation does for its logs::

    {"version": 1, "tenant": ..., "first_seq": ..., "last_seq": ..., "last_hash": <the hash of event last_seq>,
     "previous_digest_hash": <sha256 of the previous digest's canonical document, or null for the first>,
     "time": <RFC 3339>, "key_id": <the key id KMS's GetPublicKey answers>, "algorithm": "ECDSA_SHA_256",
     "signature": <base64 of the DER ECDSA signature over the canonical document without "signature">}

The canonical document is ``chain.canonical_json`` (sorted keys, no spaces) in UTF-8; KMS signs it as a RAW message
with ``ECDSA_SHA_256`` (P-256), so ``cryptography`` verifies it with the public key
(``GET /api/audit-events/public-key``): the event ``last_hash`` names fixes every event before it through the
chain, and each digest fixes the one before it. Only the digest job's role may sign (the key's policy).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from protu import aws, caches, metrics
from protu.audit import mirror
from protu.audit.chain import HEAD_SK, canonical_json, event_hash, event_sk, genesis_hash
from protu.audit.models import AuditEvent, AuditHead, chain_pk
from protu.logging import get_logger
from protu.settings import settings

log = get_logger(__name__)

VERSION = 1
ALGORITHM = "ECDSA_SHA_256"
PREFIX = "digests/"


def object_key(tenant_id: str, last_seq: int) -> str:
    return f"{PREFIX}{tenant_id}/{last_seq:012d}.json"


def signed_bytes(digest: dict[str, Any]) -> bytes:
    """What the signature covers: the canonical document without its signature."""
    return canonical_json({k: v for k, v in digest.items() if k != "signature"}).encode("utf-8")


def digest_hash(digest: dict[str, Any]) -> str:
    """How the next digest names this one."""
    return hashlib.sha256(signed_bytes(digest)).hexdigest()


def latest(tenant_id: str) -> dict[str, Any] | None:
    """The company's newest digest, or None before its first."""
    s3 = aws.client("s3")
    bucket = settings().audit_bucket
    newest = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}{tenant_id}/"):
        for item in page.get("Contents") or ():
            if newest is None or item["Key"] > newest:
                newest = item["Key"]
    if newest is None:
        return None
    return json.loads(s3.get_object(Bucket=bucket, Key=newest)["Body"].read())


def write_for(tenant_id: str, now: float | None = None) -> dict[str, Any] | None:
    """A digest of the company's events since its last digest; None when nothing was added since."""
    head = _head(tenant_id)
    previous = latest(tenant_id)
    if previous is not None and not verifier().verifies(previous):
        raise ChainBroken("the newest digest in the bucket is not signed by the audit key")
    covered = int(previous["last_seq"]) if previous else 0
    head_seq = int(head.seq) if head is not None else 0
    if head_seq < covered:
        raise ChainBroken(f"events {head_seq + 1}..{covered} were signed but are missing")
    if head_seq == covered:
        return None
    last = _segment_end(tenant_id, previous, head_seq)
    if last is None:
        return None  # the new events' copies are not in the bucket yet: the next run signs them
    digest: dict[str, Any] = {
        "version": VERSION,
        "tenant": tenant_id,
        "first_seq": covered + 1,
        "last_seq": int(last.seq),
        "last_hash": last.hash,
        "previous_digest_hash": digest_hash(previous) if previous else None,
        "time": datetime.fromtimestamp(time.time() if now is None else now, UTC).isoformat(timespec="seconds"),
        "key_id": key_id(),
        "algorithm": ALGORITHM,
    }
    metrics.count("KmsCalls")
    signature = aws.client("kms").sign(
        KeyId=settings().audit_signing_key_id,
        Message=signed_bytes(digest),
        MessageType="RAW",
        SigningAlgorithm=ALGORITHM,
    )["Signature"]
    digest["signature"] = base64.b64encode(signature).decode("ascii")
    _put(object_key(tenant_id, digest["last_seq"]), digest)
    return digest


class ChainBroken(RuntimeError):
    """The events since the last digest do not verify: nothing is signed (the job fails and the alarm says so)."""


def _segment_end(tenant_id: str, previous: dict[str, Any] | None, head_seq: int) -> AuditEvent | None:
    """The last event of the new segment, after checking the segment: from the previous digest's last event (still
    holding the signed hash) to the head, each event's hash and link (``write_for`` has checked the previous digest's
    signature); then each new event against its Object-Lock copy, the segment ending before the first event whose
    copy the mirror has not written yet (None when that is the first). A digest never signs a chain that does not
    verify: a change made to the table since the last digest (or a digest planted in the bucket) would otherwise be
    signed as if it were the log, and so would an event re-sealed in place, chain and head kept consistent."""
    start = int(previous["last_seq"]) if previous else 1
    prev_hash = None if previous else genesis_hash(tenant_id)
    expected = start
    found = None
    events = AuditEvent.query(
        chain_pk(tenant_id), AuditEvent.sk.between(event_sk(start), event_sk(head_seq)), consistent_read=True
    )
    for event in events:
        if event.seq != expected or event.hash != event_hash(event.to_document()):
            raise ChainBroken(f"event {expected} does not verify")
        if previous and expected == start:
            if event.hash != previous["last_hash"]:
                raise ChainBroken(f"event {start} is not the one the previous digest signed")
        elif event.prev_hash != prev_hash:
            raise ChainBroken(f"event {expected} does not link to event {expected - 1}")
        prev_hash, found, expected = event.hash, event, expected + 1
    if found is None or found.seq != head_seq:
        raise ChainBroken(f"events up to {head_seq} are missing")
    return _mirrored_end(tenant_id, int(previous["last_seq"]) if previous else 0, head_seq)


def _mirrored_end(tenant_id: str, covered: int, head_seq: int) -> AuditEvent | None:
    """The last of the events after ``covered`` whose Object-Lock copies hold them, without a gap."""
    copies = mirror.copies(tenant_id, covered)
    last = None
    events = AuditEvent.query(
        chain_pk(tenant_id), AuditEvent.sk.between(event_sk(covered + 1), event_sk(head_seq)), consistent_read=True
    )
    for event in events:
        outcome = mirror.compare(event.hash, copies.get(event.seq))
        if outcome == mirror.MISSING:
            break
        if outcome is not None:
            raise ChainBroken(f"event {event.seq} does not match its Object-Lock copy ({outcome})")
        last = event
    return last


def write_all(now: float | None = None, *, tenant_id: str | None = None) -> dict[str, int]:
    """A digest for every company whose chain grew (the hourly job), or for one. One company's failure (its chain
    does not verify, ``ChainBroken``) does not stop the others; it is logged and counted (the job's failure alarm),
    and nothing is signed for that company until its chain verifies again."""
    written = failed = 0
    tenants = [tenant_id] if tenant_id else (head.tenant for head in AuditHead.scan(AuditHead.sk == HEAD_SK))
    for tenant in tenants:
        try:
            if write_for(tenant, now=now) is not None:
                written += 1
        except Exception:  # noqa: BLE001 - the next hour's run covers these events too
            log.exception("audit digest failed", extra={"tenant": tenant})
            failed += 1
    return {"digests": written, "failed": failed}


def all_of(tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every digest of the company, oldest first: (object key, document). A document that is not JSON is answered
    as an empty one (its signature then fails)."""
    s3 = aws.client("s3")
    bucket = settings().audit_bucket
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}{tenant_id}/")
        for item in page.get("Contents") or ()
    ]
    found = []
    for key in sorted(keys):
        try:
            document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ValueError:
            document = {}
        found.append((key, document if isinstance(document, dict) else {}))
    return found


class Verifier:
    """Checks a digest's signature with the published public key, as an auditor would (``cryptography``)."""

    def __init__(self, public_key_pem: str) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key  # cold start: verifying only

        self._key = load_pem_public_key(public_key_pem.encode("ascii"))

    def verifies(self, digest: dict[str, Any]) -> bool:
        # cold start: verifying only
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            signature = base64.b64decode(str(digest.get("signature") or ""), validate=True)
            self._key.verify(signature, signed_bytes(digest), ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def verifier() -> Verifier:
    return Verifier(_public_key()["public_key_pem"])


def public_key() -> dict[str, str]:
    """The signing key's public half (PEM, SubjectPublicKeyInfo), its id and the algorithm: all a verifier needs."""
    return dict(_public_key())


def key_id() -> str:
    return _public_key()["key_id"]


@caches.register
def _forget() -> None:
    _cached.clear()


_cached: dict[str, dict[str, str]] = {}


def _public_key() -> dict[str, str]:
    wanted = settings().audit_signing_key_id
    found = _cached.get(wanted)
    if found is None:
        answer = aws.client("kms").get_public_key(KeyId=wanted)
        der = base64.b64encode(answer["PublicKey"]).decode("ascii")
        lines = [der[i : i + 64] for i in range(0, len(der), 64)]
        pem = "\n".join(["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----"])
        found = {"key_id": answer["KeyId"], "algorithm": ALGORITHM, "public_key_pem": pem + "\n"}
        _cached[wanted] = found
    return found


def _head(tenant_id: str) -> AuditHead | None:
    try:
        return AuditHead.get(chain_pk(tenant_id), HEAD_SK, consistent_read=True)
    except AuditHead.DoesNotExist:
        return None


def _put(key: str, digest: dict[str, Any]) -> None:
    """Write once: a digest already at that key (two runs at once) is kept, not replaced."""
    try:
        aws.client("s3").put_object(
            Bucket=settings().audit_bucket,
            Key=key,
            Body=canonical_json(digest).encode("utf-8"),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",  # Object Lock requires an integrity checksum on every put
            IfNoneMatch="*",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise
        log.warning("an audit digest was already written at %s", key)
