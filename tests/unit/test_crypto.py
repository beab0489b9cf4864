"""Field encryption and the tenant key store, through protu.crypto's public API against moto's KMS and DynamoDB.

AWS calls are counted at botocore's boundary (every client's ``_make_api_call``, and an event hook on the cached
KMS client), so "warm means no KMS call and no key-store read" is measured, not assumed. A "new process" is
``caches.reset()``: the store and KMS stay, the memory goes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import boto3
import pytest
from botocore.client import BaseClient
from hypothesis import given, settings
from hypothesis import strategies as st
from protu import caches, crypto, errors
from protu.crypto import keystore
from protu.settings import settings as app_settings

RESPONSE = {
    "answers": [{"question": i, "choice": "b", "comment": "I prefer to plan ahead " * 2} for i in range(5)],
    "score": 37.5,
    "notes": "Candidate mentioned a disability; accommodations requested.",
}
NAMES = sorted(RESPONSE)


def new_tenant() -> str:
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def tenant(cloud) -> str:
    return new_tenant()


class Calls(list):
    """AWS calls made while installed, as (service, operation); ``before[op]`` runs just before that operation."""

    def __init__(self) -> None:
        super().__init__()
        self.before: dict[str, Callable[[], None]] = {}

    def of(self, service: str) -> list[str]:
        return [op for svc, op in self if svc == service]


@pytest.fixture
def aws_calls(cloud, monkeypatch) -> Calls:
    calls = Calls()
    original = BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        calls.append((client.meta.service_model.service_name, operation_name))
        hook = calls.before.pop(operation_name, None)
        if hook is not None:
            hook()
        return original(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


@pytest.fixture
def kms_calls(cloud, monkeypatch) -> list[str]:
    """KMS operations made by any client of the process (at botocore's boundary: a reset cache makes new clients)."""
    seen: list[str] = []
    real = BaseClient._make_api_call

    def call(client, operation, params):
        if client.meta.service_model.service_name == "kms":
            seen.append(operation)
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return seen


def key_items(tenant_id: str) -> dict[str, dict]:
    """The tenant's key-store items as DynamoDB returns them, by sort key."""
    ddb = boto3.client("dynamodb", region_name="eu-central-1")
    out = ddb.query(
        TableName=app_settings().key_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant_id}"}},
        ConsistentRead=True,
    )
    return {item["sk"]["S"]: item for item in out["Items"]}


def encrypt(tenant_id: str, record: str = "r-1", fields: dict | None = None) -> bytes:
    return crypto.encrypt_fields(tenant_id, "response", record, RESPONSE if fields is None else fields)


def decrypt(tenant_id: str, blob: bytes, record: str = "r-1", names=NAMES) -> dict:
    return crypto.decrypt_fields(tenant_id, "response", record, blob, names)


# --- round trip and binding -------------------------------------------------------------------------------------


def test_round_trip(tenant):
    blob = encrypt(tenant)

    assert decrypt(tenant, blob) == RESPONSE
    assert b"disability" not in blob and b"plan ahead" not in blob


def test_one_message_for_all_fields_and_names_order_does_not_matter(tenant):
    blob = encrypt(tenant)

    assert blob.count(f"{tenant}#v1".encode()) == 1  # one message, one wrapped data key
    assert decrypt(tenant, blob, names=reversed(NAMES)) == RESPONSE
    assert decrypt(tenant, blob, names=set(NAMES)) == RESPONSE


@pytest.mark.parametrize(
    "entity, record, names",
    [
        ("employee", "r-1", NAMES),  # another entity
        ("response", "r-2", NAMES),  # another record
        ("response", "r-1", ["answers", "score"]),  # a subset of the fields
        ("response", "r-1", [*NAMES, "extra"]),  # more fields
        ("response", "r-1", ["answers", "notes", "scores"]),  # renamed field
    ],
)
def test_wrong_context_does_not_decrypt(tenant, entity, record, names):
    blob = encrypt(tenant)

    with pytest.raises(errors.DecryptionFailed):
        crypto.decrypt_fields(tenant, entity, record, blob, names)


def test_another_tenant_cannot_decrypt_and_does_not_load_the_owners_keys(tenant, aws_calls):
    blob = encrypt(tenant)
    other = new_tenant()
    crypto.ensure_tenant_key(other)
    caches.reset()
    aws_calls.clear()

    with pytest.raises(errors.DecryptionFailed):
        decrypt(other, blob)
    assert aws_calls == []  # refused on the key id alone: neither tenant's key was read
    with pytest.raises(errors.DecryptionFailed):
        decrypt(new_tenant(), blob)  # a tenant that has no key at all


