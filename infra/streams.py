"""DynamoDB Streams -> Lambda handler, for the local cloud and tests (in the cloud an event source mapping does it).

moto records a table's stream but runs no Lambda without docker, so the local server calls ``StreamPump.pump()``
in a loop and tests call it directly. The handler receives exactly what Lambda sends::

    {"Records": [{"eventID", "eventName", "eventVersion", "eventSource": "aws:dynamodb", "awsRegion",
                  "dynamodb": {..., "ApproximateCreationDateTime": <epoch seconds>}, "eventSourceARN"}]}

Like Lambda, a batch whose handler raises is not acknowledged: the next ``pump()`` delivers it again.

The pump remembers *sequence numbers*, not shard iterators, and asks for a fresh iterator on every pump. Iterators
expire after 15 minutes in AWS (and with moto's own rollback, which restores a deep copy of the table, an iterator
would keep pointing at a stale shard; ``infra.cloud`` replaces that rollback, but a fresh iterator costs nothing).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any

from protu import aws
from protu.settings import settings

Handler = Callable[[dict[str, Any], Any], Any]
_FROM_START = {"ShardIteratorType": "TRIM_HORIZON"}


class StreamPump:
    """Reads a table's stream from where it last stopped and hands each batch to ``handler``.

    ``starting_position`` applies to the shards found at construction, as for an event source mapping:
    ``TRIM_HORIZON`` (default: everything still in the stream) or ``LATEST`` (only what is written from now on).
    Shards that appear later (splits) are read from their start, in the order DescribeStream lists them.
    """

    def __init__(
        self,
        table_name: str,
        handler: Handler,
        *,
        starting_position: str = "TRIM_HORIZON",
        batch_size: int = 100,
        context: Any = None,
    ) -> None:
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("starting_position is TRIM_HORIZON or LATEST")
        self.table_name = table_name
        self.handler = handler
        self.batch_size = batch_size
        self.context = context
        self._skip_existing = starting_position == "LATEST"
        self._stream_arn: str | None = None
        # shard id -> GetShardIterator arguments to resume from; None once a closed shard is fully read
        self._positions: dict[str, dict[str, str] | None] = {}
        self._streams = _streams_client()
        self._discover()  # pin the starting position now, not at the first pump

    def pump(self) -> int:
        """Deliver every record available now; returns how many were delivered."""
        self._discover()
        return sum(self._read(shard_id, deliver=True) for shard_id in list(self._positions))

    def _read(self, shard_id: str, *, deliver: bool) -> int:
        position = self._positions[shard_id]
        if position is None:
            return 0
        iterator = self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **position)
        iterator, count = iterator["ShardIterator"], 0
        while iterator:
            page = self._streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = page.get("Records") or []
            if records:
                if deliver:
                    self.handler(self._event(records), self.context)  # raises: the position stays put
                count += len(records)
                self._positions[shard_id] = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                }
            iterator = page.get("NextShardIterator")
            if iterator is None:
                self._positions[shard_id] = None  # the shard is closed and everything in it was read
            if not records:
                break
        return count

    def _discover(self) -> None:
        table = aws.client("dynamodb").describe_table(TableName=self.table_name)["Table"]
        arn = table.get("LatestStreamArn")
        if not arn:
            raise ValueError(f"table {self.table_name} has no stream")
        first = arn != self._stream_arn
        if first:  # first call, or the table was re-created: start over on the new stream
            self._stream_arn, self._positions = arn, {}
        start: dict[str, str] = {}
        while True:
            description = self._streams.describe_stream(StreamArn=arn, **start)["StreamDescription"]
            for shard in description.get("Shards", []):
                if shard["ShardId"] not in self._positions:
                    self._positions[shard["ShardId"]] = dict(_FROM_START)
                    if first and self._skip_existing:  # LATEST: move past what is already there
                        self._read(shard["ShardId"], deliver=False)
            if not description.get("LastEvaluatedShardId"):
                break
            start = {"ExclusiveStartShardId": description["LastEvaluatedShardId"]}

    def _event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        region = self._stream_arn.split(":")[3]
        return {
            "Records": [
                {
                    "eventID": record["eventID"],
                    "eventName": record["eventName"],
                    "eventVersion": record.get("eventVersion", "1.1"),
                    "eventSource": "aws:dynamodb",
                    "awsRegion": region,
                    "dynamodb": _as_lambda_json(record["dynamodb"]),
                    "eventSourceARN": self._stream_arn,
                }
                for record in records
            ]
        }


def _streams_client() -> Any:
    """A Streams client on the regional endpoint. botocore now derives an account-based host from the stream ARN
    (``<account>.streams-ddb.<region>...``), which moto 5.2.5 did not answer (5.2.6 does); the regional host works
    everywhere (and an explicit ``AWS_ENDPOINT_URL`` still wins)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "dynamodbstreams", region_name=settings().region, config=Config(account_id_endpoint_mode="disabled")
    )


def _as_lambda_json(value: Any) -> Any:
    """boto3 parses timestamps and binary values; Lambda's JSON event has epoch seconds and base64 text."""
    if isinstance(value, dict):
        return {key: _as_lambda_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_lambda_json(item) for item in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return value
