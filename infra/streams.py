"""DynamoDB Streams -> Lambda handler, for the local cloud and tests (in the cloud an event source mapping does it).

moto records a table's stream but runs no Lambda without docker, so the local server calls ``StreamPump.pump()``
in a loop and tests call it directly. The handler receives exactly what Lambda sends::

    {"Records": [{"eventID", "eventName", "eventVersion", "eventSource": "aws:dynamodb", "awsRegion",
                  "dynamodb": {..., "ApproximateCreationDateTime": <epoch seconds>}, "eventSourceARN"}]}

Like Lambda, a batch whose handler raises is not acknowledged: the next ``pump()`` delivers it again. With the
template's error handling (``pumps(cloud)`` reads it from each function's DynamoDB event: ``MaximumRetryAttempts``,
``BisectBatchOnFunctionError``, ``MaximumRecordAgeInSeconds`` and the ``OnFailure`` queue), a failed batch is split
in two and each half retried, at once, until it succeeds or its retries are spent; then, as Lambda does, the pump
sends the batch's description (function, stream, shard, first and last sequence numbers, never the records) to
the queue and goes on past it. ``protu-ops redrive`` (``infra.redrive``) replays such batches.

The pump remembers *sequence numbers*, not shard iterators, and asks for a fresh iterator on every pump. Iterators
expire after 15 minutes in AWS (and with moto's own rollback, which restores a deep copy of the table, an iterator
would keep pointing at a stale shard; ``infra.cloud`` replaces that rollback, but a fresh iterator costs nothing).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from protu import aws
from protu.logging import get_logger
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
        max_retries: int = -1,
        bisect: bool = False,
        max_record_age: int = -1,
        on_failure: str | None = None,
        function_arn: str = "",
    ) -> None:
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("starting_position is TRIM_HORIZON or LATEST")
        if (max_retries >= 0 or max_record_age >= 0) and not (on_failure and function_arn):
            raise ValueError("a pump that gives up on batches sends them to an on-failure queue, for a function")
        self.table_name = table_name
        self.handler = handler
        self.batch_size = batch_size
        self.context = context
        self.max_retries = max_retries  # -1: retry until the handler succeeds (each pump() tries once more)
        self.bisect = bisect
        self.max_record_age = max_record_age  # seconds; -1: any age
        self.on_failure = on_failure  # the OnFailure queue's URL
        self.function_arn = function_arn
        self._skip_existing = starting_position == "LATEST"
        self._stream_arn: str | None = None
        # shard id -> GetShardIterator arguments to resume from; None once a closed shard is fully read
        self._positions: dict[str, dict[str, str] | None] = {}
        self._streams = streams_client()
        self._discover()  # pin the starting position now, not at the first pump

    def pump(self) -> int:
        """Deliver every record available now; returns how many were delivered."""
        self._discover()
        return sum(self._read(shard_id) for shard_id in list(self._positions))

    def _read(self, shard_id: str) -> int:
        position = self._positions[shard_id]
        if position is None:
            return 0
        if "ShardIterator" in position:  # LATEST, pinned at construction: an iterator, until a record comes
            iterator = position["ShardIterator"]
        else:
            iterator = self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **position)
            iterator = iterator["ShardIterator"]
        count = 0
        while iterator:
            page = self._streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = page.get("Records") or []
            if not records and "ShardIterator" in (self._positions[shard_id] or {}):
                self._positions[shard_id] = {"ShardIterator": page.get("NextShardIterator") or iterator}
            if records:
                self._deliver(shard_id, records)  # raises (no retry limit): the position stays put
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
                    if first and self._skip_existing:  # LATEST: past what is already there, without reading it
                        latest = self._streams.get_shard_iterator(
                            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
                        )
                        self._positions[shard["ShardId"]] = {"ShardIterator": latest["ShardIterator"]}
            if not description.get("LastEvaluatedShardId"):
                break
            start = {"ExclusiveStartShardId": description["LastEvaluatedShardId"]}

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        if self.max_record_age >= 0:
            oldest = time.time() - self.max_record_age
            expired = [r for r in records if _created(r) < oldest]
            if expired:
                self._give_up(shard_id, expired, "RecordAgeExceeded", 0)
                records = [r for r in records if _created(r) >= oldest]
        if records:
            self._invoke(shard_id, records)

    def _invoke(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        attempts = 0
        while True:
            attempts += 1
            try:
                self.handler(lambda_event(self._stream_arn, records), self.context)
                return
            except Exception as error:
                if self.max_retries < 0:
                    raise
                get_logger(__name__).warning(
                    "stream batch failed",
                    extra={"function": self.function_arn, "records": len(records), "error_type": type(error).__name__},
                )
            if self.bisect and len(records) > 1:  # as Lambda: splitting spends no retry
                half = len(records) // 2
                self._invoke(shard_id, records[:half])
                self._invoke(shard_id, records[half:])
                return
            if attempts > self.max_retries:
                self._give_up(shard_id, records, "RetryAttemptsExhausted", attempts)
                return

    def _give_up(self, shard_id: str, records: list[dict[str, Any]], condition: str, attempts: int) -> None:
        """Send the batch's description to the on-failure queue, as Lambda's event source mapping does."""
        arrivals = [_created(r) for r in records]
        document = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(min(arrivals)),
                "approximateArrivalOfLastRecord": _iso(max(arrivals)),
                "batchSize": len(records),
                "streamArn": self._stream_arn,
            },
        }
        aws.client("sqs").send_message(QueueUrl=self.on_failure, MessageBody=json.dumps(document))
        get_logger(__name__).error(
            "stream batch sent to its on-failure queue",
            extra={"function": self.function_arn, "records": len(records), "condition": condition},
        )


def lambda_event(stream_arn: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda hands a function for stream records as DynamoDB Streams' GetRecords returns them."""
    region = stream_arn.split(":")[3]
    return {
        "Records": [
            {
                "eventID": record["eventID"],
                "eventName": record["eventName"],
                "eventVersion": record.get("eventVersion", "1.1"),
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": _as_lambda_json(record["dynamodb"]),
                "eventSourceARN": stream_arn,
            }
            for record in records
        ]
    }


