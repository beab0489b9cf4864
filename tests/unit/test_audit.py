"""The audit chain through its public API: append, transactions with data, verification against tampering,
concurrency, and the stream mirror into the Object-Lock bucket.

Tampering is done the way an attacker with table access would: with the raw DynamoDB client, not our models.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from protu import audit, aws, errors
from protu.settings import settings
from protu.store.base import SettingValue, tenant_pk
from protu.store.tx import AuditRequired, Transaction, TransactionTooLarge
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model


class Thing(Model):
    """A stand-in company item on the data table."""

    class Meta:
        table_name = SettingValue("data_table")
        region = SettingValue("region")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()


def new_tenant() -> str:
    return "t-" + uuid4().hex[:12]


def append(tenant: str, n: int) -> list[dict]:
    return [
        audit.record(tenant, "role.create", f"role:{i}", actor="u-1", details={"i": i}, request_id=f"r-{i}")
        for i in range(1, n + 1)
    ]


def raw_event(tenant: str, seq: int) -> dict:
    return aws.client("dynamodb").get_item(
        TableName=settings().audit_table,
        Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": f"E#{seq:012d}"}},
        ConsistentRead=True,
    )["Item"]


def raw_put(item: dict) -> None:
    aws.client("dynamodb").put_item(TableName=settings().audit_table, Item=item)


def raw_delete(tenant: str, seq: int) -> None:
    aws.client("dynamodb").delete_item(
        TableName=settings().audit_table, Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": f"E#{seq:012d}"}}
    )


def independent_hash(document: dict) -> str:
    """The documented recipe, written out without our code: SHA-256 of sorted, whitespace-free JSON sans hash."""
    body = {k: v for k, v in document.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# -- appending and reading ------------------------------------------------------------------------------------


def test_chain_appends_links_and_verifies(cloud):
    tenant = new_tenant()
    written = append(tenant, 5)

    assert [e["seq"] for e in written] == [1, 2, 3, 4, 5]
    assert written[0]["prev_hash"] == hashlib.sha256(f"protu-audit-genesis:{tenant}".encode()).hexdigest()
    for before, after in zip(written, written[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    assert all(e["hash"] == independent_hash(e) for e in written)
    first = written[0]
    assert (first["tenant"], first["actor"], first["action"], first["target"], first["outcome"]) == (
        tenant,
        "u-1",
        "role.create",
        "role:1",
        "success",
    )
    assert first["details"] == {"i": 1} and first["request_id"] == "r-1" and first["source_ip"] is None
    assert datetime.fromisoformat(first["time"]).tzinfo is not None

    assert audit.verify(tenant).as_dict() == {"ok": True, "checked": 5, "first_broken": None, "reason": None}
    assert audit.verify(new_tenant()).ok  # an empty chain is a valid chain


def test_events_newest_first_with_cursor_and_filters(cloud):
    tenant = new_tenant()
    append(tenant, 5)
    audit.record(tenant, "auth.login_failed", "user:u-2", actor="anonymous", outcome="failure")

    page, cursor = audit.events(tenant, limit=4)
    assert [e["seq"] for e in page] == [6, 5, 4, 3] and cursor == "3"
    page, cursor = audit.events(tenant, limit=4, cursor=cursor)
    assert [e["seq"] for e in page] == [2, 1] and cursor is None

    failed, _ = audit.events(tenant, action="auth.login_failed")
    assert [(e["seq"], e["outcome"]) for e in failed] == [(6, "failure")]
    assert [e["seq"] for e in audit.events(tenant, target="role:2")[0]] == [2]
    assert audit.events(new_tenant()) == ([], None)
    with pytest.raises(errors.BadRequest):
        audit.events(tenant, cursor="T#other")


def test_request_context_supplies_actor_request_and_address(cloud):
    tenant = new_tenant()
    with audit.bound(actor="u-9", request_id="req-1", source_ip="203.0.113.7"):
        event = audit.record(tenant, "auth.login", "user:u-9")
    assert (event["actor"], event["request_id"], event["source_ip"]) == ("u-9", "req-1", "203.0.113.7")
    with pytest.raises(ValueError, match="actor"):
        audit.record(tenant, "auth.login", "user:u-9")  # outside a request nobody is blamed by default


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "Create Role"},
        {"outcome": "maybe"},
        {"details": {"when": datetime.now(UTC)}},
        {"details": {"blob": "x" * 5000}},
        {"target": ""},
    ],
)
def test_invalid_events_are_refused_before_anything_is_written(cloud, kwargs):
    tenant = new_tenant()
    args = {"action": "role.create", "target": "role:1", "actor": "u-1"} | kwargs
    with pytest.raises(ValueError):
        audit.record(tenant, args.pop("action"), args.pop("target"), **args)
    assert audit.events(tenant) == ([], None)


# -- transactions -------------------------------------------------------------------------------------------


def test_data_write_and_event_commit_together(cloud):
    tenant = new_tenant()
    thing = Thing(tenant_pk(tenant, "ROLE", "1"), "ROLE", name="Engineer")
    with Transaction(tenant, actor="u-1", request_id="r-1") as tx:
        tx.save(thing, condition=Thing.pk.does_not_exist())
        tx.audit("role.create", target="role:1", details={"name": "Engineer"})
        tx.audit("role.publish", target="role:1")

    assert Thing.get(thing.pk, "ROLE").name == "Engineer"
    assert [(e["seq"], e["action"]) for e in tx.events] == [(1, "role.create"), (2, "role.publish")]
    assert [e["action"] for e in audit.events(tenant)[0]] == ["role.publish", "role.create"]
    assert audit.verify(tenant).ok


def test_failed_data_condition_writes_neither_data_nor_event(cloud):
    tenant = new_tenant()
    original = Thing(tenant_pk(tenant, "ROLE", "1"), "ROLE", name="Engineer")
    with Transaction(tenant, actor="u-1") as tx:
        tx.save(original, condition=Thing.pk.does_not_exist())
        tx.audit("role.create", target="role:1")

    duplicate = Thing(tenant_pk(tenant, "ROLE", "1"), "ROLE", name="Impostor")
    other = Thing(tenant_pk(tenant, "ROLE", "2"), "ROLE", name="Second")
    with pytest.raises(errors.Conflict):
        with Transaction(tenant, actor="u-1") as tx:
            tx.save(other)
            tx.save(duplicate, condition=Thing.pk.does_not_exist())
            tx.audit("role.create", target="role:1")

    assert Thing.get(original.pk, "ROLE").name == "Engineer"
    assert Thing.count(other.pk) == 0  # the unconditional write in the same transaction did not happen either
    assert [e["seq"] for e in audit.events(tenant)[0]] == [1]
    assert audit.verify(tenant).ok


def test_data_writes_cannot_commit_without_an_audit_event(cloud):
    tenant = new_tenant()
    thing = Thing(tenant_pk(tenant, "ROLE", "1"), "ROLE", name="Engineer")
    with pytest.raises(AuditRequired):
        with Transaction(tenant, actor="u-1") as tx:
            tx.save(thing)
    assert Thing.count(thing.pk) == 0


def test_an_exception_in_the_block_writes_nothing(cloud):
    tenant = new_tenant()
    thing = Thing(tenant_pk(tenant, "ROLE", "1"), "ROLE", name="Engineer")
    with pytest.raises(KeyError):
        with Transaction(tenant, actor="u-1") as tx:
            tx.save(thing)
            tx.audit("role.create", target="role:1")
            raise KeyError("boom")
    assert Thing.count(thing.pk) == 0 and audit.events(tenant) == ([], None)


def test_writes_outside_the_tenant_or_to_the_audit_table_are_refused(cloud):
    tenant, other = new_tenant(), new_tenant()
    tx = Transaction(tenant, actor="u-1")
    with pytest.raises(ValueError, match="outside tenant"):
        tx.save(Thing(tenant_pk(other, "ROLE", "1"), "ROLE", name="x"))
    with pytest.raises(ValueError, match="outside tenant"):
        tx.save(Thing(f"T#{tenant}", "ROLE", name="x"))  # the tenant's prefix, not inside it
    from protu.audit.models import AuditEvent

    forged = AuditEvent.from_document(append(new_tenant(), 1)[0])
    with pytest.raises(ValueError, match="audit"):
        tx.save(forged, unscoped=True)
    tx.save(Thing("EMAIL#someone@example.com", "ACCOUNT", name="x"), unscoped=True)  # explicit, greppable


def test_transactions_stay_within_dynamodb_limits(cloud):
    tenant = new_tenant()
    tx = Transaction(tenant, actor="u-1")
    for i in range(98):
        tx.save(Thing(tenant_pk(tenant, "ROLE", str(i)), "ROLE", name="x"))
    tx.audit("role.import", target="roles")  # 98 writes + 1 event + the head = 100
    with pytest.raises(TransactionTooLarge):
        tx.audit("role.import", target="roles")
    with pytest.raises(TransactionTooLarge):
        tx.save(Thing(tenant_pk(tenant, "ROLE", "x"), "ROLE", name="x"))
    tx.commit()
    assert audit.verify(tenant).as_dict()["checked"] == 1


def test_concurrent_appends_keep_one_valid_chain(cloud):
    tenant = new_tenant()
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(3):
                audit.record(tenant, "role.update", f"role:{n}", actor=f"u-{n}", details={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    # Four writers racing for one chain head exercise every retry path (moto serialises their transactions).
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert audit.verify(tenant).as_dict() == {"ok": True, "checked": 12, "first_broken": None, "reason": None}


# -- tamper detection -------------------------------------------------------------------------------------------


def test_edited_event_is_detected(cloud):
    tenant = new_tenant()
    append(tenant, 5)
    item = raw_event(tenant, 3)
    item["action"] = {"S": "role.delete"}
    raw_put(item)
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken, result.checked) == (False, 3, 2)
    assert "hash" in result.reason


def test_edited_and_rehashed_event_breaks_the_next_link(cloud):
    tenant = new_tenant()
    written = append(tenant, 5)
    forged = written[2] | {"details": {"i": 99}}
    forged["hash"] = independent_hash(forged)
    item = raw_event(tenant, 3)
    item.update(details={"S": json.dumps(forged["details"])}, hash={"S": forged["hash"]})
    raw_put(item)
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken) == (False, 4)
    assert "link" in result.reason


@pytest.mark.parametrize("deleted, first_broken", [(3, 3), (5, 5), (1, 1)])
def test_deleted_event_is_detected(cloud, deleted, first_broken):
    tenant = new_tenant()
    append(tenant, 5)
    raw_delete(tenant, deleted)
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken) == (False, first_broken)
    assert "missing" in result.reason


def test_inserted_event_in_the_middle_is_detected(cloud):
    """The attacker shifts events 3..5 to keys 4..6, forges a well-formed event 3 and moves the head: the forged
    event links correctly, so the break shows at the first original event after it."""
    tenant = new_tenant()
    written = append(tenant, 5)
    for seq in (5, 4, 3):
        item = raw_event(tenant, seq)
        item.update(sk={"S": f"E#{seq + 1:012d}"}, seq={"N": str(seq + 1)})
        raw_put(item)
    forged = written[2] | {"actor": "u-evil", "action": "role.delete", "details": {}}
    forged["hash"] = independent_hash(forged)
    item = raw_event(tenant, 4)
    item.update(
        sk={"S": f"E#{3:012d}"},
        seq={"N": "3"},
        actor={"S": "u-evil"},
        action={"S": "role.delete"},
        details={"S": "{}"},
        prev_hash={"S": written[1]["hash"]},
        hash={"S": forged["hash"]},
    )
    raw_put(item)
    aws.client("dynamodb").update_item(
        TableName=settings().audit_table,
        Key={"pk": {"S": f"T#{tenant}"}, "sk": {"S": "HEAD"}},
        UpdateExpression="SET seq = :s",
        ExpressionAttributeValues={":s": {"N": "6"}},
    )
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken, result.checked) == (False, 4, 3)


def test_inserted_event_at_the_tail_is_detected(cloud):
    tenant = new_tenant()
    written = append(tenant, 3)
    forged = written[2] | {"seq": 4, "prev_hash": written[2]["hash"], "action": "role.delete"}
    forged["hash"] = independent_hash(forged)
    item = raw_event(tenant, 3)
    item.update(
        sk={"S": f"E#{4:012d}"},
        seq={"N": "4"},
        action={"S": "role.delete"},
        prev_hash={"S": forged["prev_hash"]},
        hash={"S": forged["hash"]},
    )
    raw_put(item)
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken, result.checked) == (False, 4, 3)
    assert "beyond" in result.reason


def test_item_with_a_foreign_key_shape_is_detected(cloud):
    tenant = new_tenant()
    append(tenant, 3)
    item = raw_event(tenant, 2)
    item["sk"] = {"S": f"E#{2:012d}b"}  # sorts between 2 and 3
    raw_put(item)
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken) == (False, 3)


def test_reordered_events_are_detected(cloud):
    tenant = new_tenant()
    append(tenant, 5)
    two, four = raw_event(tenant, 2), raw_event(tenant, 4)
    raw_put(four | {"sk": two["sk"]})
    raw_put(two | {"sk": four["sk"]})
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken, result.checked) == (False, 2, 1)


def test_reordered_contents_with_seq_kept_are_detected(cloud):
    tenant = new_tenant()
    append(tenant, 5)
    two, four = raw_event(tenant, 2), raw_event(tenant, 4)
    raw_put(four | {"sk": two["sk"], "seq": two["seq"]})
    raw_put(two | {"sk": four["sk"], "seq": four["seq"]})
    result = audit.verify(tenant)
    assert (result.ok, result.first_broken) == (False, 2)


# -- mirror to the Object-Lock bucket --------------------------------------------------------------------------


def test_stream_mirror_writes_locked_objects_once(cloud):
    """The retention comes from the bucket's default (template.yaml: COMPLIANCE, 7 years), not from the mirror:
    the template stays the one definition of it, and every object put into the bucket gets it."""
    import jobs

    from infra.streams import StreamPump

    delivered: list[dict] = []

    def handler(event, context):
        delivered.append(event)
        return jobs.mirror_audit(event, context)

    pump = StreamPump(settings().audit_table, handler, starting_position="LATEST")
    tenant = new_tenant()
    written = append(tenant, 3)
    assert pump.pump() == 6  # 3 event INSERTs, the head's INSERT and 2 MODIFYs
    assert pump.pump() == 0  # it resumes where it stopped

    record = delivered[0]["Records"][0]
    assert set(record) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert (record["eventSource"], record["awsRegion"]) == ("aws:dynamodb", "eu-central-1")
    assert record["eventSourceARN"].startswith("arn:aws:dynamodb:eu-central-1:")
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    json.dumps(delivered)  # the event is plain JSON, as Lambda sends it

    s3, bucket = aws.client("s3"), settings().audit_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"audit/{tenant}/")["Contents"]]
    assert keys == [f"audit/{tenant}/{seq:012d}.json" for seq in (1, 2, 3)]
    for event in written:
        key = f"audit/{tenant}/{event['seq']:012d}.json"
        stored = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert stored == event and independent_hash(stored) == stored["hash"]
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=7 * 365 - 2)

    for event in delivered:  # Lambda may deliver a batch again
        jobs.mirror_audit(event, None)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"audit/{tenant}/")["Versions"]
    assert len(versions) == 3


def test_stream_pump_redelivers_a_batch_whose_handler_failed(cloud):
    from infra.streams import StreamPump

    calls: list[int] = []

    def flaky(event, context):
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("transient")

    pump = StreamPump(settings().audit_table, flaky, starting_position="LATEST")
    append(new_tenant(), 1)
    with pytest.raises(RuntimeError):
        pump.pump()
    assert pump.pump() == 2  # the event and the head, again
    assert calls == [2, 2]


def test_stream_pump_keeps_reading_after_a_cancelled_transaction(cloud):
    from infra.streams import StreamPump

    seen: list[str] = []
    pump = StreamPump(
        settings().audit_table,
        lambda event, context: seen.extend(r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]),
        starting_position="LATEST",
    )
    tenant = new_tenant()
    thing = Thing(tenant_pk(tenant, "ROLE", "1"), "ROLE", name="x")
    for _ in range(2):  # the second one is cancelled: its data condition fails
        with contextlib.suppress(errors.Conflict), Transaction(tenant, actor="u-1") as tx:
            tx.save(thing, condition=Thing.pk.does_not_exist())
            tx.audit("role.create", target="role:1")
    append(tenant, 1)
    assert pump.pump() == 4
    assert seen == ["E#000000000001", "HEAD", "E#000000000002", "HEAD"]


def test_mirror_ignores_heads_non_inserts_and_malformed_items(cloud):
    import jobs

    tenant = new_tenant()
    event = append(tenant, 1)[0]
    image = {"pk": {"S": f"T#{tenant}"}, "sk": {"S": "HEAD"}, "seq": {"N": "1"}, "hash": {"S": event["hash"]}}
    forged = {"pk": {"S": "T#x"}, "sk": {"S": "E#000000000001"}, "tenant": {"S": "../../etc"}, "seq": {"N": "1"}}
    records = [
        {"eventName": "INSERT", "dynamodb": {"NewImage": image}},
        {"eventName": "INSERT", "dynamodb": {"NewImage": forged, "Keys": {}}},  # logged and skipped, not fatal
        {"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": image["pk"], "sk": {"S": "E#000000000001"}}}},
    ]
    assert jobs.mirror_audit({"Records": records}, None) == {"mirrored": 0, "reads_watched": 0}