def test_every_flipped_byte_is_detected(tenant):
    blob = encrypt(tenant, fields={"note": "short"})

    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(errors.DecryptionFailed):
            decrypt(tenant, bytes(tampered), names=["note"])


@pytest.mark.parametrize("blob", [b"", b"\x02", b"garbage" * 40, bytes(300)])
def test_garbage_does_not_decrypt(tenant, blob):
    crypto.ensure_tenant_key(tenant)

    with pytest.raises(errors.DecryptionFailed):
        decrypt(tenant, blob)


def test_truncated_message_does_not_decrypt(tenant):
    blob = encrypt(tenant)

    for cut in (1, 16, len(blob) // 2):
        with pytest.raises(errors.DecryptionFailed):
            decrypt(tenant, blob[:-cut])


def test_errors_carry_no_plaintext_or_cause(tenant):
    blob = encrypt(tenant)

    with pytest.raises(errors.DecryptionFailed) as failed:
        decrypt(tenant, blob, record="r-2")

    assert str(failed.value) == errors.DecryptionFailed.message
    assert failed.value.__cause__ is None and failed.value.__context__ is None


@pytest.mark.parametrize(
    "tenant_id, entity, fields",
    [
        ("T_BAD", "response", {"a": 1}),  # tenant id grammar
        ("t-okay", "bad,entity", {"a": 1}),
        ("t-okay", "response", {"a,b": 1}),  # a comma would make the context's field list ambiguous
        ("t-okay", "response", {}),
    ],
)
def test_invalid_arguments_are_programming_errors(cloud, tenant_id, entity, fields):
    with pytest.raises(ValueError):
        crypto.encrypt_fields(tenant_id, entity, "r-1", fields)


def test_values_that_are_not_json_are_refused(tenant):
    with pytest.raises(ValueError):
        encrypt(tenant, fields={"score": float("nan")})
    with pytest.raises(TypeError):
        encrypt(tenant, fields={"when": object()})


@pytest.fixture(scope="module")
def hypothesis_tenant(cloud) -> str:
    tenant_id = new_tenant()
    crypto.ensure_tenant_key(tenant_id)
    return tenant_id


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
field_names = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", min_size=1, max_size=64)


@settings(max_examples=25, deadline=None)
@given(
    fields=st.dictionaries(field_names, json_values, min_size=1, max_size=6),
    record=st.text(min_size=1, max_size=256),
)
def test_any_json_fields_round_trip(hypothesis_tenant, fields, record):
    blob = crypto.encrypt_fields(hypothesis_tenant, "response", record, fields)

    assert crypto.decrypt_fields(hypothesis_tenant, "response", record, blob, fields) == fields


# --- the key store --------------------------------------------------------------------------------------------------


def test_warm_process_makes_no_kms_call_and_no_key_store_read(tenant, aws_calls, kms_calls):
    decrypt(tenant, encrypt(tenant))  # first use: creates and caches the key
    aws_calls.clear()
    kms_calls.clear()

    for record in ("r-1", "r-2", "r-3"):
        assert decrypt(tenant, encrypt(tenant, record), record) == RESPONSE

    assert kms_calls == []
    assert aws_calls == []


def test_new_process_unwraps_once_then_is_warm(tenant, aws_calls, kms_calls):
    blob = encrypt(tenant)
    caches.reset()
    aws_calls.clear()
    kms_calls.clear()

    decrypt(tenant, blob)
    decrypt(tenant, blob)
    encrypt(tenant)

    assert kms_calls == ["Decrypt"]
    assert aws_calls.of("dynamodb") == ["TransactGetItems", "GetItem"]  # key version on decrypt; pointer on encrypt


def test_zero_cache_seconds_unwraps_every_time(tenant, aws_calls, monkeypatch):
    from protu.settings import reload

    blob = encrypt(tenant)
    monkeypatch.setenv("KEY_CACHE_SECONDS", "0")
    reload()
    try:
        caches.reset()
        aws_calls.clear()
        decrypt(tenant, blob)
        decrypt(tenant, blob)
        assert aws_calls.of("kms") == ["Decrypt", "Decrypt"]
    finally:
        monkeypatch.delenv("KEY_CACHE_SECONDS")
        reload()


def test_ensure_is_idempotent(tenant):
    assert crypto.ensure_tenant_key(tenant) == 1
    assert crypto.ensure_tenant_key(tenant) == 1
    caches.reset()
    assert crypto.ensure_tenant_key(tenant) == 1

    items = key_items(tenant)
    assert sorted(items) == ["KEY#CURRENT", "KEY#v0001"]
    assert items["KEY#CURRENT"]["version"] == {"N": "1"}
    assert items["KEY#CURRENT"]["status"] == {"S": "active"}
    assert items["KEY#v0001"]["status"] == {"S": "active"}
    assert "created_at" in items["KEY#v0001"]


def test_ensure_loses_a_creation_race_gracefully(tenant, aws_calls):
    """Another process creates the key between our read and our conditional write: its key wins, once."""

    def other_process_creates_first():
        crypto.ensure_tenant_key(tenant)
        caches.reset()

    aws_calls.before["TransactWriteItems"] = other_process_creates_first

    assert crypto.ensure_tenant_key(tenant) == 1
    blob = encrypt(tenant)
    caches.reset()
    assert decrypt(tenant, blob) == RESPONSE
    assert sorted(key_items(tenant)) == ["KEY#CURRENT", "KEY#v0001"]


def test_rotation_keeps_old_messages_readable_and_uses_the_new_version(tenant):
    old = encrypt(tenant)

    assert crypto.rotate_tenant_key(tenant) == 2
    new = encrypt(tenant)

    assert f"{tenant}#v1".encode() in old and f"{tenant}#v2".encode() in new
    assert f"{tenant}#v1".encode() not in new
    caches.reset()
    assert decrypt(tenant, old) == decrypt(tenant, new) == RESPONSE
    items = key_items(tenant)
    assert items["KEY#CURRENT"]["version"] == {"N": "2"}
    assert items["KEY#v0001"]["status"] == {"S": "retired"}
    assert items["KEY#v0002"]["status"] == {"S": "active"}
    assert items["KEY#v0001"]["wrapped"] != items["KEY#v0002"]["wrapped"]


def test_new_process_encrypts_with_the_rotated_version(tenant):
    crypto.ensure_tenant_key(tenant)
    crypto.rotate_tenant_key(tenant)
    crypto.rotate_tenant_key(tenant)
    caches.reset()

    assert f"{tenant}#v3".encode() in encrypt(tenant)


def test_concurrent_rotation_yields_one_new_version(tenant, aws_calls):
    crypto.ensure_tenant_key(tenant)

    def other_process_rotates_first():
        crypto.rotate_tenant_key(tenant)
        caches.reset()

    aws_calls.before["TransactWriteItems"] = other_process_rotates_first

    assert crypto.rotate_tenant_key(tenant) == 2
    assert sorted(key_items(tenant)) == ["KEY#CURRENT", "KEY#v0001", "KEY#v0002"]


def test_key_store_holds_only_kms_wrapped_keys_bound_to_the_tenant(tenant):
    crypto.ensure_tenant_key(tenant)
    crypto.rotate_tenant_key(tenant)
    kms = boto3.client("kms", region_name="eu-central-1")

    items = key_items(tenant)
    for sk in ("KEY#v0001", "KEY#v0002"):
        wrapped = items[sk]["wrapped"]["B"]
        raw = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"tenant": tenant})["Plaintext"]
        assert len(raw) == 32
        for item in items.values():  # the unwrapped key appears nowhere, in any encoding
            for value in item.values():
                stored = next(iter(value.values()))
                stored = stored if isinstance(stored, bytes) else str(stored).encode()
                assert raw not in stored and raw.hex().encode() not in stored
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"tenant": new_tenant()})


