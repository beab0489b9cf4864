"""Tenant data keys rotated on a schedule, and the backfill that moves old data onto the new key.

* **The schedule** (``run``, the ``KeyRotationFunction`` daily): every company whose current data key version was
  made more than ``KEY_ROTATION_DAYS`` ago (default 365) gets a new one (``keystore.rotate_tenant_key``). The
  companies come from the key table's sparse index ``rotation`` (one query, oldest first; erased companies are not
  in it), never a scan. Each rotation acts for the company through its tenant session and is on its audit log
  (``key.rotated``, actor ``system:key-rotation``), so the owner sees it. Bounded by ``deadline``: what is left is
  still due at the next run. Idempotent: a rotated company is no longer due.
* **What a rotation changes**: new messages use the new version; every older version stays and decrypts what it
  sealed (nothing is re-encrypted at rotation time, so a rotation is one transaction). A person's key is wrapped
  again under the new version the next time a record of theirs is written.
* **The backfill** (``reencrypt``, ``protu-ops keys reencrypt --tenant``): for one company, wraps every person's key
  again under the current version and seals again what is sealed directly under an older tenant version (two-factor
  secrets, audit-stream endpoints), each write conditional on the item being unchanged; one ``key.reencrypted``
  event says how much. Afterwards nothing of the company depends on an older version. Idempotent.
* **Never**: a destroyed key is never rotated, re-created or re-encrypted (``KeyDestroyed``).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from protu import audit, errors
from protu.audit import context
from protu.crypto import fields, keystore
from protu.identity.models import User
from protu.logging import get_logger
from protu.ops.audit_streams import model as streams
from protu.settings import settings
from protu.store import scope
from protu.store.tx import Transaction

ACTOR = "system:key-rotation"
log = get_logger(__name__)


def run(*, now: datetime | None = None, deadline: float | None = None) -> dict[str, Any]:
    """Rotate the data key of every company whose key is older than the configured age."""
    days = settings().key_rotation_days
    made_before = (now or datetime.now(UTC)) - timedelta(days=days)
    rotated, failed, complete = 0, 0, True
    for tenant_id in keystore.due_for_rotation(made_before):
        if deadline is not None and time.monotonic() > deadline:
            complete = False
            break
        try:
            rotate(tenant_id)
            rotated += 1
        except errors.KeyDestroyed:
            continue  # erased meanwhile: its key stays destroyed
        except Exception:  # noqa: BLE001 - one company's failure must not keep the others' keys old
            log.exception("key rotation failed", extra={"tenant": tenant_id})
            failed += 1
    summary = {"complete": complete, "rotated": rotated, "failed": failed, "max_age_days": days}
    log.info("key rotation done", extra=summary)
    return summary


def rotate(tenant_id: str, *, actor: str = ACTOR) -> int:
    """A new data key version for one company now, on its audit log; answers the new version."""
    with scope.acting_for(tenant_id), context.bound(actor=actor):
        version = keystore.rotate_tenant_key(tenant_id)
        audit.record(tenant_id, "key.rotated", f"key:v{version}", details={"version": version})
    log.info("data key rotated", extra={"tenant": tenant_id, "version": version})
    return version


def status(tenant_id: str) -> dict[str, Any] | None:
    """The company's key as its owner sees it: version, when it was last rotated and when it rotates next."""
    found = keystore.key_status(tenant_id)
    if found is None:
        return None
    days = settings().key_rotation_days
    return {
        "version": found["version"],
        "status": found["status"],
        "rotated_at": int(found["rotated_at"].timestamp()),
        "next_rotation_at": int((found["rotated_at"] + timedelta(days=days)).timestamp()),
        "rotation_days": days,
    }


def reencrypt(tenant_id: str, *, actor: str = ACTOR) -> dict[str, Any]:
    """Move everything of one company sealed under an older key version onto the current one (see the module)."""
    with scope.acting_for(tenant_id), context.bound(actor=actor):
        current = keystore.ensure_tenant_key(tenant_id)  # KeyDestroyed for an erased company: nothing is re-made
        people = keystore.rewrap_subject_keys(tenant_id)
        secrets = _reseal_users(tenant_id)
        endpoints = _reseal_streams(tenant_id)
        counts = {
            "version": current,
            "people_keys_rewrapped": people["rewrapped"],
            "two_factor_secrets_resealed": secrets,
            "audit_streams_resealed": endpoints,
        }
        audit.record(tenant_id, "key.reencrypted", f"key:v{current}", details=counts)
    log.info("re-encrypted under the current key", extra={"tenant": tenant_id, **counts})
    return counts


def _old(tenant_id: str, blob: bytes | None) -> bool:
    return blob is not None and fields.sealed_under_older_version(tenant_id, blob)


def _reseal_users(tenant_id: str) -> int:
    done = 0
    for user in User.members(tenant_id):
        actions, conditions = [], []
        for attribute in (User.totp_ciphertext, User.totp_pending_ciphertext):
            stored = getattr(user, attribute.attr_name)
            if stored and _old(tenant_id, base64.b64decode(stored)):
                opened = fields.decrypt_fields(tenant_id, "user", user.id, base64.b64decode(stored), ["totp_secret"])
                blob = fields.encrypt_fields(tenant_id, "user", user.id, opened)
                actions.append(attribute.set(base64.b64encode(blob).decode("ascii")))
                conditions.append(attribute == stored)
        if not actions:
            continue
        condition = conditions[0]
        for more in conditions[1:]:
            condition &= more
        with Transaction(tenant_id) as tx:
            tx.update(user, actions, condition=condition)
            tx.audit("user.secret_resealed", f"user:{user.id}")
        done += 1
    return done


def _reseal_streams(tenant_id: str) -> int:
    done = 0
    found = streams.AuditStream.query(
        streams.AuditStream.partition(tenant_id),
        streams.AuditStream.sk.startswith(streams.PREFIX),
        consistent_read=True,
    )
    for item in found:
        if not _old(tenant_id, bytes(item.sealed) if item.sealed else None):
            continue
        opened = fields.decrypt_fields(tenant_id, streams.ENTITY, item.id, bytes(item.sealed), streams.SEALED)
        blob = fields.encrypt_fields(tenant_id, streams.ENTITY, item.id, opened)
        with Transaction(tenant_id) as tx:
            tx.update(
                item,
                [streams.AuditStream.sealed.set(blob)],
                condition=streams.AuditStream.secret_version == item.secret_version,
            )
            tx.audit("audit_stream.resealed", f"audit_stream:{item.id}")
        done += 1
    return done
