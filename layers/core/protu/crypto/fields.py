"""Field-level encryption of a record's sensitive fields: one Encryption SDK message per record.

All of a record's sensitive fields go into one message (a JSON object), because the SDK's cost is per message
(~0.8 ms), not per byte. The message's encryption context binds it to where it belongs::

    {"tenant": <tenant id>, "entity": <entity>, "record": <record id>, "fields": <sorted names, comma-joined>}

so a ciphertext copied to another tenant, record, entity or field set does not decrypt. Reading checks that the
message carries exactly these pairs: the SDK authenticates whatever context a message has; only we know which
context it should have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from protu.errors import DecryptionFailed, ProtuError
from protu.store.base import tenant_pk

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # entity and field names: code-defined, and never contain a comma
_MAX_RECORD_ID = 256


def _names(fields: Iterable[str]) -> list[str]:
    names = sorted(fields)
    if not names:
        raise ValueError("no fields")
    if len(set(names)) != len(names) or not all(isinstance(n, str) and _NAME.match(n) for n in names):
        raise ValueError("invalid field names")
    return names


def _context(
    tenant_id: str, entity: str, record_id: str, names: list[str], subject: str | None = None
) -> dict[str, str]:
    tenant_pk(tenant_id)  # validates the tenant id
    if not isinstance(entity, str) or not _NAME.match(entity):
        raise ValueError("invalid entity name")
    if not isinstance(record_id, str) or not 0 < len(record_id) <= _MAX_RECORD_ID:
        raise ValueError("invalid record id")
    context = {"tenant": tenant_id, "entity": entity, "record": record_id, "fields": ",".join(names)}
    if subject is not None:
        context["subject"] = subject
    return context


def encrypt_fields(
    tenant_id: str, entity: str, record_id: str, fields: Mapping[str, Any], *, subject: str | None = None
) -> bytes:
    """Encrypt a record's sensitive fields (JSON-able values) into one message under the tenant's current key, or
    under the key of ``subject`` (the person the fields are about: erasing them destroys that key).

    Creates the tenant's first key version (or the person's key) if there is none; ``KeyDestroyed`` once the
    tenant (or the person) was erased.
    """
    context = _context(tenant_id, entity, record_id, _names(fields), subject)
    plaintext = json.dumps(
        dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
    # cold start: loaded on first use
    from protu.crypto import sdk

    return sdk.encrypt(tenant_id, plaintext, context, subject)


def decrypt_fields(
    tenant_id: str, entity: str, record_id: str, blob: bytes, fields: Iterable[str], *, subject: str | None = None
) -> dict[str, Any]:
    """The fields ``encrypt_fields`` stored for exactly this tenant, entity, record, field names (and subject).

    ``DecryptionFailed`` for anything else (another tenant's or record's message, other field names, tampered or
    garbage bytes); ``KeyDestroyed`` when the tenant was erased. Errors never carry plaintext or key material.
    """
    names = _names(fields)
    expected = _context(tenant_id, entity, record_id, names, subject)

    # cold start: loaded on first use
    from protu.crypto import sdk

    try:
        plaintext, context = sdk.decrypt(tenant_id, bytes(blob))
        values = json.loads(plaintext) if context == expected else None
    except (ProtuError, BotoCoreError, ClientError, PynamoDBException):
        raise  # ours (KeyDestroyed, ...), or the key store or KMS unavailable: not a property of the ciphertext
    except Exception:  # noqa: BLE001 -- whatever the parser of untrusted bytes raises means "does not decrypt"
        values = None
    # Raised outside the handler so the error has no __context__: a JSON error's `doc` would hold the plaintext.
    if not isinstance(values, dict) or sorted(values) != names:
        raise DecryptionFailed()
    return values


def sealed_under_older_version(tenant_id: str, blob: bytes) -> bool:
    """True when ``blob`` is one of the tenant's messages sealed directly under a tenant key version older than
    the current one (what a rotation's backfill seals again). Reads the message's header only; a person's key, a
    message of another tenant or garbage is False."""
    # cold start: loaded on first use
    from protu.crypto import keystore, sdk

    found = sdk.wrapping_key_id(blob) or ""
    if not found.startswith(f"{tenant_id}#v"):
        return False
    _, version = keystore.parse_key_id(found)
    return version < keystore.ensure_tenant_key(tenant_id)