def test_destroyed_key_makes_data_unreadable_here_and_in_a_new_process(tenant):
    blob = encrypt(tenant)
    crypto.rotate_tenant_key(tenant)
    newer = encrypt(tenant)

    crypto.destroy_tenant_key(tenant)

    for message in (blob, newer):
        with pytest.raises(errors.KeyDestroyed):
            decrypt(tenant, message)
    caches.reset()
    with pytest.raises(errors.KeyDestroyed):
        decrypt(tenant, blob)
    with pytest.raises(errors.KeyDestroyed):
        encrypt(tenant)
    with pytest.raises(errors.KeyDestroyed):
        crypto.ensure_tenant_key(tenant)
    with pytest.raises(errors.KeyDestroyed):
        crypto.rotate_tenant_key(tenant)
    items = key_items(tenant)
    assert sorted(items) == ["KEY#CURRENT"]  # only the tombstone: no wrapped key left anywhere
    assert items["KEY#CURRENT"]["status"] == {"S": "destroyed"}
    assert "destroyed_at" in items["KEY#CURRENT"] and "wrapped" not in items["KEY#CURRENT"]


def test_destroy_is_idempotent_and_works_for_a_tenant_without_keys(tenant):
    crypto.destroy_tenant_key(tenant)
    crypto.destroy_tenant_key(tenant)

    assert sorted(key_items(tenant)) == ["KEY#CURRENT"]
    with pytest.raises(errors.KeyDestroyed):
        crypto.ensure_tenant_key(tenant)


