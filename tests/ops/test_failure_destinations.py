"""Nothing a stream function gives up on is lost (issue 19): the local cloud reads each DynamoDB event source as its
mapping in template.yaml does (retries, bisection, on-failure queue; ``infra.streams.pumps``), a batch that keeps
failing is described in the source's failure queue (never its records), and ``protu-ops redrive`` replays it from
the stream once the cause is fixed, applied exactly once however often it is redriven."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from protu import audit, aws
from protu.audit.mirror import object_key
from protu.settings import reload, settings

from infra import ops
from infra.streams import pumps


def pump_of(cloud, function: str):
    alias = cloud.ensure(function).attributes["Alias"]
    return next(p for p in pumps(cloud) if p.function_arn == alias)


def queue(name: str) -> str:
    return settings().failure_queues[name]


def waiting(name: str) -> list[dict]:
    """The queue's messages, left in it (received with no visibility timeout)."""
    sqs, found, seen = aws.client("sqs"), [], set()
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=queue(name), MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            if message["MessageId"] not in seen:
                seen.add(message["MessageId"])
                found.append(json.loads(message["Body"]))
    return found


def drain(name: str) -> None:
    sqs = aws.client("sqs")
    while got := sqs.receive_message(QueueUrl=queue(name), MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        for message in got:
            sqs.delete_message(QueueUrl=queue(name), ReceiptHandle=message["ReceiptHandle"])


def versions(cloud, tenant: str, seq: int) -> int:
    key = object_key(tenant, seq)
    listed = aws.client("s3").list_object_versions(Bucket=cloud.physical_id("AuditBucket"), Prefix=key)
    return len([v for v in listed.get("Versions", []) if v["Key"] == key])


@pytest.fixture
def misconfigured_bucket(monkeypatch):
    """The cause: a deploy pointed the mirror at an audit bucket that does not exist. Yields the fix."""
    real = settings().audit_bucket
    monkeypatch.setenv("AUDIT_BUCKET", f"protu-missing-{uuid4().hex[:8]}")
    reload()

    def fix() -> None:
        monkeypatch.setenv("AUDIT_BUCKET", real)
        reload()

    yield fix
    fix()


def test_a_mirror_batch_that_fails_past_its_retries_is_kept_and_redriven_once_the_cause_is_fixed(
    own_cloud, misconfigured_bucket, capsys
):
    pump = pump_of(own_cloud, "AuditMirrorFunction")
    assert (pump.max_retries, pump.bisect) == (10, True)  # what the template says, read by the local cloud
    pump.pump()  # whatever the stack wrote before (a new pump reads the stream from its start)...
    drain("audit-mirror")  # ...fails again under the misconfigured bucket: other tests' events, copied long ago
    tenant = "t-" + uuid4().hex[:12]
    events = [
        audit.record(tenant, "test.redrive", f"thing:{i}", actor="robot-1", details={"secret_note": f"n{i}"})
        for i in range(3)
    ]

    pump.pump()  # each event fails 1 + 10 times, alone after bisection; the heads beside them are mirrored (no-ops)
    failed = waiting("audit-mirror")
    assert len(failed) == 3 and all(versions(own_cloud, tenant, e["seq"]) == 0 for e in events)
    stream = own_cloud.ensure("AuditTable").attributes.get("StreamArn") or failed[0]["DDBStreamBatchInfo"]["streamArn"]
    for message in failed:
        batch = message["DDBStreamBatchInfo"]
        assert message["requestContext"]["functionArn"] == pump.function_arn
        assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert message["requestContext"]["approximateInvokeCount"] == 11
        assert batch["batchSize"] == 1 and batch["streamArn"] == stream
        assert batch["startSequenceNumber"] == batch["endSequenceNumber"]
    described = json.dumps(failed)
    assert tenant not in described and "secret_note" not in described and events[0]["hash"] not in described

    # A redrive before the fix fails again and keeps every batch.
    assert ops.main(["redrive", "audit-mirror"]) == 1
    assert "0 replayed, 3 failed again" in capsys.readouterr().out
    assert len(waiting("audit-mirror")) == 3

    misconfigured_bucket()
    assert ops.main(["redrive", "audit-mirror"]) == 0
    assert "3 replayed, 0 failed again" in capsys.readouterr().out
    assert [versions(own_cloud, tenant, e["seq"]) for e in events] == [1, 1, 1]
    assert waiting("audit-mirror") == []

    # Redriving again, or the stream delivering the same records again, writes nothing twice.
    assert ops.main(["redrive", "audit-mirror"]) == 0
    assert "0 replayed" in capsys.readouterr().out
    assert [versions(own_cloud, tenant, e["seq"]) for e in events] == [1, 1, 1]
    assert ops.main(["redrive"]) == 0
    assert "audit-mirror: 0 waiting" in capsys.readouterr().out


def test_a_message_that_describes_no_batch_is_dropped_and_named(own_cloud, capsys):
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=queue("incident-detect"), MessageBody='{"DDBStreamBatchInfo": {"shardId": "../x"}}')
    sqs.send_message(QueueUrl=queue("incident-detect"), MessageBody="not json")
    assert ops.main(["redrive", "incident-detect"]) == 0
    assert "2 unreadable (dropped)" in capsys.readouterr().out
    assert waiting("incident-detect") == []
    assert ops.main(["redrive", "no-such-queue"]) == 1
    assert "no failure queue 'no-such-queue'" in capsys.readouterr().out


