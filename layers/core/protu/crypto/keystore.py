"""The tenant key store: per-tenant data keys, wrapped by KMS, versioned, destroyable.

Keys live in their own table (``KEY_TABLE``), apart from the data they protect, so destroying a tenant's keys makes
its data unreadable everywhere, backups of the data table included. Each tenant has one partition::

    pk "T#<tenant>"  sk "KEY#CURRENT"  version, status "active" | "destroyed", created_at, rotated_at, destroyed_at
    pk "T#<tenant>"  sk "KEY#v0001"    version, status "active" | "retired", created_at, wrapped, kms_key_id

A version item holds only ``wrapped``: the KMS ``CiphertextBlob`` of a 256-bit data key made by ``GenerateDataKey``
with the encryption context ``{"tenant": <tenant>}``, so a wrapped key cannot be unwrapped as another tenant's.
The ``KEY#CURRENT`` item names the version new messages use; after ``destroy_tenant_key`` it stays as a tombstone
so later reads say "erased" (``KeyDestroyed``) rather than "not ours" (``DecryptionFailed``).

Rotation: ``rotate_tenant_key`` makes a new version for new messages; older versions stay and decrypt what they
sealed. The pointer of an active tenant carries ``rotation = "due"`` and ``rotated_at`` (when its current version
was made), the keys of the table's sparse index ``rotation``: the scheduled rotation (``protu.ops.key_rotation``)
finds the tenants whose key is older than the configured age with one query, never a scan. A destroyed tenant
leaves the index. A person's key is wrapped by the tenant version current when it was made, and wrapped again under
the newest version when a record of theirs is next written (``subject_key(..., rewrap=True)``) or by the backfill.

Unwrapped keys and current versions are cached in this process for ``settings().key_cache_seconds``: a warm
process makes no KMS call and no key-store read for a tenant it has seen. The price is that a rotation or a
destruction done by another process reaches this one within that time; ``destroy_tenant_key`` clears this
process's cache at once.

Key ids (what an Encryption SDK message names as its wrapping key) are ``<tenant>#v<N>``. A person's sealed data
(a candidate's notes, the answers of responses about them) is under their own key instead (crypto-shredding one
person): 256 random bits wrapped by a tenant key version with AES-GCM and stored in the same partition
(``sk SUBJ#<subject>``), key id ``<tenant>#s.<subject>``. ``destroy_subject_key`` leaves a tombstone; destroying a
tenant deletes its whole partition, subjects included (and their keys are wrapped by the tenant key anyway).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from protu import aws, caches, metrics
from protu.errors import DecryptionFailed, KeyDestroyed
from protu.settings import settings
from protu.store import dynamo
from protu.store.base import SettingValue, tenant_pk

CURRENT_SK = "KEY#CURRENT"
ACTIVE, RETIRED, DESTROYED = "active", "retired", "destroyed"
_MAX_VERSION = 9999  # four digits in the sort key keep versions in order
_CACHE_ENTRIES = 4096  # two entries per warm tenant (current version, key); a Lambda sees few tenants
ROTATION_DUE = "due"  # the one partition of the index ``rotation``: every active tenant's pointer


class RotationIndex(GlobalSecondaryIndex):
    """``rotation`` (hash ``rotation``, range ``rotated_at``), as ``template.yaml`` declares it: active pointers
    by the age of their current version."""

    class Meta:
        index_name = "rotation"
        projection = KeysOnlyProjection()

    rotation = UnicodeAttribute(hash_key=True)
    rotated_at = UTCDateTimeAttribute(range_key=True)


class KeyRecord(Model):
    """One item of the key table: a tenant's current-version pointer (or tombstone) or one wrapped key version."""

    class Meta:
        table_name = SettingValue("key_table")
        region = SettingValue("region")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version = NumberAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    wrapped = BinaryAttribute(null=True, legacy_encoding=False)
    kms_key_id = UnicodeAttribute(null=True)
    destroyed_at = UTCDateTimeAttribute(null=True)
    rotation = UnicodeAttribute(null=True)  # "due" on an active tenant's pointer (the index ``rotation``)
    rotated_at = UTCDateTimeAttribute(null=True)  # when the pointer's version was made

    rotation_index = RotationIndex()


