"""State machines run for real in the local cloud (``infra.stepfunctions``): moto executes the ASL, and each Lambda
task runs a Python handler in-process, registered for the function's name.

A synthetic template of this module's own (``LocalCloud(template=...)`` in the worker's moto) declares the functions,
a topic and state machines as the real template does (``DefinitionUri`` with ``DefinitionSubstitutions`` from
``!GetAtt Fn.Arn`` and ``!Ref Topic``, SAM policy templates); the tests register the handlers. Retry pauses are
real in moto (at least a second each), so the tests that retry more than once use ``quick_retries``.
"""

from __future__ import annotations

import json
import queue
import time
import uuid

import boto3
import pytest

from infra import stepfunctions
from infra.cloud import REGION, LocalCloud


class Boom(Exception):
    """A handler's own error: the state machine sees its class name."""


def _task(function: str, **extra) -> dict:
    return {"Type": "Task", "Resource": "${" + function + "}", **extra}


FLOW = {
    "Comment": "lambda:invoke -> a plain function ARN -> sns:publish, each output feeding the next",
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${WorkArn}", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Next": "AddOne",
        },
        "AddOne": _task("WorkArn", Parameters={"op": "add", "value.$": "$.value"}, Next="Announce"),
        "Announce": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "${TopicArn}", "Message.$": "States.Format('value {}', $.value)"},
            "ResultPath": "$.published",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

FLAKY = {
    "StartAt": "Try",
    "States": {
        "Try": _task(
            "FlakyArn",
            Retry=[{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}],
            Catch=[{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Fallback"}],
            Next="Done",
        ),
        "Fallback": {"Type": "Pass", "Result": "fell back", "ResultPath": "$.outcome", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}

TASK_FAILED = {
    "StartAt": "Try",
    "States": {
        "Try": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${FlakyArn}", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "End": True,
        }
    },
}

AWAIT = {
    "StartAt": "Approve",
    "States": {
        "Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "${AwaitArn}", "Payload": {"token.$": "$$.Task.Token", "ask.$": "$.ask"}},
            "ResultPath": "$.answer",
            "TimeoutSeconds": 60,
            "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Refused"}],
            "Next": "Approved",
        },
        "Approved": {"Type": "Succeed"},
        "Refused": {"Type": "Pass", "Result": True, "ResultPath": "$.refused", "End": True},
    },
}

INLINE = {
    "StartAt": "Classify",
    "States": {
        "Classify": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.severity", "StringEquals": "critical", "Next": "Contain"},
                {"Variable": "$.severity", "StringEquals": "high", "Next": "Alert"},
            ],
            "Default": "Note",
        },
        "Contain": {"Type": "Pass", "Result": "contained", "ResultPath": "$.path", "Next": "Deadline"},
        "Alert": {"Type": "Pass", "Result": "alerted", "ResultPath": "$.path", "Next": "Deadline"},
        "Note": {"Type": "Pass", "Result": "noted", "ResultPath": "$.path", "Next": "Deadline"},
        "Deadline": {"Type": "Wait", "TimestampPath": "$.deadline", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def _function(handler: str) -> dict:
    return {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "functions/none", "Handler": handler}}


def _machine(path, substitutions: dict, policies: list | None = None) -> dict:
    props = {"DefinitionUri": str(path), "DefinitionSubstitutions": substitutions}
    if policies:
        props["Policies"] = policies
    return {"Type": "AWS::Serverless::StateMachine", "Properties": props}


