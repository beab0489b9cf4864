"""TransactWriteItems in the local cloud, as ``infra.cloud.make_moto_atomic`` replaces moto's: all-or-nothing (items
and stream records), with moto's exceptions and cancellation reasons, at a cost that does not grow with the tables.

The first tests go through boto3 on the data table (pk/sk, GSI, NEW_AND_OLD_IMAGES stream), each with a fresh pk.
Then the replacement is held against moto's own implementation (``infra.cloud.moto_transact_write_items``) on two
identical throwaway backends per scenario: same exception, same items, same stream records.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra import cloud as cloud_module

REGION = cloud_module.REGION


# ---------------------------------------------------------------------------------------------- through boto3
# The tests run in a stack of the module's own (``own_cloud``): moto's original TransactWriteItems (compared here)
# copies whole tables.
@pytest.fixture(scope="module")
def ddb(own_cloud):
    return boto3.session.Session(region_name=REGION).client("dynamodb")


@pytest.fixture(scope="module")
def table(own_cloud) -> str:
    from protu.settings import settings

    return settings().data_table


@pytest.fixture
def pk() -> str:
    return "txn-" + uuid.uuid4().hex


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def items_of(ddb, table: str, pk: str) -> dict[str, dict[str, Any]]:
    found = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]
    return {item["sk"]["S"]: item for item in found}


def stream_records(ddb, table: str, pk: str) -> list[tuple[str, str]]:
    """(eventName, sk) of every record of the table's stream about ``pk``, oldest first."""
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.session.Session(region_name=REGION).client(
        "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
    )
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            records += page["Records"]
            iterator = page.get("NextShardIterator")
    return [
        (r["eventName"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == pk
    ]


def seed(ddb, table: str, pk: str) -> None:
    ddb.put_item(TableName=table, Item={**key(pk, "upd"), "n": {"N": "1"}, "s": {"S": "text"}})
    ddb.put_item(TableName=table, Item={**key(pk, "del"), "n": {"N": "7"}})
    ddb.put_item(TableName=table, Item={**key(pk, "chk"), "state": {"S": "open"}})


def four_ops(table: str, pk: str, *, check_state: str) -> list[dict[str, Any]]:
    """Put a new item, update one, delete one, and check that a fourth is in ``check_state``."""
    return [
        {"Put": {"TableName": table, "Item": {**key(pk, "new"), "n": {"N": "0"}}}},
        {
            "Update": {
                "TableName": table,
                "Key": key(pk, "upd"),
                "UpdateExpression": "SET n = n + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": table, "Key": key(pk, "del")}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": key(pk, "chk"),
                "ConditionExpression": "#state = :state",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":state": {"S": check_state}},
            }
        },
    ]


def test_a_transaction_applies_every_op(ddb, table, pk):
    seed(ddb, table, pk)
    before = stream_records(ddb, table, pk)

    ddb.transact_write_items(TransactItems=four_ops(table, pk, check_state="open"))

    items = items_of(ddb, table, pk)
    assert sorted(items) == ["chk", "new", "upd"]
    assert items["new"]["n"] == {"N": "0"}
    assert items["upd"]["n"] == {"N": "2"}
    assert items["chk"]["state"] == {"S": "open"}
    assert stream_records(ddb, table, pk) == [*before, ("INSERT", "new"), ("MODIFY", "upd"), ("REMOVE", "del")]


def test_a_failing_condition_on_the_last_op_changes_nothing(ddb, table, pk):
    seed(ddb, table, pk)
    items, records = items_of(ddb, table, pk), stream_records(ddb, table, pk)

    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=four_ops(table, pk, check_state="closed"))

    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = caught.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert items_of(ddb, table, pk) == items
    assert stream_records(ddb, table, pk) == records