def version_sk(version: int) -> str:
    return f"KEY#v{version:04d}"


def key_id(tenant_id: str, version: int) -> str:
    """The wrapping-key id an Encryption SDK message records: ``<tenant>#v<N>``."""
    return f"{tenant_id}#v{version}"


def parse_key_id(value: str) -> tuple[str, int]:
    """``(tenant, version)`` of a tenant key id; ``ValueError`` for anything else (a subject key id included)."""
    tenant, sep, version = value.rpartition("#v")
    if not sep or not version.isdigit() or version.startswith("0"):
        raise ValueError("not a tenant key id")
    tenant_pk(tenant)  # validates the tenant id
    return tenant, int(version)


# ------------------------------------------------------------------------------------------------ subject keys
_SUBJECT = re.compile(r"^[a-z]{2,8}-[0-9a-f]{20}$")  # a person's record id (protu.directory)


def subject_key_id(tenant_id: str, subject: str) -> str:
    """The wrapping-key id of one person's key: ``<tenant>#s.<subject>``."""
    if not _SUBJECT.match(subject or ""):
        raise ValueError("invalid subject id")
    return f"{tenant_id}#s.{subject}"


def parse_subject_key_id(value: str) -> tuple[str, str]:
    """``(tenant, subject)`` of a subject key id; ``ValueError`` for anything else."""
    tenant, sep, subject = value.partition("#s.")
    if not sep or not _SUBJECT.match(subject):
        raise ValueError("not a subject key id")
    tenant_pk(tenant)
    return tenant, subject


def _subject_sk(subject: str) -> str:
    return f"SUBJ#{subject}"


def _subject_aad(tenant_id: str, subject: str) -> bytes:
    return f"protu-subject-key|{tenant_id}|{subject}".encode()


def subject_key(tenant_id: str, subject: str, *, create: bool = True, rewrap: bool = False) -> bytes:
    """One person's data key (crypto-shredding one person): 256 random bits, stored wrapped by the tenant key
    (AES-256-GCM, the tenant key version and the person bound as associated data) in the tenant's partition, made
    on first use. ``KeyDestroyed`` once the person was erased, ``DecryptionFailed`` when ``create`` is off and there
    is none. Cached like tenant keys. ``rewrap`` (a write of the person's data): a key wrapped by an older tenant
    version than the current one is wrapped again under the current one."""
    cached = _cache.get(("s", tenant_id, subject))
    if cached is not None and not (rewrap and cached[1] < _current_version(tenant_id)):
        return cached[0]

    pk, sk = tenant_pk(tenant_id), _subject_sk(subject)
    try:
        item = KeyRecord.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        if not create:
            _cache.drop_key(("v", tenant_id))
            _current_version(tenant_id, create=False)  # KeyDestroyed when the whole company was erased
            raise DecryptionFailed() from None
        plaintext = secrets.token_bytes(32)
        version = _current_version(tenant_id)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(tenant_key(tenant_id, version)).encrypt(nonce, plaintext, _subject_aad(tenant_id, subject))
        item = KeyRecord(pk, sk, version=version, status=ACTIVE, created_at=_now(), wrapped=nonce + sealed)
        try:
            item.save(condition=KeyRecord.pk.does_not_exist())
        except PutError as error:
            if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
            return subject_key(tenant_id, subject, create=False)  # another process made it first: use theirs
        _remember(("s", tenant_id, subject), (plaintext, version))
        return plaintext
    if item.status == DESTROYED or item.wrapped is None:
        raise KeyDestroyed()
    wrapped = bytes(item.wrapped)
    try:
        plaintext = AESGCM(tenant_key(tenant_id, int(item.version))).decrypt(
            wrapped[:12], wrapped[12:], _subject_aad(tenant_id, subject)
        )
    except InvalidTag:
        raise DecryptionFailed() from None
    version = int(item.version)
    if rewrap and version < _current_version(tenant_id):
        version = _rewrap(tenant_id, subject, plaintext, version)
    _remember(("s", tenant_id, subject), (plaintext, version))
    return plaintext