@pytest.fixture(scope="module")
def workflows(cloud, tmp_path_factory):
    """This module's stack: three functions, a KMS-encrypted topic, four state machines from ASL files (the way
    ``template.yaml`` declares them) and one inline."""
    folder = tmp_path_factory.mktemp("statemachines")
    for name, definition in {"flow": FLOW, "flaky": FLAKY, "task_failed": TASK_FAILED, "await": AWAIT}.items():
        (folder / f"{name}.asl.json").write_text(json.dumps(definition, indent=2))
    arn = {name: {"Fn::GetAtt": [name, "Arn"]} for name in ("WorkFunction", "FlakyFunction", "AwaitFunction")}
    template = {
        "Globals": {"Function": {"Runtime": "python3.12", "Timeout": 30}},
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "topic key"}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Ref": "Key"}}},
            "WorkFunction": _function("work.handler"),
            "FlakyFunction": _function("flaky.handler"),
            "AwaitFunction": _function("await_.handler"),
            "PagerFunction": _function("pager.handler"),
            "Pages": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-pages"}}},
            "PagerSubscription": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Pages"},
                    "Protocol": "lambda",
                    "Endpoint": {"Fn::GetAtt": ["PagerFunction", "Arn"]},
                },
            },
            "Flow": _machine(
                folder / "flow.asl.json",
                {"WorkArn": arn["WorkFunction"], "TopicArn": {"Ref": "Topic"}},
                [
                    {"LambdaInvokePolicy": {"FunctionName": {"Ref": "WorkFunction"}}},
                    {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
                ],
            ),
            "Flaky": _machine(folder / "flaky.asl.json", {"FlakyArn": arn["FlakyFunction"]}),
            "TaskFailed": _machine(folder / "task_failed.asl.json", {"FlakyArn": arn["FlakyFunction"]}),
            "Await": _machine(folder / "await.asl.json", {"AwaitArn": arn["AwaitFunction"]}),
            "Inline": {"Type": "AWS::Serverless::StateMachine", "Properties": {"Definition": INLINE}},
        },
    }
    return LocalCloud(stack=f"sfn-{uuid.uuid4().hex[:8]}", template=template).provision()


@pytest.fixture
def sfn(cloud):
    return boto3.session.Session(region_name=REGION).client("stepfunctions")


@pytest.fixture
def handlers(workflows):
    """Registers ``{logical id: handler}`` for one test; every call's event is recorded under the logical id."""
    calls: dict[str, list] = {}
    registered = []

    def register(logical_id: str, handler):
        name = workflows.physical_id(logical_id)

        def recording(event, context):
            calls.setdefault(logical_id, []).append(event)
            return handler(event, context)

        stepfunctions.register(name, recording)
        registered.append(name)

    register.calls = calls
    yield register
    for name in registered:
        stepfunctions.unregister(name)


def _work(event, context):
    if event.get("op") == "add":
        return {"value": event["value"] + 1}
    return {"value": event["value"] * 2}


def test_a_lambda_tasks_output_feeds_the_next_state_and_the_execution_succeeds(workflows, handlers):
    handlers("WorkFunction", _work)
    execution = stepfunctions.start(workflows.physical_id("Flow"), {"value": 20})

    done = stepfunctions.wait_for(execution, status="SUCCEEDED")

    assert done.output["value"] == 41
    assert done.output["published"]["MessageId"]
    assert done.entered == ["Double", "AddOne", "Announce", "Done"]
    assert handlers.calls["WorkFunction"] == [{"value": 20}, {"op": "add", "value": 40}]


def test_a_custom_exception_is_retried_then_caught_by_its_class_name(workflows, handlers):
    def flaky(event, context):
        raise Boom("the service is down")

    handlers("FlakyFunction", flaky)
    with stepfunctions.quick_retries():
        done = stepfunctions.wait_for(stepfunctions.start(workflows.physical_id("Flaky"), {"id": 7}))

    assert done.status == "SUCCEEDED"
    assert len(handlers.calls["FlakyFunction"]) == 3  # the first attempt and MaxAttempts retries
    assert done.output["outcome"] == "fell back"
    assert done.output["error"]["Error"] == "Boom"
    assert json.loads(done.output["error"]["Cause"])["errorMessage"] == "the service is down"
    assert done.entered == ["Try", "Fallback", "Done"]


def test_states_task_failed_matches_a_handlers_error_and_retry_intervals_really_pause(workflows, handlers):
    def flaky(event, context):
        raise Boom("always")

    handlers("FlakyFunction", flaky)
    started = time.monotonic()
    done = stepfunctions.wait_for(stepfunctions.start(workflows.physical_id("TaskFailed"), {}), status="FAILED")

    assert time.monotonic() - started >= 1  # IntervalSeconds: 1, slept for real
    assert len(handlers.calls["FlakyFunction"]) == 2
    assert done.error == "Boom"


