"""``protu-ops redrive``: replay what a function gave up on, from the queue that kept it.

When a stream function fails past its retries (or a record grows older than its ``MaximumRecordAgeInSeconds``),
Lambda drops the records from the function's way and sends their *description* to the event source's ``OnFailure``
queue (``template.yaml``; the local cloud's ``infra.streams.StreamPump`` does the same): the function, the stream,
the shard and the first and last sequence numbers, not the records. Redriving a message reads those records from
the stream again (DynamoDB Streams keeps them 24 hours: the queue's alarm pages on-call long before), hands them
to the same function as Lambda would (``lambda:Invoke`` of the function the message names) and deletes the message
once the function succeeded. The functions are idempotent (the mirror writes each object once, requests move from
one state to the next, signals open one incident), so a batch redriven twice is applied once.

A batch no longer in the stream is left in the queue for a person to judge, except the audit mirror's: its
events are still in the audit table, so they are copied to the Object-Lock bucket from there (``remirror_all``),
for every company whose chain verifies as it stands, and the batch is then deleted. Until then, the hourly digest
signs nothing past a company's first event without its copy.

The scheduled jobs are invoked asynchronously; an invocation that failed past Lambda's retries goes to
``JobFailures`` (their ``EventInvokeConfig``) with its event, which a redrive sends to the function again.

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


@dataclass(frozen=True)
class FailedInvocation:
    """An asynchronous invocation Lambda gave up on: the function and the event it was given."""

    function_arn: str
    payload: dict[str, Any]

    @classmethod
    def parse(cls, body: str) -> FailedInvocation:
        try:
            record = json.loads(body)
            found = cls(function_arn=record["requestContext"]["functionArn"], payload=record["requestPayload"])
        except (ValueError, TypeError, KeyError):
            raise Unreadable("not a failed invocation") from None
        if not (isinstance(found.function_arn, str) and FUNCTION_ARN.fullmatch(found.function_arn)):
            raise Unreadable("not a failed invocation")
        if not isinstance(found.payload, dict):
            raise Unreadable("not a failed invocation")
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
    """What template.yaml says of a failure queue: the handlers of the functions that send there, the environment
    variable naming the table that tells this stack (for a stream source, the table whose stream feeds it), and
    whether it keeps stream batches or asynchronous invocations."""

    handlers: frozenset[str]
    table_variable: str
    stream: bool

    @property
    def table(self) -> str:
        return os.environ.get(self.table_variable, "")


def source(name: str) -> Source:
    template = tpl.load()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    found = re.search(rf'"{re.escape(name)}": "\$\{{(\w+)\}}"', variables["FAILURE_QUEUES"]["Fn::Sub"])
    if not found:
        raise KeyError(name)
    tables = {value["Ref"]: key for key, value in variables.items() if isinstance(value, dict) and "Ref" in value}

    def sends_here(config: dict[str, Any]) -> bool:
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", {})
        return destination.get("Fn::GetAtt", [""])[0] == found[1]

    asynchronous = set()
    for spec in template["Resources"].values():
        props = spec.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "DynamoDB" and sends_here(event["Properties"]):
                table = tables[event["Properties"]["Stream"]["Fn::GetAtt"][0]]
                return Source(frozenset([props["Handler"]]), table, stream=True)
        if sends_here(props.get("EventInvokeConfig", {})):
            asynchronous.add(props["Handler"])
    if not asynchronous:
        raise KeyError(name)
    return Source(frozenset(asynchronous), "DATA_TABLE", stream=False)


def redrive(name: str) -> dict[str, int]:
    """Replay every batch the named queue holds now; answers what was replayed, left (failed again, no longer in
    the stream, or refused) and dropped (unreadable messages)."""
    url, owner = queues()[name], _Owner(source(name))
    sqs = aws.client("sqs")
    result = {"replayed": 0, "failed": 0, "expired": 0, "refused": 0, "unreadable": 0}
    left: dict[str, str] = {}  # message id -> its latest receipt handle, for what stays in the queue
    expired: list[str] = []  # ids of the batches no longer in the stream
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        fresh = [message for message in got if message["MessageId"] not in left]
        left.update({m["MessageId"]: m["ReceiptHandle"] for m in got if m["MessageId"] in left})
        if not fresh:
            break
        for message in fresh:
            outcome = _replay(message["Body"], owner)
            result[outcome] += 1
            if outcome in ("replayed", "unreadable"):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                left[message["MessageId"]] = message["ReceiptHandle"]
                if outcome == "expired":
                    expired.append(message["MessageId"])
    if expired and name == AUDIT_MIRROR:
        for message_id in expired:  # kept out of view while every company is copied (it may take a while)
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=left[message_id], VisibilityTimeout=900)
        remirrored = remirror_all()
        result |= remirrored
        if remirrored["broken"] == 0:  # every copy the mirror missed is written: the batches are accounted for
            for message_id in expired:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=left.pop(message_id))
            result["expired"] = 0
            result["remirrored"] = len(expired)
    for handle in left.values():  # back in view at once: still counted by the alarm, there for the next redrive
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return result


AUDIT_MIRROR = "audit-mirror"


def remirror_all() -> dict[str, int]:
    """What the audit mirror gave up on once its records have left the stream: its events, written to the Object-Lock
    bucket from the audit table (``protu.audit.verification.remirror``), for every company whose chain verifies.
    A company whose chain does not is named in the log and counted in ``broken``: nothing of it is copied."""
    from protu.audit.chain import HEAD_SK
    from protu.audit.models import AuditHead
    from protu.audit.verification import remirror
    from protu.logging import get_logger

    log = get_logger(__name__)
    found = {"copies_written": 0, "broken": 0}
    for head in AuditHead.scan(AuditHead.sk == HEAD_SK):
        verified, written = remirror(head.tenant)
        found["copies_written"] += written
        if not verified.ok:
            found["broken"] += 1
            log.error("re-mirror: a company's audit chain does not verify", extra={"tenant": head.tenant})
    return found


def _replay(body: str, owner: _Owner) -> str:
    from protu.logging import get_logger

    log = get_logger(__name__)
    try:
        failed = FailedBatch.parse(body) if owner.expected.stream else FailedInvocation.parse(body)
    except Unreadable:
        log.error("redrive dropped a message that describes nothing it can replay")
        return "unreadable"
    if not owner(failed):
        log.error("redrive refused a message for another function or stream", extra={"function": failed.function_arn})
        return "refused"
    if isinstance(failed, FailedBatch):
        records = read(failed)
        if not records:
            log.warning("redrive: the batch is no longer in the stream", extra={"shard": failed.shard_id})
            return "expired"
        from infra.streams import lambda_event

        payload = lambda_event(failed.stream_arn, records)
    else:
        payload = failed.payload
    answer = aws.client("lambda").invoke(
        FunctionName=failed.function_arn, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
    )
    if answer.get("FunctionError"):
        log.warning("redrive: the function failed again", extra={"function": failed.function_arn})
        return "failed"
    return "replayed"


class _Owner:
    """Whether a message names the queue's own function (and, for a batch, its table's stream), asked of AWS once
    per redrive: the table's description once, each function's configuration once, however many messages."""

    def __init__(self, expected: Source) -> None:
        self.expected = expected
        self._table: dict[str, Any] | None = None
        self._functions: dict[str, bool] = {}

    def table(self) -> dict[str, Any]:
        if self._table is None:
            self._table = aws.client("dynamodb").describe_table(TableName=self.expected.table)["Table"]
        return self._table

    def __call__(self, failed: FailedBatch | FailedInvocation) -> bool:
        """In this stack's account and region, with a handler the template gives a function that sends there,
        configured with this stack's table; a batch, from that table's stream."""
        from botocore.exceptions import ClientError

        if not self.expected.table:
            return False
        try:
            table = self.table()
        except ClientError:
            return False
        if failed.function_arn.split(":")[3:5] != table["TableArn"].split(":")[3:5]:
            return False  # a function of another region or account
        if isinstance(failed, FailedBatch) and failed.stream_arn != table.get("LatestStreamArn"):
            return False  # another table's stream
        if failed.function_arn not in self._functions:
            self._functions[failed.function_arn] = self._configured(failed.function_arn)
        return self._functions[failed.function_arn]

    def _configured(self, function_arn: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            config = aws.client("lambda").get_function_configuration(FunctionName=function_arn)
        except ClientError:
            return False
        variables = (config.get("Environment") or {}).get("Variables") or {}
        expected = self.expected
        return config.get("Handler") in expected.handlers and variables.get(expected.table_variable) == expected.table


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