def _rewrap(tenant_id: str, subject: str, plaintext: bytes, old: int) -> int:
    """Wrap one person's key again under the tenant's current version (the same key: nothing sealed with it
    changes); answers the version that wraps it now. A concurrent rewrap, or the person's erasure, wins."""
    version = _current_version(tenant_id)
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(tenant_key(tenant_id, version)).encrypt(nonce, plaintext, _subject_aad(tenant_id, subject))
    try:
        KeyRecord(tenant_pk(tenant_id), _subject_sk(subject)).update(
            actions=[KeyRecord.version.set(version), KeyRecord.wrapped.set(nonce + sealed)],
            condition=(KeyRecord.version == old) & (KeyRecord.status == ACTIVE),
        )
    except UpdateError as error:
        if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        return old  # rewrapped meanwhile (or erased: the next read says so)
    return version


def rewrap_subject_keys(tenant_id: str) -> dict[str, int]:
    """The backfill of a rotation for people's keys: every one still wrapped by an older tenant version is wrapped
    again under the current one. Answers how many were ``rewrapped`` and how many were ``current`` already."""
    current = _current_version(tenant_id, create=False)
    counts = {"rewrapped": 0, "current": 0}
    found = KeyRecord.query(tenant_pk(tenant_id), KeyRecord.sk.startswith("SUBJ#"), consistent_read=True)
    for item in found:
        if item.status != ACTIVE:
            continue
        if int(item.version) >= current:
            counts["current"] += 1
            continue
        _cache.drop_key(("s", tenant_id, item.sk.removeprefix("SUBJ#")))
        subject_key(tenant_id, item.sk.removeprefix("SUBJ#"), create=False, rewrap=True)
        counts["rewrapped"] += 1
    return counts


def destroy_subject_key(tenant_id: str, subject: str) -> None:
    """Erase one person's sealed data everywhere, backups included, by destroying their key. Irreversible.

    A tombstone stays (``status`` destroyed, no key), so later reads say "erased" (``KeyDestroyed``) and the person's
    id never gets a key again. Other warm processes stop decrypting within ``key_cache_seconds``."""
    KeyRecord(tenant_pk(tenant_id), _subject_sk(subject)).update(
        actions=[
            KeyRecord.status.set(DESTROYED),
            KeyRecord.destroyed_at.set(_now()),
            KeyRecord.wrapped.remove(),
            KeyRecord.version.set(KeyRecord.version | 0),
            KeyRecord.created_at.set(KeyRecord.created_at | _now()),
        ]
    )
    _cache.drop_key(("s", tenant_id, subject))


class TTLCache:
    """A small thread-safe LRU map whose entries expire: bounded memory, and keys do not outlive their TTL."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] <= now:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def drop_key(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def drop(self, tenant_id: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[1] == tenant_id]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = TTLCache(_CACHE_ENTRIES)


def _remember(key: tuple, value: Any) -> None:
    _cache.put(key, value, settings().key_cache_seconds)


@caches.register
def _forget() -> None:
    """Forget every cached key and version, as a new process would (tests; after restoring the key table)."""
    _cache.clear()


def _now() -> datetime:
    return datetime.now(UTC)


def _kms_context(tenant_id: str) -> dict[str, str]:
    return {"tenant": tenant_id}


def _generate(tenant_id: str) -> tuple[bytes, bytes, str]:
    """A new data key from KMS: (plaintext, CiphertextBlob, wrapping KMS key ARN)."""
    metrics.count("KmsCalls")
    out = aws.client("kms").generate_data_key(
        KeyId=settings().kms_key_id, KeySpec="AES_256", EncryptionContext=_kms_context(tenant_id)
    )
    return out["Plaintext"], out["CiphertextBlob"], out["KeyId"]


def _unwrap(tenant_id: str, item: KeyRecord) -> bytes:
    metrics.count("KmsCalls")
    out = aws.client("kms").decrypt(
        CiphertextBlob=item.wrapped, KeyId=_here(item.kms_key_id), EncryptionContext=_kms_context(tenant_id)
    )
    return out["Plaintext"]


def _here(kms_key_id: str | None) -> str | None:
    """The wrapping key as this region knows it: a multi-Region key (``mrk-``) has the same id in every region it
    is replicated to, so a key table replica's items (ARNs of the home region) unwrap with the replica here."""
    parts = (kms_key_id or "").split(":")
    if len(parts) == 6 and parts[5].startswith("key/mrk-"):
        parts[3] = settings().region
        return ":".join(parts)
    return kms_key_id