def test_cancellation_reasons_are_given_per_op_with_the_old_item_when_asked(ddb, table, pk):
    seed(ddb, table, pk)
    items, records = items_of(ddb, table, pk), stream_records(ddb, table, pk)
    nine = {":nine": {"N": "9"}}

    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {  # fails, and asks for the item
                    "Put": {
                        "TableName": table,
                        "Item": key(pk, "upd"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {  # passes
                    "Update": {
                        "TableName": table,
                        "Key": key(pk, "chk"),
                        "UpdateExpression": "SET seen = :nine",
                        "ExpressionAttributeValues": nine,
                    }
                },
                {  # fails, without the item
                    "Delete": {
                        "TableName": table,
                        "Key": key(pk, "del"),
                        "ConditionExpression": "n = :nine",
                        "ExpressionAttributeValues": nine,
                    }
                },
                {  # fails, asks for the item, but there is none
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key(pk, "missing"),
                        "ConditionExpression": "attribute_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    failed = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    assert caught.value.response["CancellationReasons"] == [
        {**failed, "Item": items["upd"]},
        {"Code": "None"},
        failed,
        failed,
    ]
    assert caught.value.response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[ConditionalCheckFailed, None, ConditionalCheckFailed, ConditionalCheckFailed]"
    )
    assert items_of(ddb, table, pk) == items
    assert stream_records(ddb, table, pk) == records


def test_two_ops_on_one_item_are_a_validation_error_and_change_nothing(ddb, table, pk):
    seed(ddb, table, pk)
    items, records = items_of(ddb, table, pk), stream_records(ddb, table, pk)

    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": key(pk, "new")}},
                {"Delete": {"TableName": table, "Key": key(pk, "del")}},
                {"Put": {"TableName": table, "Item": {**key(pk, "del"), "n": {"N": "8"}}}},
            ]
        )

    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Transaction request cannot include multiple operations on one item",
    }
    assert items_of(ddb, table, pk) == items
    assert stream_records(ddb, table, pk) == records


