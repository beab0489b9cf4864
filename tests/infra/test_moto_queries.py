"""A Query of a table's own key in the local cloud reads that partition only, and an index query does not sort the
whole table first (``infra.cloud._query_one_partition``; moto sorts every item of the table for each query); both
answer exactly as moto's own Query does (``infra.cloud.moto_table_query``): items, order, counts and the key to go
on from."""

from __future__ import annotations

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType

from infra import cloud as cloud_module
from tests.infra.test_moto_transactions import fresh_backend


def S(value: str) -> DynamoType:
    return DynamoType({"S": value})


@pytest.fixture(scope="module")
def table():
    cloud_module.make_moto_atomic()  # idempotent: provisioning a cloud does it too
    backend = fresh_backend()
    for pk in ("a", "b", "c"):
        for n in range(12):
            backend.put_item("ranged", {"pk": {"S": pk}, "sk": {"S": f"{n:03d}"}, "n": {"N": str(n)}, "g": {"S": pk}})
    table = backend.get_table("ranged")
    assert type(table).query is not cloud_module.moto_table_query  # the local cloud's Query answers
    return table


def answer(query, table, hash_key, comparison=None, values=(), limit=None, start=None, forward=True, index=None):
    by_index = {"hash_key_conditions": [("g", hash_key)]} if index else {}
    arguments = (hash_key, comparison, list(values), limit, start, forward, None, index)
    items, scanned, last = query(table, *arguments, **by_index)
    return [item.to_json() for item in items], scanned, last


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"forward": False},
        {"comparison": "BEGINS_WITH", "values": [S("00")]},
        {"comparison": "BETWEEN", "values": [S("003"), S("007")], "forward": False},
        {"comparison": ">", "values": [S("010")]},
        {"limit": 5},
        {"limit": 5, "start": {"pk": {"S": "b"}, "sk": {"S": "004"}}},
        {"limit": 4, "start": {"pk": {"S": "b"}, "sk": {"S": "008"}}, "forward": False},
        {"index": "byg"},  # an index: every item, unsorted, for moto to match and sort by the index's keys
        {"index": "byg", "forward": False, "limit": 5},
        {"index": "byg", "limit": 5, "start": {"pk": {"S": "b"}, "sk": {"S": "004"}, "g": {"S": "b"}}},
    ],
    ids=str,
)
def test_a_partitions_query_answers_as_motos_own(table, kw):
    ours = answer(type(table).query, table, S("b"), **kw)
    theirs = answer(cloud_module.moto_table_query, table, S("b"), **kw)
    assert ours == theirs
    assert ours[0], kw  # something was found


def test_a_partition_that_does_not_exist_is_empty_and_stays_absent(table):
    assert answer(type(table).query, table, S("zz")) == ([], 0, None)
    assert S("zz") not in table.items
