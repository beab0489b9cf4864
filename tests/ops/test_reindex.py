"""``protu-ops reindex`` (issue 18): records written before the list filter indexes and search existed (or before a
kind's indexed fields changed) get their index entries and search words, so filters and search find them again."""

from __future__ import annotations

import boto3
from protu.settings import settings

from tests.api.people import sign_up


def test_records_without_index_entries_are_found_again_after_a_reindex(api, mailgun, capsys):
    from infra import ops

    owner = sign_up(api, mailgun)
    tenant = owner.me["company"]["id"]
    made = owner.browser.post("/api/candidates", {"name": "Old Record", "stage": "interview"}).json()
    dynamodb = boto3.client("dynamodb", region_name=settings().region)
    dynamodb.update_item(  # as a record written before the indexes: no entry
        TableName=settings().data_table,
        Key={"pk": {"S": f"T#{tenant}#CAND"}, "sk": {"S": made["id"]}},
        UpdateExpression="REMOVE f1pk, f2pk, f3pk, index_version",
    )
    words = dynamodb.query(
        TableName=settings().data_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{tenant}#CAND#SEARCH"}},
    )["Items"]
    for word in words:
        dynamodb.delete_item(TableName=settings().data_table, Key={"pk": word["pk"], "sk": word["sk"]})
    assert owner.browser.get("/api/candidates?stage=interview").json()["items"] == []
    assert owner.browser.get("/api/candidates?q=old").json()["items"] == []

    assert ops.main(["reindex", "--tenant", tenant]) == 0
    assert "1 fixed" in capsys.readouterr().out
    assert [c["id"] for c in owner.browser.get("/api/candidates?stage=interview").json()["items"]] == [made["id"]]
    assert [c["id"] for c in owner.browser.get("/api/candidates?q=old+rec").json()["items"]] == [made["id"]]
    assert ops.main(["reindex", "--tenant", tenant]) == 0
    assert "0 fixed" in capsys.readouterr().out  # nothing left to do
