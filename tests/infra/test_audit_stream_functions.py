"""The audit-stream functions as the template declares them (issue 17): the stream job reads the audit table's new
events, the retry job runs every 5 minutes, and neither reaches company data but through the company's role."""

from __future__ import annotations

import json

import pytest

from infra import template as tpl
from tests.infra.test_template import _policies


@pytest.fixture(scope="module")
def template():
    return tpl.load()


def test_the_stream_job_takes_new_audit_events_and_bisects_failing_batches(template):
    function = template["Resources"]["AuditStreamFunction"]["Properties"]
    assert function["Handler"] == "jobs.audit_stream" and function["CodeUri"] == "functions/jobs"
    source = function["Events"]["AuditStream"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["AuditTable", "StreamArn"]}
    assert source["StartingPosition"] == "LATEST" and source["BisectBatchOnFunctionError"] is True
    assert 0 < source["MaximumRetryAttempts"] <= 10
    pattern = json.loads(source["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "E#"}]}}}}
    retry = template["Resources"]["AuditStreamRetryFunction"]["Properties"]
    assert retry["Handler"] == "jobs.audit_stream_retry"
    assert retry["Events"]["EveryFiveMinutes"]["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    for name in ("AuditStreamFunction", "AuditStreamRetryFunction"):  # a lease (330 s) outlives any run
        assert template["Resources"][name]["Properties"]["Timeout"] <= 300, name


def test_the_stream_jobs_reach_company_data_only_through_the_tenant_role(cloud):
    from infra.iam import allowed

    data = cloud.resources["DataTable"].attributes["Arn"]
    audit = cloud.resources["AuditTable"].attributes["Arn"]
    keys = cloud.resources["KeyTable"].attributes["Arn"]
    tenant_role = cloud.resources["TenantDataRole"].attributes["Arn"]
    data_key = cloud.resources["DataKey"].attributes["Arn"]
    stream, retry = _policies(cloud, "AuditStreamFunction"), _policies(cloud, "AuditStreamRetryFunction")
    for policies in (stream, retry):
        assert allowed(policies, "sts:AssumeRole", tenant_role) and allowed(policies, "sts:TagSession", tenant_role)
        assert allowed(policies, "kms:Decrypt", data_key)
        for action in ("kms:Encrypt", "kms:GenerateDataKey"):
            assert not allowed(policies, action, data_key), action
        for table in (data, audit, keys):
            for action in ("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "Scan"):
                company = {"dynamodb:LeadingKeys": ["T#acme#AUDITSTREAMS"]}
                assert not allowed(policies, f"dynamodb:{action}", table, company), (table, action)
    due = {"dynamodb:LeadingKeys": ["AUDITSTREAM#DUE"]}
    assert allowed(retry, "dynamodb:Query", f"{data}/index/gsi1", due)
    assert not allowed(stream, "dynamodb:Query", f"{data}/index/gsi1", due)
    assert not allowed(retry, "dynamodb:Query", f"{data}/index/gsi1", {"dynamodb:LeadingKeys": ["INCIDENTS"]})
    assert not allowed(retry, "dynamodb:Query", data, due)  # the index only, not the table
    mailgun = cloud.resources["MailgunKeys"].physical_id
    assert allowed(retry, "secretsmanager:GetSecretValue", mailgun)  # a stream failed for a day: owners are told
    assert not allowed(stream, "secretsmanager:GetSecretValue", mailgun)


def test_every_audit_stream_function_has_its_encrypted_log_group(template):
    groups = {
        spec["Properties"]["LogGroupName"]["Fn::Sub"]: spec["Properties"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Logs::LogGroup"
    }
    for name in ("AuditStreamFunction", "AuditStreamRetryFunction"):
        group = groups[f"/aws/lambda/${{{name}}}"]
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]} and group["RetentionInDays"] == 365
