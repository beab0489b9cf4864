"""The hash chain itself: what an audit event is and how it is sealed. Pure: no AWS, no other protu module (so
every other module may import it without creating an import cycle).

Each tenant has one chain. Event ``n`` carries the hash of event ``n - 1`` (``prev_hash``) and its own ``hash``, a
SHA-256 over the canonical JSON of every other field, ``seq``, ``tenant`` and ``prev_hash`` included. So changing,
removing, inserting or reordering any event breaks a link that ``verify`` recomputes. The same canonical document
(with its ``hash``) is what the S3 mirror stores, so anyone can re-verify an exported object with ``hashlib`` alone:
drop ``hash``, canonicalise, hash, compare.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

HEAD_SK = "HEAD"
EVENT_PREFIX = "E#"
OUTCOMES = ("success", "failure", "denied")
#: The hashed fields, in no particular order (canonical JSON sorts them); ``hash`` is added on top.
FIELDS = (
    "tenant",
    "seq",
    "actor",
    "action",
    "target",
    "time",
    "request_id",
    "source_ip",
    "outcome",
    "details",
    "prev_hash",
)
MAX_DETAILS_BYTES = 4096

_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")  # "role.create", "auth.login_failed"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII only (``\\uXXXX`` escapes), no NaN: one text per value, so a hash is
    reproducible anywhere (``json.dumps(v, sort_keys=True, separators=(",", ":"))`` in Python)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def genesis_hash(tenant_id: str) -> str:
    """The ``prev_hash`` of a tenant's first event: fixed, and different per tenant so chains cannot be swapped."""
    return sha256_hex(f"protu-audit-genesis:{tenant_id}")


def event_hash(document: dict[str, Any]) -> str:
    """The hash of an event: over every field except ``hash`` itself."""
    return sha256_hex(canonical_json({name: document.get(name) for name in FIELDS}))


def event_sk(seq: int) -> str:
    return f"{EVENT_PREFIX}{seq:012d}"


def now_iso() -> str:
    return stored_time(datetime.now(UTC))


def stored_time(value: datetime) -> str:
    """An instant as events store ``time`` (UTC, microseconds, ``Z``), so that comparing texts compares instants:
    ``...T10:00:00Z`` as given would sort after ``...T10:00:00.5Z``. A naive value is taken as UTC. Raises
    ValueError or OverflowError for an instant outside years 1..9999 in UTC."""
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(
    *,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    details: dict[str, Any] | None,
    request_id: str | None,
    source_ip: str | None,
) -> dict[str, Any]:
    """Validate the caller's part of an event (everything but tenant, seq, time and the hashes).

    Validation happens here, when the event is declared, so a bad event fails before anything is written.
    ``details`` is normalised through JSON (tuples become lists...) so the hash computed now equals the hash
    recomputed from what DynamoDB gives back.
    """
    if not _ACTION.match(action or ""):
        raise ValueError(f"invalid audit action {action!r}: use 'area.verb', lower case")
    for name, value, required in (
        ("actor", actor, True),
        ("target", target, True),
        ("request_id", request_id, False),
        ("source_ip", source_ip, False),
    ):
        if value is None and not required:
            continue
        if not isinstance(value, str) or not value or len(value) > 256:
            raise ValueError(f"audit {name} must be a non-empty string of at most 256 characters")
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}")
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise ValueError("audit details must be a dict")
    try:
        encoded = canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON: {exc}") from None
    if len(encoded.encode("utf-8")) > MAX_DETAILS_BYTES:
        raise ValueError(f"audit details exceed {MAX_DETAILS_BYTES} bytes")
    return {
        "actor": actor,
        "action": action,
        "target": target,
        "outcome": outcome,
        "details": json.loads(encoded),
        "request_id": request_id,
        "source_ip": source_ip,
    }


def seal(tenant_id: str, seq: int, prev_hash: str, fields: dict[str, Any], time: str | None = None) -> dict[str, Any]:
    """Place an ``entry`` at position ``seq`` after ``prev_hash``: the complete event document with its hash."""
    document = {**fields, "tenant": tenant_id, "seq": seq, "time": time or now_iso(), "prev_hash": prev_hash}
    document["hash"] = event_hash(document)
    return document