def test_a_batch_no_longer_in_the_stream_is_left_and_said(own_cloud, capsys):
    """A description whose records the stream no longer holds (trimmed after 24 hours: here, sequence numbers past
    its end) stays in the queue for a person to judge, and the command fails."""
    pump = pump_of(own_cloud, "CompanyRequestsFunction")
    pump.pump()
    shard = next(iter(pump._positions))
    body = {
        "requestContext": {"functionArn": pump.function_arn, "condition": "RecordAgeExceeded"},
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": "9" * 30,
            "endSequenceNumber": "9" * 30,
            "streamArn": pump._stream_arn,
        },
    }
    aws.client("sqs").send_message(QueueUrl=queue("company-requests"), MessageBody=json.dumps(body))
    assert ops.main(["redrive", "company-requests"]) == 1
    assert "1 no longer in the stream (left)" in capsys.readouterr().out
    still = [m for m in waiting("company-requests") if m["DDBStreamBatchInfo"].get("startSequenceNumber") == "9" * 30]
    assert len(still) == 1  # (other tests of the module may have left messages of their own there)


def test_a_message_aimed_at_another_function_or_stream_is_refused_and_nothing_runs(own_cloud, capsys):
    """Whoever can write to a failure queue cannot make an operator's redrive invoke another function with the
    records (here: the containment step, and the audit mirror of the same stack fed the data table's records)."""
    from infra import stepfunctions

    requests = pump_of(own_cloud, "CompanyRequestsFunction")
    requests.pump()
    shard, stream = next(iter(requests._positions)), requests._stream_arn
    audit_records = pump_of(own_cloud, "AuditMirrorFunction")
    audit_records.pump()
    contain = own_cloud.ensure("IncidentContainFunction")

    def described(function_arn: str, stream_arn: str, shard_id: str) -> str:
        batch = {"shardId": shard_id, "startSequenceNumber": "1" * 21, "endSequenceNumber": "1" * 21}
        return json.dumps(
            {"requestContext": {"functionArn": function_arn}, "DDBStreamBatchInfo": batch | {"streamArn": stream_arn}}
        )

    sqs = aws.client("sqs")
    for body in (
        described(contain.attributes["Arn"], stream, shard),  # another function of the stack
        described(
            requests.function_arn, audit_records._stream_arn, next(iter(audit_records._positions))
        ),  # other table
        described(requests.function_arn.replace("123456789012", "210987654321"), stream, shard),  # another account
    ):
        sqs.send_message(QueueUrl=queue("company-requests"), MessageBody=body)
    calls = []
    with stepfunctions.override(contain.physical_id, lambda event, context: calls.append(event)):
        assert ops.main(["redrive", "company-requests"]) == 1
    assert "3 for another function or stream (refused, left)" in capsys.readouterr().out
    assert calls == [] and len(waiting("company-requests")) >= 3