def test_destroying_one_tenant_leaves_others_readable(tenant):
    other = new_tenant()
    blob, other_blob = encrypt(tenant), encrypt(other)

    crypto.destroy_tenant_key(tenant)
    caches.reset()

    assert decrypt(other, other_blob) == RESPONSE
    with pytest.raises(errors.KeyDestroyed):
        decrypt(tenant, blob)


def test_concurrent_warm_use_from_threads(tenant):
    blob = encrypt(tenant)
    failures: list[BaseException] = []

    def work():
        try:
            for i in range(20):
                assert decrypt(tenant, encrypt(tenant, f"r-{i}"), f"r-{i}") == RESPONSE
                assert decrypt(tenant, blob) == RESPONSE
        except Exception as error:  # noqa: BLE001 -- surfaced by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_key_cache_is_bounded_and_expires():
    cache = keystore.TTLCache(max_entries=3)
    for i in range(5):
        cache.put(("k", f"t-{i}"), i, ttl=60)
    cache.put(("k", "t-gone"), "x", ttl=0)

    assert [cache.get(("k", f"t-{i}")) for i in range(5)] == [None, None, None, 3, 4]
    assert cache.get(("k", "t-gone")) is None


def test_importing_protu_crypto_does_not_import_the_sdk():
    """Cold start: only functions that encrypt or decrypt pay for the Encryption SDK, on first use."""
    import subprocess
    import sys

    code = "import sys, protu.crypto; print(sorted(m for m in sys.modules if m.startswith('aws_encryption_sdk')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------------ subject keys
def test_a_persons_fields_are_sealed_under_their_own_key_and_erasing_them_shreds_only_theirs(tenant):
    ana, ben = "cand-" + "a" * 20, "cand-" + "b" * 20
    for_ana = crypto.encrypt_fields(tenant, "candidate", ana, {"notes": "Ana's note"}, subject=ana)
    for_ben = crypto.encrypt_fields(tenant, "candidate", ben, {"notes": "Ben's note"}, subject=ben)
    plain = crypto.encrypt_fields(tenant, "role", "role-" + "c" * 20, {"notes": "not about a person"})
    assert crypto.decrypt_fields(tenant, "candidate", ana, for_ana, ["notes"], subject=ana) == {"notes": "Ana's note"}
    with pytest.raises(errors.DecryptionFailed):  # the message names its person: another one does not open it
        crypto.decrypt_fields(tenant, "candidate", ana, for_ana, ["notes"], subject=ben)

    keystore.destroy_subject_key(tenant, ana)
    with pytest.raises(errors.KeyDestroyed):
        crypto.decrypt_fields(tenant, "candidate", ana, for_ana, ["notes"], subject=ana)
    caches.reset()  # as another process would see it
    with pytest.raises(errors.KeyDestroyed):
        crypto.decrypt_fields(tenant, "candidate", ana, for_ana, ["notes"], subject=ana)
    with pytest.raises(errors.KeyDestroyed):  # an erased person's id never gets a key again
        crypto.encrypt_fields(tenant, "candidate", ana, {"notes": "again"}, subject=ana)
    assert crypto.decrypt_fields(tenant, "candidate", ben, for_ben, ["notes"], subject=ben) == {"notes": "Ben's note"}
    assert crypto.decrypt_fields(tenant, "role", "role-" + "c" * 20, plain, ["notes"]) == {
        "notes": "not about a person"
    }


def test_a_subject_key_is_wrapped_by_the_tenant_key_and_never_stored_in_clear(tenant):
    subject = "emp-" + "d" * 20
    key = keystore.subject_key(tenant, subject)
    table = boto3.resource("dynamodb", region_name=app_settings().region).Table(app_settings().key_table)
    stored = table.get_item(Key={"pk": f"T#{tenant}", "sk": f"SUBJ#{subject}"}, ConsistentRead=True)["Item"]
    assert key not in bytes(stored["wrapped"]) and len(bytes(stored["wrapped"])) == 12 + 32 + 16
    caches.reset()
    assert keystore.subject_key(tenant, subject, create=False) == key
    other = new_tenant()
    message = crypto.encrypt_fields(tenant, "employee", subject, {"x": 1}, subject=subject)
    with pytest.raises(errors.DecryptionFailed):  # another company cannot name this person's key
        crypto.decrypt_fields(other, "employee", subject, message, ["x"], subject=subject)
    keystore.destroy_tenant_key(tenant)  # erasing the company takes its people's keys with it
    with pytest.raises(errors.KeyDestroyed):
        crypto.decrypt_fields(tenant, "employee", subject, message, ["x"], subject=subject)