def test_a_succeeding_handler_after_a_failure_ends_the_retries(workflows, handlers):
    def flaky(event, context):
        if len(handlers.calls["FlakyFunction"]) == 1:
            raise Boom("once")
        return {**event, "ok": True}

    handlers("FlakyFunction", flaky)
    with stepfunctions.quick_retries():
        done = stepfunctions.wait_for(stepfunctions.start(workflows.physical_id("Flaky"), {"id": 8}))

    assert done.status == "SUCCEEDED"
    assert done.output == {"id": 8, "ok": True}
    assert len(handlers.calls["FlakyFunction"]) == 2


def test_a_wait_for_task_token_task_pauses_until_the_token_comes_back(workflows, handlers, sfn):
    tokens: queue.Queue = queue.Queue()

    def ask(event, context):
        tokens.put(event["token"])
        return {"asked": True}

    handlers("AwaitFunction", ask)
    execution = stepfunctions.start(workflows.physical_id("Await"), {"ask": "remediate?"})

    token = tokens.get(timeout=10)
    waiting = stepfunctions.wait_for(execution, state="Approve", event="TaskSubmitted")
    assert waiting.status == "RUNNING"
    assert handlers.calls["AwaitFunction"] == [{"token": token, "ask": "remediate?"}]
    with pytest.raises(TimeoutError, match="RUNNING in state Approve"):
        stepfunctions.wait_for(execution, status="SUCCEEDED", timeout=0.5)  # it waits for the token

    sfn.send_task_success(taskToken=token, output=json.dumps({"by": "operator"}))

    done = stepfunctions.wait_for(execution, status="SUCCEEDED")
    assert done.output == {"ask": "remediate?", "answer": {"by": "operator"}}


def test_a_task_failure_sent_for_the_token_is_caught_by_its_error_name(workflows, handlers, sfn):
    tokens: queue.Queue = queue.Queue()
    handlers("AwaitFunction", lambda event, context: tokens.put(event["token"]))
    execution = stepfunctions.start(workflows.physical_id("Await"), {"ask": "close?"})

    sfn.send_task_failure(taskToken=tokens.get(timeout=10), error="Rejected", cause="not yet")

    done = stepfunctions.wait_for(execution, status="SUCCEEDED")
    assert done.entered == ["Approve", "Refused"]
    assert done.output["error"] == {"Error": "Rejected", "Cause": "not yet"}


@pytest.mark.parametrize(("severity", "path"), [("critical", "contained"), ("high", "alerted"), ("low", "noted")])
def test_a_choice_on_an_input_field_and_a_wait_until_a_past_timestamp(workflows, severity, path):
    started = time.monotonic()
    payload = {"severity": severity, "deadline": "2020-01-01T00:00:00Z"}
    done = stepfunctions.wait_for(stepfunctions.start(workflows.physical_id("Inline"), payload), status="SUCCEEDED")

    assert done.output["path"] == path
    assert done.entered[-2:] == ["Deadline", "Done"]
    assert time.monotonic() - started < 2  # the Wait proceeded at once


def test_a_function_is_invoked_directly_with_a_lambda_context(workflows, handlers):
    seen = {}

    def inspect(event, context):
        lam = boto3.session.Session(region_name=REGION).client("lambda")
        own = lam.get_function(FunctionName=context.function_name)
        seen.update(
            role=own["Configuration"]["Role"],  # the handler's own AWS calls reach the same moto
            name=context.function_name,
            arn=context.invoked_function_arn,
            remaining=context.get_remaining_time_in_millis(),
            request=context.aws_request_id,
        )
        if event.get("fail"):
            raise Boom("asked to")
        return {"echo": event}

    handlers("WorkFunction", inspect)
    lam = boto3.session.Session(region_name=REGION).client("lambda")
    name = workflows.physical_id("WorkFunction")

    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"x": 1}))
    assert json.loads(answer["Payload"].read()) == {"echo": {"x": 1}}
    assert "FunctionError" not in answer
    assert seen["name"] == name and seen["arn"] == workflows.resources["WorkFunction"].attributes["Arn"]
    assert 0 < seen["remaining"] <= 30_000 and seen["request"]
    assert seen["role"] == workflows.resources["WorkFunctionRole"].attributes["Arn"]

    failed = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Boom"