def job_failure(function_arn: str, payload) -> str:
    """What Lambda sends to an EventInvokeConfig's OnFailure queue once an asynchronous invocation has failed past
    its retries (the local cloud runs no asynchronous retries, so the test writes it as Lambda would)."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-12-05T03:00:02.000Z",
            "requestContext": {
                "requestId": str(uuid4()),
                "functionArn": function_arn,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "1", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "...", "errorType": "ServiceUnavailable"},
        }
    )


def test_a_scheduled_job_that_failed_past_its_retries_is_run_again_with_its_event(own_cloud, capsys):
    from infra import stepfunctions

    digests = own_cloud.ensure("AuditDigestFunction")
    ran = []
    real = stepfunctions.handler_for(digests.physical_id)

    def recorded(event, context):
        ran.append(event)
        return real(event, context)

    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=queue("jobs"), MessageBody=job_failure(digests.attributes["Alias"], {"tenant": "t-none"}))
    sqs.send_message(QueueUrl=queue("jobs"), MessageBody=job_failure(digests.attributes["Alias"], {"tenant": 5}))
    api = own_cloud.ensure("ApiFunction").attributes["Arn"]  # not a job: refused
    sqs.send_message(QueueUrl=queue("jobs"), MessageBody=job_failure(api, {"httpMethod": "DELETE"}))
    with stepfunctions.override(digests.physical_id, recorded):
        assert ops.main(["redrive", "jobs"]) == 1
    out = capsys.readouterr().out
    assert "jobs: 1 replayed, 1 failed again (left in the queue)" in out
    assert "1 for another function or stream (refused, left)" in out
    assert ran == [{"tenant": "t-none"}, {"tenant": 5}]
    assert len(waiting("jobs")) == 2


def expire(name: str) -> int:
    """Age every batch the queue describes past the stream's 24 hours: the stream no longer holds its records (here,
    as in the test above, sequence numbers past the stream's end). Answers how many."""
    sqs, taken = aws.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=queue(name), MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        taken += got  # hidden for a minute: each is received once
    for message in taken:
        body = json.loads(message["Body"])
        body["DDBStreamBatchInfo"] |= {"startSequenceNumber": "9" * 30, "endSequenceNumber": "9" * 30}
        body["requestContext"]["condition"] = "RecordAgeExceeded"
        sqs.send_message(QueueUrl=queue(name), MessageBody=json.dumps(body))
        sqs.delete_message(QueueUrl=queue(name), ReceiptHandle=message["ReceiptHandle"])
    return len(taken)


def unmirrored_events(own_cloud, misconfigured_bucket, count: int) -> tuple[str, list[dict], int]:
    """A company's events the mirror gave up on, the cause fixed a day too late: out of the stream, no copies. And
    how many batches the queue holds (the mirror may have given up on other tests' events too, under the same
    misconfigured bucket)."""
    pump = pump_of(own_cloud, "AuditMirrorFunction")
    pump.pump()
    tenant = "t-" + uuid4().hex[:12]
    events = [audit.record(tenant, "test.remirror", f"thing:{i}", actor="robot-1") for i in range(count)]
    pump.pump()
    misconfigured_bucket()
    aged = expire("audit-mirror")
    assert aged >= count
    return tenant, events, aged


def test_the_mirrors_batches_that_left_the_stream_are_copied_from_the_audit_table(
    own_cloud, misconfigured_bucket, capsys
):
    """The stream keeps records 24 hours, the failure queue 14 days: a mirror batch found after a day cannot be
    replayed from the stream, but its events are in the audit table. Until they are copied, the digest job signs
    nothing of the company past them; the redrive copies them (the chain verifying first) and the digests go on."""
    from protu.audit import digests

    tenant, events, aged = unmirrored_events(own_cloud, misconfigured_bucket, 3)
    assert digests.write_for(tenant) is None  # nothing to sign: no event has its Object-Lock copy

    assert ops.main(["redrive", "audit-mirror"]) == 0
    out = capsys.readouterr().out
    assert f"{aged} no longer in the stream, re-mirrored from the audit table" in out
    assert "0 companies whose chain does not verify" in out
    assert [versions(own_cloud, tenant, e["seq"]) for e in events] == [1, 1, 1]
    assert waiting("audit-mirror") == []
    assert digests.write_for(tenant)["last_seq"] == 3
    assert audit.verify(tenant).ok

    assert ops.main(["redrive", "audit-mirror"]) == 0  # nothing left; and nothing is written twice
    assert [versions(own_cloud, tenant, e["seq"]) for e in events] == [1, 1, 1]


def test_a_chain_that_does_not_verify_is_not_copied_and_its_batches_stay(own_cloud, misconfigured_bucket, capsys):
    """A copy is what nobody can change afterwards: an event rewritten in the table while it had none must not
    become one. The company's events stay without copies, its batches in the queue, and the command fails."""
    from protu.audit.chain import event_sk
    from protu.audit.models import AuditEvent, chain_pk

    tenant, events, aged = unmirrored_events(own_cloud, misconfigured_bucket, 2)
    edited = AuditEvent.get(chain_pk(tenant), event_sk(2), consistent_read=True)
    edited.update(actions=[AuditEvent.target.set("thing:forged")])
    try:
        assert ops.main(["redrive", "audit-mirror"]) == 1
        out = capsys.readouterr().out
        assert f"{aged} no longer in the stream (left)" in out and "1 companies whose chain does not verify" in out
        assert [versions(own_cloud, tenant, e["seq"]) for e in events] == [0, 0]
    finally:  # the chain, the stream and the queue as the other tests of the module expect them
        edited.update(actions=[AuditEvent.target.set("thing:1")])
        assert ops.main(["redrive", "audit-mirror"]) == 0
        pump_of(own_cloud, "AuditMirrorFunction").pump()  # the edits' own stream records
        capsys.readouterr()
    assert waiting("audit-mirror") == []