def _read_current(tenant_id: str) -> KeyRecord | None:
    try:
        return KeyRecord.get(tenant_pk(tenant_id), CURRENT_SK, consistent_read=True)
    except DoesNotExist:
        return None


def _lost_condition(error: TransactWriteError) -> bool:
    """True when a transaction failed only because a condition did not hold (another writer got there first)."""
    cancelled = dynamo.cancellation(error)
    return cancelled is not None and cancelled.only_conditions


def _new_version_item(tenant_id: str, version: int, wrapped: bytes, kms_key_id: str, now: datetime) -> KeyRecord:
    return KeyRecord(
        tenant_pk(tenant_id),
        version_sk(version),
        version=version,
        status=ACTIVE,
        created_at=now,
        wrapped=wrapped,
        kms_key_id=kms_key_id,
    )


def _read_with_pointer(tenant_id: str, version: int) -> tuple[KeyRecord | None, KeyRecord | None]:
    """The pointer and one version item in one consistent round trip (``TransactGetItems`` needs only the
    ``dynamodb:GetItem`` permission, unlike ``BatchGetItem``)."""
    pk = tenant_pk(tenant_id)
    with dynamo.read_transaction() as tx:
        futures = tx.get(KeyRecord, pk, CURRENT_SK), tx.get(KeyRecord, pk, version_sk(version))
    found = []
    for future in futures:
        try:
            found.append(future.get())
        except DoesNotExist:
            found.append(None)
    return found[0], found[1]


def _create_first(tenant_id: str) -> int:
    """Write v1 and the pointer in one conditional transaction; a concurrent creator's keys win if it was first."""
    plaintext, wrapped, kms_key_id = _generate(tenant_id)
    now = _now()
    absent = KeyRecord.pk.does_not_exist()
    try:
        with dynamo.write_transaction() as tx:
            tx.save(_new_version_item(tenant_id, 1, wrapped, kms_key_id, now), condition=absent)
            tx.save(
                KeyRecord(
                    tenant_pk(tenant_id),
                    CURRENT_SK,
                    version=1,
                    status=ACTIVE,
                    created_at=now,
                    rotation=ROTATION_DUE,
                    rotated_at=now,
                ),
                condition=absent,
            )
    except TransactWriteError as error:
        if not _lost_condition(error):
            raise
        return _current_version(tenant_id, create=False)
    _remember(("k", tenant_id, 1), plaintext)
    _remember(("v", tenant_id), 1)
    return 1


def _current_version(tenant_id: str, *, create: bool = True) -> int:
    cached = _cache.get(("v", tenant_id))
    if cached is not None:
        return cached
    current = _read_current(tenant_id)
    if current is None:
        if not create:
            raise DecryptionFailed("No key exists for this tenant.")
        return _create_first(tenant_id)
    if current.status == DESTROYED:
        raise KeyDestroyed()
    _remember(("v", tenant_id), current.version)
    return current.version


def tenant_key(tenant_id: str, version: int) -> bytes:
    """The unwrapped key of one version, from the cache or from the store and KMS.

    On a cache miss the pointer is read in the same request as the version item, so an erased tenant reads as
    ``KeyDestroyed`` even if a destruction stopped half-way, and an unknown version reads as ``DecryptionFailed``.
    """
    cached = _cache.get(("k", tenant_id, version))
    if cached is not None:
        return cached
    current, item = _read_with_pointer(tenant_id, version)
    if current is not None and current.status == DESTROYED:
        raise KeyDestroyed()
    if current is None or item is None or item.wrapped is None:
        raise DecryptionFailed()
    plaintext = _unwrap(tenant_id, item)
    _remember(("k", tenant_id, version), plaintext)
    return plaintext