def test_a_topics_lambda_subscription_runs_the_handler(workflows, handlers):
    handlers("PagerFunction", lambda event, context: None)
    sns = boto3.session.Session(region_name=REGION).client("sns")
    assert workflows.physical_id("Pages").endswith(f":{workflows.stack}-pages")

    sns.publish(TopicArn=workflows.physical_id("Pages"), Message="incident i-1 is critical")

    (event,) = handlers.calls["PagerFunction"]
    assert event["Records"][0]["Sns"]["Message"] == "incident i-1 is critical"


def test_wait_for_says_where_an_execution_ended_instead(workflows, handlers):
    def fail(event, context):
        raise Boom("no")

    handlers("FlakyFunction", fail)
    with stepfunctions.quick_retries():
        execution = stepfunctions.start(workflows.physical_id("TaskFailed"), {})
        with pytest.raises(AssertionError, match=r"FAILED in state Try \(Boom"):
            stepfunctions.wait_for(execution, status="SUCCEEDED")


def test_the_synthetic_stack_is_provisioned_as_sam_would(workflows, sfn):
    aws = boto3.session.Session(region_name=REGION)
    flow = sfn.describe_state_machine(stateMachineArn=workflows.physical_id("Flow"))
    definition = json.loads(flow["definition"])
    work = workflows.resources["WorkFunction"].attributes["Arn"]
    assert definition["States"]["Double"]["Parameters"]["FunctionName"] == work
    assert definition["States"]["AddOne"]["Resource"] == work
    assert definition["States"]["Announce"]["Parameters"]["TopicArn"] == workflows.physical_id("Topic")
    assert flow["name"] == workflows.resources["Flow"].attributes["Name"]

    role = flow["roleArn"].rsplit("/", 1)[1]
    assert workflows.resources["FlowRole"].attributes["Arn"] == flow["roleArn"]
    iam = boto3.session.Session(region_name=REGION).client("iam")
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}
    documents = [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in ("inline-0", "inline-1")]
    assert documents[0]["Statement"][0]["Action"] == ["lambda:InvokeFunction"]
    assert documents[0]["Statement"][0]["Resource"] == [work + "*"]
    assert documents[1]["Statement"][0]["Resource"] == [workflows.physical_id("Topic")]

    topic = aws.client("sns").get_topic_attributes(TopicArn=workflows.physical_id("Topic"))["Attributes"]
    assert topic["KmsMasterKeyId"] == workflows.physical_id("Key")
    assert workflows.resources["Topic"].attributes["TopicName"] == workflows.physical_id("Topic").rsplit(":", 1)[1]


def test_every_state_machine_and_topic_of_the_template_exists_in_the_local_cloud(cloud, workflows, sfn):
    sns = boto3.session.Session(region_name=REGION).client("sns")
    checked = 0
    for stack in (cloud, workflows):
        for logical_id, spec in stack.template["Resources"].items():
            if spec["Type"] == "AWS::Serverless::StateMachine":
                described = sfn.describe_state_machine(stateMachineArn=stack.physical_id(logical_id))
                assert described["status"] == "ACTIVE"
                substitutions = spec["Properties"].get("DefinitionSubstitutions", {})
                assert not [name for name in substitutions if "${" + name + "}" in described["definition"]]
                checked += 1
            elif spec["Type"] == "AWS::SNS::Topic":
                sns.get_topic_attributes(TopicArn=stack.physical_id(logical_id))
                checked += 1
    assert checked >= 6


def test_a_placeholder_missing_from_the_substitutions_fails_provisioning(cloud, tmp_path):
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps({"StartAt": "A", "States": {"A": _task("Nowhere", End=True)}}))
    template = {"Resources": {"Broken": _machine(path, {"Elsewhere": "x"})}}
    with pytest.raises(ValueError, match=r"Broken: the definition names \['Nowhere'\]"):
        LocalCloud(stack=f"sfn-{uuid.uuid4().hex[:8]}", template=template).provision()