def test_an_update_failing_while_applied_rolls_back_the_put_before_it(ddb, table, pk):
    seed(ddb, table, pk)
    items, records = items_of(ddb, table, pk), stream_records(ddb, table, pk)

    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": key(pk, "new")}},
                {
                    "Update": {  # s is a string: ADD fails only once the update is being applied
                        "TableName": table,
                        "Key": key(pk, "upd"),
                        "UpdateExpression": "ADD s :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "incorrect data type" in caught.value.response["Error"]["Message"]
    assert items_of(ddb, table, pk) == items
    assert stream_records(ddb, table, pk) == records


def test_a_cancelled_transaction_never_writes_to_the_live_table(ddb, table, pk, monkeypatch):
    """The rehearsal cancels it on copies: moto's write paths never run on the live table, not even transiently,
    so a concurrent reader (the stream pump) cannot see a write that is then undone."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import StreamShard, Table

    seed(ddb, table, pk)
    live = dynamodb_backends[cloud_module.ACCOUNT][REGION].get_table(table)
    written_to: list[Any] = []
    for cls, method in ((Table, "put_item"), (Table, "delete_item"), (StreamShard, "add")):
        original = getattr(cls, method)

        def record(self, *args, _original=original, **kwargs):
            written_to.append(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, record)

    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=four_ops(table, pk, check_state="closed"))

    assert written_to, "the rehearsal runs moto's write paths, on copies"
    assert all(target is not live and target is not live.stream_shard for target in written_to)


def test_a_write_between_rehearsal_and_run_is_rolled_back(ddb, table, pk, monkeypatch):
    """Only a write outside the lock (or an unexpected error) can make the real run fail after the rehearsal passed:
    then what it applied is undone, items and stream records, and moto's answer is raised."""
    seed(ddb, table, pk)
    items, records = items_of(ddb, table, pk), stream_records(ddb, table, pk)
    run = cloud_module._run_transaction
    calls = []

    def racing(backend, transact_items):
        calls.append(backend)
        result = run(backend, transact_items)
        if len(calls) == 1:  # the rehearsal passed; now someone closes "chk" before the real run
            ddb.put_item(TableName=table, Item={**key(pk, "chk"), "state": {"S": "closed"}})
        return result

    monkeypatch.setattr(cloud_module, "_run_transaction", racing)
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=four_ops(table, pk, check_state="open"))

    assert len(calls) == 2
    reasons = caught.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    items["chk"]["state"] = {"S": "closed"}
    assert items_of(ddb, table, pk) == items
    assert stream_records(ddb, table, pk) == [*records, ("MODIFY", "chk")]  # the racing write's, nothing else


# ---------------------------------------------------------------------------------------------- cost
def test_the_cost_of_a_transaction_does_not_grow_with_the_table(ddb, monkeypatch):
    """No table is deep-copied any more, and a transaction on a table of 2,000 items copies exactly what it copies
    on a near-empty one. moto's own implementation, under the same spy, copies the whole table."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import StreamShard, Table

    name = "txn-cost-" + uuid.uuid4().hex[:8]
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    try:
        ddb.put_item(TableName=name, Item={**key("head", "0"), "n": {"N": "0"}})
        ddb.put_item(TableName=name, Item=key("fixed", "0"))

        def transaction(i: int) -> list[dict[str, Any]]:
            return [
                {"Put": {"TableName": name, "Item": key("new", str(i))}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": key("head", "0"),
                        "UpdateExpression": "SET n = :i",
                        "ExpressionAttributeValues": {":i": {"N": str(i)}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": key("fixed", "0"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]

        def deep_copies(call) -> list[type]:
            """The type of every object given to ``copy.deepcopy`` during ``call``: the objects copied at the top, and
            those that custom ``__deepcopy__`` methods (moto's Item's) copy; not every nested object."""
            seen: list[type] = []
            deepcopy = copy.deepcopy

            def spy(x, memo=None, _nil=None):
                seen.append(type(x))
                return deepcopy(x, memo)

            with monkeypatch.context() as patched:
                patched.setattr(copy, "deepcopy", spy)  # moto's module calls copy.deepcopy too
                call()
            return seen

        ddb.transact_write_items(TransactItems=transaction(0))  # the first run warms botocore's caches
        small = deep_copies(lambda: ddb.transact_write_items(TransactItems=transaction(1)))

        for start in range(0, 2000, 25):
            ddb.batch_write_item(
                RequestItems={
                    name: [
                        {"PutRequest": {"Item": {**key("bulk", f"{i:05}"), "n": {"N": str(i)}}}}
                        for i in range(start, start + 25)
                    ]
                }
            )
        assert ddb.describe_table(TableName=name)["Table"]["ItemCount"] >= 2000
        large = deep_copies(lambda: ddb.transact_write_items(TransactItems=transaction(2)))

        assert Table not in large and StreamShard not in large
        assert 0 < large.count(Item) == small.count(Item) < 10
        assert len(large) == len(small)

        backend = dynamodb_backends[cloud_module.ACCOUNT][REGION]
        by_moto = deep_copies(lambda: cloud_module.moto_transact_write_items(backend, transaction(3)))
        assert Table in by_moto and by_moto.count(DynamoType) > 2000  # the spy would have seen it
    finally:
        ddb.delete_table(TableName=name)


UPGRADING_MOTO = (
    "infra/cloud.py (_transact_write_items, _run_transaction) and infra/stepfunctions.py (install,"
    " _keep_task_failure_cause) copy or patch moto {pinned}'s internals. To move to moto {installed}: read its"
    " DynamoDBBackend.transact_write_items and bring infra.cloud._run_transaction in line with it, line for line;"
    " check that LambdaSimpleBackend.invoke, LambdaFunction.invoke and StepFunctionResponse.send_task_failure still"
    " have the signatures and behaviour infra/stepfunctions.py assumes; run tests/infra and tests/security; then set"
    " the new version in pyproject.toml's moto pin and the new fingerprint in this test."
)


def pinned_moto() -> str:
    """The version ``pyproject.toml`` pins moto to (``moto[server]==X.Y.Z`` in the dev dependency group)."""
    import tomllib
    from pathlib import Path

    document = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pins = [d for d in document["dependency-groups"]["dev"] if d.startswith("moto")]
    assert len(pins) == 1 and "==" in pins[0], f"moto must be pinned exactly in pyproject.toml's dev extras: {pins}"
    return pins[0].split("==")[1].strip()


def test_the_installed_moto_is_the_pinned_one():
    from importlib.metadata import version

    pinned, installed = pinned_moto(), version("moto")
    assert installed == pinned, UPGRADING_MOTO.format(pinned=pinned, installed=installed)


def test_the_transcription_follows_the_installed_moto():
    """``infra.cloud._run_transaction`` transcribes the loop of moto's ``DynamoDBBackend.transact_write_items`` (moto
    5.2.5; unchanged in 5.2.6, the pinned version). The fingerprint of moto's source says when it changes."""
    from importlib.metadata import version

    cloud_module.make_moto_atomic()  # sets moto's own aside (idempotent: provisioning a cloud calls it too)
    source = inspect.getsource(cloud_module.moto_transact_write_items)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4"
    ), "moto's DynamoDBBackend.transact_write_items changed. " + UPGRADING_MOTO.format(
        pinned=pinned_moto(), installed=version("moto")
    )


