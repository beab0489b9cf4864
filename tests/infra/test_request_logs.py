"""Request logs in front of Lambda, and a record of every read of a backup or an audit object (issue 19), held to
what the README promises: each log encrypted and kept a stated time, and none of them keeping a secret a request
carried (tokens, cookies, the origin secret) or an API search's terms."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra import template as tpl

ROOT = Path(__file__).resolve().parents[2]
SECRET_HEADERS = {"authorization", "cookie"}


@pytest.fixture(scope="module")
def main():
    return tpl.load()


@pytest.fixture(scope="module")
def edge():
    return tpl.load(ROOT / "edge.yaml")


def of_type(template, kind):
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == kind}


def logical(reference) -> str:
    """The resource named by a !GetAtt, or by the first ${...} of a !Sub."""
    if "Fn::GetAtt" in reference:
        target = reference["Fn::GetAtt"]
        return target[0] if isinstance(target, list) else target.split(".")[0]
    text = reference["Fn::Sub"] if isinstance(reference["Fn::Sub"], str) else reference["Fn::Sub"][0]
    return [n for n in re.findall(r"\$\{([^}.]+)", text) if not n.startswith("AWS::")][0]


def encrypted_and_kept(template, group: str, days: int) -> None:
    props = template["Resources"][group]["Properties"]
    assert props["RetentionInDays"] == days, group
    assert "Fn::GetAtt" in props["KmsKeyId"] and template["Resources"][logical(props["KmsKeyId"])]["Type"] == (
        "AWS::KMS::Key"
    ), group


def test_api_gateway_logs_each_request_as_json_without_headers_cookies_bodies_or_query_strings(main):
    api = main["Resources"]["ProtuApi"]["Properties"]
    setting = api["AccessLogSetting"]
    encrypted_and_kept(main, logical(setting["DestinationArn"]), 365)
    line = re.sub(r"\$context\.[\w.]+", "x", setting["Format"])
    fields = json.loads(line)  # one JSON object a request, every value a context variable
    assert {"requestId", "ip", "method", "resource", "path", "status", "waf"} <= set(fields)
    variables = re.findall(r"\$context\.([\w.]+)", setting["Format"])
    assert len(variables) == len(fields)
    # Nothing of what a request carries but its address, agent, method and path: no header, authorizer, body or
    # query string ($context.path holds none).
    for variable in variables:
        assert not re.search(r"header|authorizer|querystring|body|cookie|apiKey|requestOverride", variable), variable
    assert "$input" not in setting["Format"] and "$method" not in setting["Format"]
    account = of_type(main, "AWS::ApiGateway::Account")
    assert len(account) == 1  # API Gateway writes access logs through the account's CloudWatch role
    role = main["Resources"][logical(next(iter(account.values()))["Properties"]["CloudWatchRoleArn"])]
    assert any("AmazonAPIGatewayPushToCloudWatchLogs" in str(arn) for arn in role["Properties"]["ManagedPolicyArns"])


@pytest.mark.parametrize("which", ["main", "edge"])
def test_every_web_acl_logs_with_its_secret_headers_redacted(which, main, edge):
    template = {"main": main, "edge": edge}[which]
    acls = of_type(template, "AWS::WAFv2::WebACL")
    logging = of_type(template, "AWS::WAFv2::LoggingConfiguration").values()
    for name, acl in acls.items():
        found = [c["Properties"] for c in logging if logical(c["Properties"]["ResourceArn"]) == name]
        assert len(found) == 1, f"{name} logs nothing"
        redacted = {f["SingleHeader"]["Name"] for f in found[0]["RedactedFields"]}
        # Every header a rule of the ACL reads (x-origin-verify: the secret proving CloudFront sent the request).
        matched = set(re.findall(r"'SingleHeader': \{'Name': '([\w-]+)'\}", str(acl["Properties"]["Rules"])))
        assert SECRET_HEADERS | matched <= redacted, name
        group = logical(found[0]["LogDestinationConfigs"][0])
        assert template["Resources"][group]["Properties"]["LogGroupName"]["Fn::Sub"].startswith("aws-waf-logs-")
        encrypted_and_kept(template, group, 90)
    assert len(acls) == 1


def test_cloudfront_logs_leave_out_query_strings_and_cookies(edge, main):
    delivery = edge["Resources"]["CloudFrontLogDelivery"]
    fields = set(delivery["Properties"]["RecordFields"])
    assert {"c-ip", "cs-method", "cs-uri-stem", "sc-status", "x-edge-request-id"} <= fields
    assert not fields & {"cs-uri-query", "cs(Cookie)"}
    source = edge["Resources"]["CloudFrontLogSource"]["Properties"]
    assert source["LogType"] == "ACCESS_LOGS" and "${DistributionId}" in source["ResourceArn"]["Fn::Sub"]
    destination = edge["Resources"]["CloudFrontLogDestination"]["Properties"]
    encrypted_and_kept(edge, logical(destination["DestinationResourceArn"]), 90)
    assert main["Outputs"]["DistributionId"]["Value"] == {"Ref": "SpaDistribution"}
    # The SPA's links carry their tokens in the fragment, which no server sees.
    accounts = (ROOT / "layers/core/protu/identity/accounts.py").read_text()
    assert '#token={token}"' in accounts and "?token=" not in accounts


def test_every_read_of_a_backup_or_an_audit_object_leaves_a_record(main):
    trail = of_type(main, "AWS::CloudTrail::Trail")
    assert len(trail) == 1
    props = next(iter(trail.values()))["Properties"]
    assert props["IsLogging"] is True and props["EnableLogFileValidation"] is True
    assert logical(props["KMSKeyId"]) == "DataKey"
    selectors = props["AdvancedEventSelectors"]
    fields = {f["Field"]: f for selector in selectors for f in selector["FieldSelectors"]}
    assert fields["eventCategory"]["Equals"] == ["Data"]
    assert fields["resources.type"]["Equals"] == ["AWS::S3::Object"]
    assert "readOnly" not in fields  # reads and writes
    prefixes = {logical(arn) for arn in fields["resources.ARN"]["StartsWith"]}
    assert prefixes == {"AuditBucket", "BackupBucket"}
    bucket = main["Resources"][props["S3BucketName"]["Ref"]]["Properties"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 400
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption["SSEAlgorithm"] == "aws:kms"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    key = main["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"} for s in key)