def ensure_tenant_key(tenant_id: str) -> int:
    """The tenant's current key version (the one new messages use), creating v1 if it has none.

    Idempotent and safe to race; ``KeyDestroyed`` once the tenant was erased (its id never gets keys again).
    """
    return _current_version(tenant_id)


def rotate_tenant_key(tenant_id: str) -> int:
    """Make a new key version for new messages; older versions stay and still decrypt. Returns the new version.

    If another process rotates at the same moment, its version wins and is returned: either way the tenant has a
    fresh key. Other warm processes switch to the new version within ``key_cache_seconds``.
    """
    current = _read_current(tenant_id)
    if current is None:
        return _create_first(tenant_id)
    if current.status == DESTROYED:
        raise KeyDestroyed()
    old, new = current.version, current.version + 1
    if new > _MAX_VERSION:
        raise ValueError("too many key versions")
    plaintext, wrapped, kms_key_id = _generate(tenant_id)
    pk, now = tenant_pk(tenant_id), _now()
    try:
        with dynamo.write_transaction() as tx:
            tx.save(
                _new_version_item(tenant_id, new, wrapped, kms_key_id, now), condition=KeyRecord.pk.does_not_exist()
            )
            tx.update(
                KeyRecord(pk, CURRENT_SK),
                actions=[
                    KeyRecord.version.set(new),
                    KeyRecord.rotated_at.set(now),
                    KeyRecord.rotation.set(ROTATION_DUE),
                ],
                condition=(KeyRecord.version == old) & (KeyRecord.status == ACTIVE),
            )
            tx.update(
                KeyRecord(pk, version_sk(old)), actions=[KeyRecord.status.set(RETIRED)], condition=KeyRecord.pk.exists()
            )
    except TransactWriteError as error:
        if not _lost_condition(error):
            raise
        _cache.drop(tenant_id)
        return _current_version(tenant_id, create=False)
    _remember(("k", tenant_id, new), plaintext)
    _remember(("v", tenant_id), new)
    return new


def key_status(tenant_id: str) -> dict[str, Any] | None:
    """The tenant's key as an owner may see it: ``{"version", "status", "created_at", "rotated_at"}`` (times as
    datetimes; ``rotated_at`` is when the current version was made), or None before the first key."""
    current = _read_current(tenant_id)
    if current is None:
        return None
    return {
        "version": int(current.version),
        "status": current.status,
        "created_at": current.created_at,
        "rotated_at": current.rotated_at or current.created_at,
    }


def due_for_rotation(made_before: datetime) -> Iterator[str]:
    """The tenants (ids) whose current key version was made before ``made_before``, oldest first, from the index
    ``rotation`` (a page at a time as it is read; erased tenants are not in it)."""
    for item in KeyRecord.rotation_index.query(ROTATION_DUE, KeyRecord.rotated_at < made_before):
        yield item.pk.removeprefix("T#")


def destroy_tenant_key(tenant_id: str) -> None:
    """Erase the tenant's data by destroying every key version (crypto-shredding). Irreversible.

    The tombstone is written first, so no new message can start under a key that is about to go and a concurrent
    rotation fails its condition; then every other item of the partition is deleted. Running it again finishes
    an interrupted destruction. Other warm processes stop decrypting within ``key_cache_seconds``.
    """
    pk = tenant_pk(tenant_id)
    now = _now()
    KeyRecord(pk, CURRENT_SK).update(
        actions=[
            KeyRecord.status.set(DESTROYED),
            KeyRecord.destroyed_at.set(now),
            KeyRecord.version.set(KeyRecord.version | 0),
            KeyRecord.created_at.set(KeyRecord.created_at | now),
            KeyRecord.rotation.remove(),  # out of the rotation index: nothing rotates an erased company's key
        ]
    )
    _cache.drop(tenant_id)
    doomed = [item for item in KeyRecord.query(pk, consistent_read=True) if item.sk != CURRENT_SK]
    with KeyRecord.batch_write() as batch:
        for item in doomed:
            batch.delete(item)
    _cache.drop(tenant_id)
