"""Mirror of the audit chain into the Object-Lock bucket, fed by the audit table's DynamoDB stream.

Every new event becomes ``audit/<tenant>/<seq, 12 digits>.json`` holding its canonical document (``hash``
included), so it can be re-verified with nothing but ``hashlib``. The bucket's default retention (COMPLIANCE,
7 years, set in ``template.yaml``) locks each object as it is written; the retention is deliberately not repeated
here, so the template stays the only definition of it.

Stream delivery is at-least-once, so writing is idempotent: a conditional put (``If-None-Match: *``) creates the
object once; on redelivery the existing object's hash is compared and nothing is written. If a *different*
event already sits at that key, the new one is written anyway as a second version (the versioned, locked bucket
keeps both) and a warning is logged: the mirror never drops an event and never blocks the stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from protu import aws
from protu.audit.chain import EVENT_PREFIX, canonical_json, event_hash
from protu.audit.models import AuditEvent, chain_pk
from protu.logging import get_logger
from protu.settings import settings

log = get_logger(__name__)


def object_key(tenant_id: str, seq: int) -> str:
    return f"audit/{tenant_id}/{seq:012d}.json"


def mirror_records(records: Iterable[dict[str, Any]]) -> int:
    """Mirror the new events among DynamoDB stream records; returns how many events were handled.

    Only INSERTs of event items count: the head changes on every append and events are never modified, so
    MODIFY/REMOVE records (and HEAD items) carry nothing to mirror.
    """
    handled = 0
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or not image.get("sk", {}).get("S", "").startswith(EVENT_PREFIX):
            continue
        try:
            document = AuditEvent.from_raw_data(image).to_document()
            chain_pk(document["tenant"])  # a valid tenant id: it becomes part of the object key
            if not isinstance(document["seq"], int):
                raise TypeError("seq")
        except (TypeError, ValueError):
            # Only a hand-made item looks like this, and verify() reports it; skipping keeps the stream moving.
            log.error("audit mirror skipped a malformed event item", extra={"keys": record["dynamodb"].get("Keys")})
            continue
        write_object(document)
        handled += 1
    return handled


def write_object(document: dict[str, Any]) -> bool:
    """Store one event document; False when the identical event was already there (a redelivery)."""

    s3 = aws.client("s3")
    put = {
        "Bucket": settings().audit_bucket,
        "Key": object_key(document["tenant"], document["seq"]),
        "Body": canonical_json(document).encode("utf-8"),
        "ContentType": "application/json",
        "Metadata": {"hash": document["hash"]},
        "ChecksumAlgorithm": "SHA256",  # Object Lock requires an integrity checksum on every put
    }
    try:
        s3.put_object(**put, IfNoneMatch="*")
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise
    existing = s3.head_object(Bucket=put["Bucket"], Key=put["Key"]).get("Metadata", {}).get("hash")
    if existing == document["hash"]:
        return False
    log.warning("audit mirror found a different event at %s; keeping both versions", put["Key"])
    s3.put_object(**put)
    return True


# ------------------------------------------------------------------------------------------------ comparing
MISSING, TWICE, DIFFERS = "missing", "twice", "differs"


def copies(tenant_id: str, after: int) -> dict[int, list[dict[str, Any]]]:
    """The Object-Lock copies of the company's events after seq ``after``, by seq: each key's versions (one, unless
    an event was written to the bucket again). One listing, paginated, whatever the number of events."""
    found: dict[int, list[dict[str, Any]]] = {}
    # KeyMarker starts the listing after that key. Only a key that exists is given: moto (5.2.6) also drops the first
    # key after a marker that names none; and versions of the marker's own key are left out below either way.
    marker = {"KeyMarker": object_key(tenant_id, after)} if after > 0 else {}
    pages = (
        aws.client("s3")
        .get_paginator("list_object_versions")
        .paginate(Bucket=settings().audit_bucket, Prefix=f"audit/{tenant_id}/", **marker)
    )
    for page in pages:
        for version in page.get("Versions") or ():
            name = version["Key"].rsplit("/", 1)[-1].removesuffix(".json")
            if name.isdigit() and int(name) > after:
                found.setdefault(int(name), []).append(version)
    return found


def compare(event_hash_: str, versions: list[dict[str, Any]] | None) -> str | None:
    """How an event (its stored hash) stands against its copies: None when its one copy holds it; ``MISSING`` (the
    mirror has not written it yet), ``TWICE`` or ``DIFFERS`` (a rewritten event) otherwise."""
    if not versions:
        return MISSING
    if len(versions) > 1:
        return TWICE
    version = versions[0]
    body = (
        aws.client("s3")
        .get_object(Bucket=settings().audit_bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
        .read()
    )
    try:
        copy = json.loads(body)
    except ValueError:
        copy = {}
    if not isinstance(copy, dict) or copy.get("hash") != event_hash_ or event_hash(copy) != event_hash_:
        return DIFFERS
    return None