def _created(record: dict[str, Any]) -> float:
    found = record["dynamodb"].get("ApproximateCreationDateTime")
    return found.timestamp() if isinstance(found, datetime) else float(found or time.time())


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pumps(cloud: Any) -> list[StreamPump]:
    """A pump for every DynamoDB event of every function of the template, as its event source mapping reads the
    stream: start, batch size, retries, bisection, record age and on-failure queue; the function's handler, imported
    from its code folder, and its alias's ARN (SAM maps events to the alias)."""
    found = []
    for logical_id, spec in cloud.template["Resources"].items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        for event in (spec["Properties"].get("Events") or {}).values():
            if event["Type"] != "DynamoDB":
                continue
            source = event["Properties"]
            table = _logical(source["Stream"])
            failure = ((source.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            function = cloud.ensure(logical_id)
            found.append(
                StreamPump(
                    cloud.physical_id(table),
                    _registered(function.physical_id),
                    starting_position=source["StartingPosition"],
                    batch_size=int(source.get("BatchSize", 100)),
                    max_retries=int(source.get("MaximumRetryAttempts", -1)),
                    bisect=bool(source.get("BisectBatchOnFunctionError", False)),
                    max_record_age=int(source.get("MaximumRecordAgeInSeconds", -1)),
                    on_failure=cloud.physical_id(_logical(failure)) if failure else None,
                    function_arn=function.attributes.get("Alias") or function.attributes["Arn"],
                )
            )
    return found


def _registered(function_name: str) -> Handler:
    """The function's handler as the local cloud registered it, looked up at each call (a test may override it)."""
    from infra import stepfunctions

    def handler(event: dict[str, Any], context: Any) -> Any:
        return stepfunctions.handler_for(function_name)(event, context)

    return handler


def _logical(reference: Any) -> str:
    """The logical id in ``!GetAtt Resource.Attribute`` (either of its two forms once loaded)."""
    target = reference["Fn::GetAtt"]
    return target[0] if isinstance(target, list) else target.split(".")[0]


def streams_client() -> Any:
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