# ---------------------------------------------------------------------------------------------- same as moto
ACCOUNT = "000000000042"
RANGED_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ranged"


def fresh_backend():
    """A backend of its own with a hash+range table (GSI, NEW_AND_OLD_IMAGES stream) and a hash-only table
    (NEW_IMAGE stream), seeded alike every time."""
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend(REGION, ACCOUNT)
    common = {
        "throughput": None,
        "indexes": None,
        "billing_mode": "PAY_PER_REQUEST",
        "sse_specification": None,
        "tags": [],
        "deletion_protection_enabled": False,
        "warm_throughput": None,
    }
    backend.create_table(
        "ranged",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attr=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
        global_indexes=[
            {
                "IndexName": "byg",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **common,
    )
    backend.create_table(
        "hashed",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        attr=[{"AttributeName": "pk", "AttributeType": "S"}],
        global_indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        **common,
    )
    for attrs in (
        {"pk": "a", "sk": "1", "n": 1, "s": "text", "g": "x"},
        {"pk": "a", "sk": "2", "n": 2, "g": "x"},
        {"pk": "b", "sk": "1", "n": 3},
    ):
        backend.put_item("ranged", typed(attrs))
    for attrs in ({"pk": "h1", "n": 1}, {"pk": "h2", "s": "text"}):
        backend.put_item("hashed", typed(attrs))
    return backend


def typed(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: {"N": str(v)} if isinstance(v, int) else {"S": v} for k, v in attrs.items()}


def state(backend) -> dict[str, Any]:
    """Every table's items, what its GSIs answer, and its stream records (without ids and times)."""
    out = {}
    for name, table in backend.tables.items():
        records = [
            {k: v for k, v in r.record["dynamodb"].items() if k not in ("ApproximateCreationDateTime", "SizeBytes")}
            | {"eventName": r.record["eventName"]}
            for r in table.stream_shard.items
        ]
        by_index = {
            index.name: [i.to_json() for i in table.has_idx_items(index.name)] for index in table.global_indexes
        }
        out[name] = ([i.to_json() for i in table.all_items()], by_index, records)
    return out


def outcome(call) -> tuple | None:
    """None, or what identifies the error moto answers: type, code, message, body."""
    from moto.core.exceptions import JsonRESTError

    try:
        call()
    except JsonRESTError as e:
        return type(e), e.error_type.rsplit("#", 1)[-1], e.message, e.description, e.code
    return None


def put(table: str, attrs: dict[str, Any], **extra) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": typed(attrs), **extra}}


def update(table: str, key: dict[str, Any], expression: str, values: dict[str, Any] | None = None, **extra):
    op = {"TableName": table, "Key": typed(key), "UpdateExpression": expression, **extra}
    if values:
        op["ExpressionAttributeValues"] = typed(values)
    return {"Update": op}


def delete(table: str, key: dict[str, Any], **extra) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": typed(key), **extra}}


def check(table: str, key: dict[str, Any], condition: str, values: dict[str, Any] | None = None, **extra):
    op = {"TableName": table, "Key": typed(key), "ConditionExpression": condition, **extra}
    if values:
        op["ExpressionAttributeValues"] = typed(values)
    return {"ConditionCheck": op}


A1, A2, B1, NEW = {"pk": "a", "sk": "1"}, {"pk": "a", "sk": "2"}, {"pk": "b", "sk": "1"}, {"pk": "c", "sk": "1"}
H1, H2, H3 = {"pk": "h1"}, {"pk": "h2"}, {"pk": "h3"}
NINE = {":nine": 9}
ALL_OLD = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
APPLIED = [
    put("ranged", {**NEW, "g": "y"}),
    update("ranged", A1, "SET n = n + :one, g = :g", {":one": 1, ":g": "z"}),
    delete("ranged", A2),
    check("hashed", H1, "attribute_exists(pk)"),
    put("hashed", {**H3, "n": 5}),
    delete("hashed", {"pk": "nobody"}),
]
SCENARIOS: dict[str, tuple[list[dict[str, Any]], str | None]] = {
    "every op applies": (APPLIED, None),
    "updates create items": (
        [update("ranged", {"pk": "z", "sk": "9"}, "SET n = :nine", NINE), update("hashed", H3, "SET n = :nine", NINE)],
        None,
    ),
    "conditions that pass": (
        [
            put("ranged", NEW, ConditionExpression="attribute_not_exists(pk)"),
            delete("hashed", H1, ConditionExpression="n = :one", ExpressionAttributeValues=typed({":one": 1})),
            update(
                "ranged", B1, "REMOVE n", ConditionExpression="n > :one", ExpressionAttributeValues=typed({":one": 1})
            ),
        ],
        None,
    ),
    "a table named by its ARN": ([put(RANGED_ARN, NEW), update(RANGED_ARN, A1, "SET n = :nine", NINE)], None),
    "the last condition fails": ([*APPLIED, check("ranged", B1, "n = :nine", NINE)], "TransactionCanceledException"),
    "several conditions fail, ALL_OLD": (
        [
            put("ranged", A1, ConditionExpression="attribute_not_exists(pk)", **ALL_OLD),
            update("ranged", B1, "SET n = :nine", NINE),
            delete("hashed", H1, ConditionExpression="n = :nine", ExpressionAttributeValues=typed(NINE), **ALL_OLD),
            check("ranged", {"pk": "q", "sk": "1"}, "attribute_exists(pk)", **ALL_OLD),
            check("hashed", H2, "attribute_exists(n)"),
            put("hashed", H3),
        ],
        "TransactionCanceledException",
    ),
    "two ops on one item": (
        [put("hashed", H3), delete("ranged", A2), update("hashed", H3, "SET n = :nine", NINE)],
        "ValidationException",
    ),
    "two ops on one item after a failed condition": (
        [check("ranged", A1, "n = :nine", NINE), put("ranged", NEW), delete("ranged", NEW)],
        "ValidationException",
    ),
    "an update failing while applied": (
        [put("ranged", NEW), update("ranged", A1, "ADD s :one", {":one": 1}), delete("hashed", H1)],
        "ValidationException",
    ),
    "an update failing while applied, after a failed condition": (
        [check("ranged", A1, "n = :nine", NINE), put("ranged", NEW), update("hashed", H2, "ADD s :one", {":one": 1})],
        "ValidationException",
    ),
    "an update of a key attribute": (
        [put("hashed", H3), update("ranged", A1, "SET sk = :x", {":x": "y"})],
        "ValidationException",
    ),
    "a put with a key of the wrong type": (
        [put("hashed", H3), {"Put": {"TableName": "ranged", "Item": {"pk": {"N": "1"}, "sk": {"S": "1"}}}}],
        "ValidationException",
    ),
    "a key without its range": ([put("hashed", H3), delete("ranged", {"pk": "a"})], "ValidationException"),
    "an unknown table": (
        [put("hashed", H3), put("nowhere", H1), delete("nowhere", H1), update("hashed", H1, "SET n = :nine", NINE)],
        "TransactionCanceledException",
    ),
    "an unsupported op": (
        [put("hashed", H3), {"Frobnicate": {"TableName": "hashed", "Key": typed(H1)}}],
        "TransactionCanceledException",
    ),
    "a put without its range key": ([put("hashed", H3), put("ranged", {"pk": "a"})], "TransactionCanceledException"),
    "more than 100 ops": (
        [check("hashed", {"pk": f"k{i}"}, "attribute_exists(pk)") for i in range(101)],
        "ValidationException",
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_answers_and_effects_are_moto_s(own_cloud, name):
    transact_items, expected = SCENARIOS[name]
    ours, theirs = fresh_backend(), fresh_backend()

    answer = outcome(lambda: ours.transact_write_items(copy.deepcopy(transact_items)))
    moto_answer = outcome(lambda: cloud_module.moto_transact_write_items(theirs, copy.deepcopy(transact_items)))

    assert answer == moto_answer
    assert state(ours) == state(theirs)
    if expected is None:
        assert answer is None
        assert state(ours) != state(fresh_backend())
    else:
        assert answer[1] == expected
        assert state(ours) == state(fresh_backend())


@pytest.mark.parametrize("table_name", ["ranged", "hashed"])
def test_a_failed_real_run_restores_items_and_streams_exactly(own_cloud, monkeypatch, table_name):
    """The undo of the real run, on both kinds of table: a write sneaks in after the rehearsal and fails the last
    op's condition. The end state is the seed plus that write, exactly: items, GSI and stream records."""
    flag_key = B1 if table_name == "ranged" else H2
    sneak = typed({**flag_key, "flag": "up"})
    transact_items = [*APPLIED, update("hashed", {"pk": "h9"}, "SET n = :nine", NINE)]
    transact_items.append(check(table_name, flag_key, "attribute_not_exists(flag)"))
    run = cloud_module._run_transaction

    def racing(backend, items):
        result = run(backend, items)
        if backend is not ours:  # the rehearsal, on the sandbox, passed
            ours.put_item(table_name, sneak)
        return result

    ours, expected = fresh_backend(), fresh_backend()
    expected.put_item(table_name, sneak)
    monkeypatch.setattr(cloud_module, "_run_transaction", racing)

    answer = outcome(lambda: ours.transact_write_items(transact_items))

    assert answer[1] == "TransactionCanceledException"
    assert answer[2].endswith("[None, None, None, None, None, None, None, ConditionalCheckFailed]")
    assert state(ours) == state(expected)


def test_unlike_moto_an_op_of_two_kinds_changes_nothing(own_cloud):
    """moto raises TransactWriteSingleOpException when it reaches such an op, leaving the ops before it applied."""
    transact_items = [put("hashed", H3), {**put("ranged", NEW), **delete("ranged", A1)}]
    ours, theirs = fresh_backend(), fresh_backend()

    answer = outcome(lambda: ours.transact_write_items(copy.deepcopy(transact_items)))
    moto_answer = outcome(lambda: cloud_module.moto_transact_write_items(theirs, copy.deepcopy(transact_items)))

    assert answer == moto_answer
    assert answer[2] == "TransactItems can only contain one of Check, Put, Update or Delete"
    assert state(ours) == state(fresh_backend())
    assert state(theirs) != state(fresh_backend())


def test_unlike_moto_a_failed_transaction_on_a_table_named_by_arn_changes_nothing(own_cloud):
    """moto backs up the tables named in the transaction by name only, so it does not roll an ARN-named one back."""
    transact_items = [put(RANGED_ARN, NEW), check(RANGED_ARN, A1, "n = :nine", NINE)]
    ours, theirs = fresh_backend(), fresh_backend()

    answer = outcome(lambda: ours.transact_write_items(copy.deepcopy(transact_items)))
    moto_answer = outcome(lambda: cloud_module.moto_transact_write_items(theirs, copy.deepcopy(transact_items)))

    assert answer == moto_answer
    assert answer[1] == "TransactionCanceledException"
    assert state(ours) == state(fresh_backend())
    assert state(theirs) != state(fresh_backend())
