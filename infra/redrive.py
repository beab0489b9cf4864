"""``protu-ops redrive``: replay the stream batches a function gave up on, from the queue that kept them.

When a stream function fails past its retries (or a record grows older than its ``MaximumRecordAgeInSeconds``),
Lambda drops the records from the function's way and sends their *description* to the event source's ``OnFailure``
queue (``template.yaml``; the local cloud's ``infra.streams.StreamPump`` does the same): the function, the stream,
the shard and the first and last sequence numbers, not the records. Redriving a message reads those records from
the stream again (DynamoDB Streams keeps them 24 hours: the queue's alarm pages on-call long before), hands them
to the same function as Lambda would (``lambda:Invoke`` of the function the message names) and deletes the message
once the function succeeded. The functions are idempotent (the mirror writes each object once, requests move from
one state to the next, signals open one incident), so a batch redriven twice is applied once.

The queues are named in ``FAILURE_QUEUES`` (the functions' environment: ``{"audit-mirror": <queue URL>, ...}``).

A message only says which function to invoke with which stream's records, and whoever can write to the queue could
say anything: a redrive invokes a function only if it is the queue's own (the handler template.yaml gives the
function whose event source sends there, configured with this stack's tables) and only with records of that event
source's table. Anything else is refused and left in the queue for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from protu import aws
from protu.settings import settings

from infra import template as tpl

SEQUENCE = re.compile(r"\d{1,40}")
FUNCTION_ARN = re.compile(r"arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]{1,64}(:[\w$-]+)?")
STREAM_ARN = re.compile(r"arn:aws[\w-]*:dynamodb:[\w-]+:\d{12}:table/[\w.-]{3,255}/stream/[\w:.+-]{1,64}")
SHARD = re.compile(r"shardId-[\w-]{1,100}")


class Unreadable(ValueError):
    """A message that is not a description of a failed stream batch."""


@dataclass(frozen=True)
class FailedBatch:
    function_arn: str
    stream_arn: str
    shard_id: str
    first: str  # sequence numbers, inclusive
    last: str
    condition: str

    @classmethod
    def parse(cls, body: str) -> FailedBatch:
        try:
            record = json.loads(body)
            batch, context = record["DDBStreamBatchInfo"], record["requestContext"]
            found = cls(
                function_arn=context["functionArn"],
                stream_arn=batch["streamArn"],
                shard_id=batch["shardId"],
                first=batch["startSequenceNumber"],
                last=batch["endSequenceNumber"],
                condition=str(context.get("condition", "")),
            )
        except (ValueError, TypeError, KeyError):
            raise Unreadable("not a failed stream batch") from None
        checks = (
            (FUNCTION_ARN, found.function_arn),
            (STREAM_ARN, found.stream_arn),
            (SHARD, found.shard_id),
            (SEQUENCE, found.first),
            (SEQUENCE, found.last),
        )
        if not all(isinstance(value, str) and pattern.fullmatch(value) for pattern, value in checks):
            raise Unreadable("not a failed stream batch")
        if int(found.first) > int(found.last):
            raise Unreadable("the batch ends before it starts")
        return found


def queues() -> dict[str, str]:
    """The failure queues by name (``FAILURE_QUEUES``)."""
    return settings().failure_queues


def depths() -> dict[str, int]:
    sqs = aws.client("sqs")
    found = {}
    for name, url in queues().items():
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        found[name] = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    return found


@dataclass(frozen=True)
class Source:
    """What template.yaml says of a failure queue's event source: the handler of the function it belongs to, and
    the environment variable naming the table whose stream feeds it."""

    handler: str
    table_variable: str

    @property
    def table(self) -> str:
        return os.environ.get(self.table_variable, "")


def source(name: str) -> Source:
    template = tpl.load()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    found = re.search(rf'"{re.escape(name)}": "\$\{{(\w+)\}}"', variables["FAILURE_QUEUES"]["Fn::Sub"])
    tables = {value["Ref"]: key for key, value in variables.items() if isinstance(value, dict) and "Ref" in value}
    for spec in template["Resources"].values():
        for event in (spec.get("Properties", {}).get("Events") or {}).values():
            props = event.get("Properties", {})
            failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", {})
            if found and event["Type"] == "DynamoDB" and failure.get("Fn::GetAtt", [""])[0] == found[1]:
                return Source(spec["Properties"]["Handler"], tables[props["Stream"]["Fn::GetAtt"][0]])
    raise KeyError(name)


def redrive(name: str) -> dict[str, int]:
    """Replay every batch the named queue holds now; answers what was replayed, left (failed again, no longer in
    the stream, or refused) and dropped (unreadable messages)."""
    url, expected = queues()[name], source(name)
    sqs = aws.client("sqs")
    result = {"replayed": 0, "failed": 0, "expired": 0, "refused": 0, "unreadable": 0}
    left: dict[str, str] = {}  # message id -> its latest receipt handle, for what stays in the queue
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        fresh = [message for message in got if message["MessageId"] not in left]
        left.update({m["MessageId"]: m["ReceiptHandle"] for m in got if m["MessageId"] in left})
        if not fresh:
            break
        for message in fresh:
            outcome = _replay(message["Body"], expected)
            result[outcome] += 1
            if outcome in ("replayed", "unreadable"):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                left[message["MessageId"]] = message["ReceiptHandle"]
    for handle in left.values():  # back in view at once: still counted by the alarm, there for the next redrive
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return result


def _replay(body: str, expected: Source) -> str:
    from protu.logging import get_logger

    log = get_logger(__name__)
    try:
        batch = FailedBatch.parse(body)
    except Unreadable:
        log.error("redrive dropped a message that describes no stream batch")
        return "unreadable"
    if not _belongs(batch, expected):
        log.error("redrive refused a batch for another function or stream", extra={"function": batch.function_arn})
        return "refused"
    records = read(batch)
    if not records:
        log.warning("redrive: the batch is no longer in the stream", extra={"shard": batch.shard_id})
        return "expired"
    from infra.streams import lambda_event

    answer = aws.client("lambda").invoke(
        FunctionName=batch.function_arn,
        InvocationType="RequestResponse",
        Payload=json.dumps(lambda_event(batch.stream_arn, records)).encode("utf-8"),
    )
    if answer.get("FunctionError"):
        log.warning("redrive: the function failed again", extra={"function": batch.function_arn})
        return "failed"
    return "replayed"


def _belongs(batch: FailedBatch, expected: Source) -> bool:
    """The batch comes from the stream of the queue's own table, and names the queue's own function: in the
    stream's account and region, with the template's handler, configured with this stack's table."""
    from botocore.exceptions import ClientError

    if not expected.table:
        return False
    try:
        stream = aws.client("dynamodb").describe_table(TableName=expected.table)["Table"].get("LatestStreamArn")
        if batch.stream_arn != stream or batch.function_arn.split(":")[3:5] != stream.split(":")[3:5]:
            return False  # another table's stream, or a function of another region or account
        config = aws.client("lambda").get_function_configuration(FunctionName=batch.function_arn)
    except ClientError:
        return False
    variables = (config.get("Environment") or {}).get("Variables") or {}
    return config.get("Handler") == expected.handler and variables.get(expected.table_variable) == expected.table


def read(batch: FailedBatch) -> list[dict[str, Any]]:
    """The stream records of the batch, first to last (an empty list when the stream no longer holds them)."""
    from botocore.exceptions import ClientError

    from infra.streams import streams_client

    streams = streams_client()
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.first,
        )["ShardIterator"]
    except ClientError as error:  # trimmed (older than 24 hours) or the stream is gone
        if error.response.get("Error", {}).get("Code") in ("TrimmedDataAccessException", "ResourceNotFoundException"):
            return []
        raise
    found: list[dict[str, Any]] = []
    last = int(batch.last)
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        for record in page.get("Records") or []:
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return found
            found.append(record)
        if not page.get("Records"):
            return found
        iterator = page.get("NextShardIterator")
    return found
