"""template.yaml watches the system around the clock: alarms on what the product promises (API errors, Lambda errors
and throttles, DynamoDB throttles, backups and restore tests, incident workflows) all page the on-call topic, a
dashboard shows system health, and every function is deployed gradually, rolled back on those alarms."""

from __future__ import annotations

import json

import pytest

from infra import template as tpl


@pytest.fixture(scope="module")
def template():
    return tpl.load()


def of_type(template, kind: str) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def watched(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, plain or inside metric math."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], _dimensions(alarm.get("Dimensions", [])))]
    found = []
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.append((metric["Namespace"], metric["MetricName"], _dimensions(metric.get("Dimensions", []))))
    return found


def _dimensions(dimensions: list[dict]) -> dict:
    return {d["Name"]: d["Value"] for d in dimensions}


def alarms_on(template, namespace: str, metric: str) -> list[tuple[str, dict]]:
    return [
        (name, dims)
        for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items()
        for ns, found, dims in watched(alarm)
        if (ns, found) == (namespace, metric)
    ]


def test_every_alarm_pages_on_call_when_it_fires_and_when_it_clears(template):
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "OnCallTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "OnCallTopic"}], name
        assert alarm.get("AlarmDescription"), name


def test_alarms_watch_api_errors_lambda_errors_and_throttles(template):
    assert alarms_on(template, "AWS/ApiGateway", "5XXError") == [
        ("ApiServerErrorsAlarm", {"ApiName": {"Ref": "AWS::StackName"}, "Stage": "live"})
    ]
    assert [dims for _, dims in alarms_on(template, "AWS/Lambda", "Errors")] == [{}]  # every function
    assert [dims for _, dims in alarms_on(template, "AWS/Lambda", "Throttles")] == [{}]


def test_every_table_is_watched_for_read_and_write_throttles(template):
    tables = {*of_type(template, "AWS::DynamoDB::Table"), *of_type(template, "AWS::DynamoDB::GlobalTable")}
    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        covered = {dims["TableName"]["Ref"] for _, dims in alarms_on(template, "AWS/DynamoDB", metric)}
        assert covered == tables, metric


@pytest.mark.parametrize("job", ["backup", "restore-test"])
def test_a_failed_or_missing_backup_or_restore_test_pages_on_call(template, job):
    for metric in ("JobRuns", "JobFailures"):
        (found,) = [(n, d) for n, d in alarms_on(template, "Protu", metric) if d.get("Job") == job]
        name, dims = found
        assert dims == {"Service": "jobs", "Job": job}
    alarm = of_type(template, "AWS::CloudWatch::Alarm")[name]
    assert alarm["TreatMissingData"] == "breaching"  # a job that did not run at all is a failure too
    (period,) = {q["MetricStat"]["Period"] for q in alarm["Metrics"] if "MetricStat" in q}
    assert 86400 < period <= 2 * 86400  # a daily job, with slack for its schedule


def test_every_state_machine_is_watched_for_failed_executions(template):
    machines = set(of_type(template, "AWS::Serverless::StateMachine"))
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        covered = {dims["StateMachineArn"]["Ref"] for _, dims in alarms_on(template, "AWS/States", metric)}
        assert covered == machines, metric


def test_every_function_is_deployed_gradually_and_rolled_back_on_the_alarms(template):
    function_globals = template["Globals"]["Function"]
    assert function_globals["AutoPublishAlias"] == "live"
    preference = function_globals["DeploymentPreference"]
    assert preference["Type"].startswith(("Canary", "Linear"))
    guards = {ref["Ref"] for ref in preference["Alarms"]}
    assert guards <= set(of_type(template, "AWS::CloudWatch::Alarm"))
    assert {"ApiServerErrorsAlarm", "LambdaErrorsAlarm", "LambdaThrottlesAlarm"} <= guards
    for name, function in of_type(template, "AWS::Serverless::Function").items():
        assert "AutoPublishAlias" not in function and "DeploymentPreference" not in function, name  # no opt-out


def test_the_on_call_topics_key_lets_cloudwatch_publish(template):
    statements = template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    (alarms,) = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_dashboard_shows_every_alarm_and_the_products_metrics(cloud):
    import boto3

    from infra.cloud import REGION

    name = cloud.physical_id("HealthDashboard")
    body = json.loads(boto3.client("cloudwatch", region_name=REGION).get_dashboard(DashboardName=name)["DashboardBody"])
    widgets = body["widgets"]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    alarm_names = {arn.rsplit(":", 1)[1] for arn in alarm_widget["properties"]["alarms"]}
    assert alarm_names == {cloud.physical_id(a) for a in of_type(tpl.load(), "AWS::CloudWatch::Alarm")}
    shown = {tuple(row[:2]) for w in widgets if w["type"] == "metric" for row in expand(w["properties"]["metrics"])}
    protu = {metric for namespace, metric in shown if namespace == "Protu"}
    assert {"Requests", "Errors", "ClientErrors", "Latency", "SignIns", "SignInFailures", "Lockouts"} <= protu
    assert {"JobRuns", "JobFailures", "KmsCalls"} <= protu
    assert protu <= _emitted_metric_names()  # no graph of a metric nothing records


def expand(rows: list[list]) -> list[list]:
    """A dashboard's metric rows with their shorthand filled in: "." repeats the previous row's value at that
    place, "..." the previous row's namespace, name and dimensions; a trailing dict (rendering options) is dropped."""
    out: list[list] = []
    for row in rows:
        values = [v for v in row if not isinstance(v, dict)]
        if values[:1] == ["..."]:
            values = out[-1][:]
        else:
            values = [out[-1][n] if v == "." else v for n, v in enumerate(values)]
        out.append(values)
    return out


def test_the_local_cloud_holds_the_alarms_as_declared(cloud):
    import boto3

    from infra.cloud import REGION

    found = boto3.client("cloudwatch", region_name=REGION).describe_alarms(
        AlarmNames=[cloud.physical_id("ApiServerErrorsAlarm")]
    )
    (alarm,) = found["MetricAlarms"]
    assert alarm["MetricName"] == "5XXError" and alarm["AlarmActions"] == [cloud.physical_id("OnCallTopic")]


def test_blocked_request_spikes_on_the_apis_waf_page_on_call(template):
    (found,) = alarms_on(template, "AWS/WAFV2", "BlockedRequests")
    name, dims = found
    acl = template["Resources"]["ApiWebAcl"]["Properties"]
    assert dims == {"WebACL": acl["Name"], "Region": {"Ref": "AWS::Region"}, "Rule": "ALL"}
    assert acl["Scope"] == "REGIONAL"  # the edge ACL's own alarm is in edge.yaml (tests/infra/test_edge.py)


def _emitted_metric_names() -> set[str]:
    """Every metric name the code records: literal first arguments of metrics.count/timing/add, anywhere."""
    import pathlib
    import re

    root = pathlib.Path(tpl.__file__).resolve().parents[1]
    call = re.compile(r"\b(?:metrics\.)?(?:count|timing|add)\(\s*\"([A-Za-z]+)\"")
    sources = [*root.glob("layers/core/protu/**/*.py"), *root.glob("functions/**/*.py")]
    return {name for path in sources for name in call.findall(path.read_text())}


def test_alarms_read_only_metrics_the_code_emits(template):
    emitted = _emitted_metric_names()
    assert {"Requests", "Errors", "Latency", "JobRuns", "JobFailures", "KmsCalls"} <= emitted
    for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        for namespace, metric, _ in watched(alarm):
            assert namespace != "Protu" or metric in emitted, (name, metric)


def test_on_call_is_paged_at_the_endpoint_the_stack_is_given(template, cloud):
    from protu import aws

    subscription = template["Resources"]["OnCallSubscription"]
    assert subscription["Condition"] == "HasOnCall"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "OnCallTopic"},
        "Protocol": {"Ref": "OnCallProtocol"},
        "Endpoint": {"Ref": "OnCallEndpoint"},
    }
    assert template["Conditions"]["HasOnCall"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OnCallEndpoint"}, ""]}]}
    # Locally no endpoint is given, so (as CloudFormation would) the subscription is not created.
    assert not cloud.resources["OnCallSubscription"].created
    topic = cloud.physical_id("OnCallTopic")
    found = aws.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert {s["Protocol"] for s in found} <= {"sqs"}  # only the local pager's and tests' queues, no email nor https
