"""template.yaml is the one definition of the cloud: it lints clean and keeps the properties the product promises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from protu.store.base import UNSCOPED_PREFIXES

from infra import template as tpl

ROOT = Path(__file__).resolve().parents[2]
NO_RESOURCE_LEVEL = {"dynamodb:ListBackups"}  # IAM's service reference: no resource types for these actions


@pytest.fixture(scope="module")
def template():
    return tpl.load()


def resources(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_reports_no_errors():
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(ROOT / "template.yaml", config=ManualArgs(regions=["eu-central-1"]))
    problems = [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches if m.rule.id.startswith("E")]
    assert problems == []


def test_deploys_to_eu_central_1():
    config = (ROOT / "samconfig.toml").read_text()
    assert 'region = "eu-central-1"' in config


def test_functions_run_python_3_12_and_point_at_real_handlers(template):
    runtime = template["Globals"]["Function"]["Runtime"]
    assert runtime == "python3.12"
    functions = resources(template, "AWS::Serverless::Function")
    assert {"ApiFunction", "WebhooksFunction"} <= set(functions)
    for name, spec in functions.items():
        props = spec["Properties"]
        module, attribute = props["Handler"].rsplit(".", 1)
        source = ROOT / props["CodeUri"] / f"{module}.py"
        assert source.is_file(), name
        assert f"def {attribute}(" in source.read_text() or f"{attribute} = " in source.read_text(), name


def test_api_routes_reach_the_functions_through_proxy_resources(template):
    events = {
        name: spec["Properties"]["Events"]["Proxy"]["Properties"]
        for name, spec in resources(template, "AWS::Serverless::Function").items()
        if "Proxy" in spec["Properties"].get("Events", {})
    }
    assert events["ApiFunction"]["Path"] == "/api/{proxy+}"
    assert events["WebhooksFunction"]["Path"] == "/webhooks/{proxy+}"


def test_function_policies_are_least_privilege(template):
    for name, spec in resources(template, "AWS::Serverless::Function").items():
        for policy in spec["Properties"]["Policies"]:
            for statement in policy["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in action for action in actions), (name, actions)
                if statement["Resource"] == "*":  # only for actions IAM cannot scope to a resource
                    assert set(actions) <= NO_RESOURCE_LEVEL, (name, actions)


def test_audit_events_cannot_be_deleted_by_the_functions(template):
    for name, spec in resources(template, "AWS::Serverless::Function").items():
        for policy in spec["Properties"]["Policies"]:
            for statement in policy["Statement"]:
                if statement.get("Resource") == {"Fn::GetAtt": ["AuditTable", "Arn"]}:
                    assert "dynamodb:DeleteItem" not in statement["Action"], name


def test_every_bucket_refuses_plain_http_and_old_tls(template):
    policies = {
        spec["Properties"]["Bucket"]["Ref"]: spec for spec in resources(template, "AWS::S3::BucketPolicy").values()
    }
    for bucket in resources(template, "AWS::S3::Bucket"):
        statements = policies[bucket]["Properties"]["PolicyDocument"]["Statement"]
        conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": "1.2"}} in conditions


def test_log_groups_are_encrypted_for_every_function(template):
    groups = resources(template, "AWS::Logs::LogGroup")
    for name, group in groups.items():  # every log group: encrypted with the stack's key, and kept a stated time
        assert group["Properties"].get("KmsKeyId") == {"Fn::GetAtt": ["DataKey", "Arn"]}, name
        assert group["Properties"].get("RetentionInDays") in (90, 365), name
    named = [g["Properties"].get("LogGroupName", {}) for g in groups.values()]
    functions = {n["Fn::Sub"].removeprefix("/aws/lambda/${").rstrip("}") for n in named if "/aws/lambda/" in str(n)}
    assert set(resources(template, "AWS::Serverless::Function")) <= functions


def test_the_template_holds_no_local_only_route():
    assert "_local" not in (ROOT / "template.yaml").read_text()


def test_the_core_layer_ships_the_protu_package(template):
    layer = template["Resources"]["CoreLayer"]["Properties"]
    assert (ROOT / layer["ContentUri"] / "protu" / "__init__.py").is_file()
    assert importlib.util.find_spec("protu") is not None


def test_mail_settings_come_from_parameters_and_the_mailgun_secret(template):
    import re

    parameters = template["Parameters"]
    base = parameters["MailgunApiBase"]
    assert base["Default"] == "https://api.eu.mailgun.net/v3"  # the EU region keeps mail data in the EU
    assert re.fullmatch(base["AllowedPattern"], base["Default"])
    assert not re.fullmatch(base["AllowedPattern"], "http://api.eu.mailgun.net/v3")  # HTTPS only
    assert parameters["MailgunDomain"]["Default"] == "mg.protu.io"
    assert re.fullmatch(parameters["MailFrom"]["AllowedPattern"], parameters["MailFrom"]["Default"])
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MAILGUN_API_BASE"] == {"Ref": "MailgunApiBase"}
    assert variables["MAILGUN_DOMAIN"] == {"Ref": "MailgunDomain"}
    assert variables["MAIL_FROM"] == {"Ref": "MailFrom"}
    assert variables["MAILGUN_SECRET_ID"] == {"Ref": "MailgunKeys"}
    settings_source = (ROOT / "layers" / "core" / "protu" / "settings.py").read_text()
    for name in ("MAILGUN_API_BASE", "MAILGUN_DOMAIN", "MAIL_FROM", "MAILGUN_SECRET_ID"):
        assert f'"{name}"' in settings_source, name


def test_the_mailgun_keys_are_a_kms_encrypted_secret_with_a_placeholder(template):
    import json

    secret = template["Resources"]["MailgunKeys"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    props = secret["Properties"]
    assert props["KmsKeyId"] == {"Ref": "DataKey"}
    generated = props["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "api_key"  # a random placeholder until the operator sets the real key
    assert json.loads(generated["SecretStringTemplate"]) == {"webhook_signing_key": ""}
    assert "SecretString" not in props  # no key material in the template


def test_only_the_functions_that_send_mail_read_the_mailgun_keys(template):
    readers = set()
    for name, spec in resources(template, "AWS::Serverless::Function").items():
        statements = [s for policy in spec["Properties"]["Policies"] for s in policy["Statement"]]
        for statement in statements:
            if statement["Resource"] == {"Ref": "MailgunKeys"}:
                assert statement["Action"] == ["secretsmanager:GetSecretValue"], name
                readers.add(name)
        if name in readers:  # the secret is encrypted with DataKey: its readers need kms:Decrypt on it
            assert any(
                "kms:Decrypt" in s["Action"] and s["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]} for s in statements
            ), name
    assert readers == {
        "ApiFunction",
        "WebhooksFunction",
        "IncidentNotifyFunction",
        "IncidentStepFunction",  # an incident's closing update to the owners told
        "MailFunction",
        "AuditStreamRetryFunction",  # an audit stream failed for a day: the owners are told
    }


def test_the_webhooks_function_decrypts_only_through_secrets_manager(template):
    statements = template["Resources"]["WebhooksFunction"]["Properties"]["Policies"][0]["Statement"]
    [decrypt] = [s for s in statements if "kms:Decrypt" in s["Action"]]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }


# ------------------------------------------------------------------------------------------------ tenant fence
def test_every_function_that_reaches_the_data_table_lists_the_same_unscoped_prefixes(template):
    wanted = [f"{prefix}*" for prefix in UNSCOPED_PREFIXES]
    role = template["Resources"]["TenantDataRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert role["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"][2:] == wanted
    for name in ("ApiFunction", "WebhooksFunction"):
        statements = template["Resources"][name]["Properties"]["Policies"][0]["Statement"]
        unscoped = next(s for s in statements if s["Sid"] == "UnscopedIndexes")
        assert unscoped["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == wanted, name
        for statement in statements:  # nothing else of theirs reaches the data, audit or key tables
            if statement is not unscoped and any(a.startswith("dynamodb:") for a in statement["Action"]):
                assert statement["Action"] == ["dynamodb:DescribeTable"], (name, statement["Sid"])


def _policies(cloud, logical_id: str) -> list[dict]:
    """The role's inline policies exactly as the template resolves them (provisioned into the local cloud)."""
    import boto3

    iam = boto3.client("iam", region_name="eu-central-1")
    resource = cloud.resources[logical_id]
    role = resource.attributes.get("RoleArn", resource.attributes["Arn"]).rsplit("/", 1)[1]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return [iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]


ITEM_ACTIONS = ["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "BatchGetItem"]


def test_the_api_role_reaches_company_items_only_through_the_tenant_role(cloud):
    from infra.iam import allowed

    api = _policies(cloud, "ApiFunction")
    tables = {name: cloud.resources[name].attributes["Arn"] for name in ("DataTable", "AuditTable", "KeyTable")}
    for action in ITEM_ACTIONS:
        for table, arn in tables.items():
            for key in ("T#acme", "T#acme#ROLE", "T#acme#USERS"):
                assert not allowed(api, f"dynamodb:{action}", arn, {"dynamodb:LeadingKeys": [key]}), (table, action)
        assert not allowed(api, "dynamodb:Scan", tables["DataTable"])
    for prefix in UNSCOPED_PREFIXES:
        assert allowed(api, "dynamodb:GetItem", tables["DataTable"], {"dynamodb:LeadingKeys": [f"{prefix}x"]}), prefix
    assert not allowed(api, "dynamodb:GetItem", tables["DataTable"], {"dynamodb:LeadingKeys": ["OTHER#x"]})
    tenant_role = cloud.resources["TenantDataRole"].attributes["Arn"]
    assert allowed(api, "sts:AssumeRole", tenant_role) and allowed(api, "sts:TagSession", tenant_role)
    assert not allowed(api, "sts:AssumeRole", cloud.resources["DataKey"].attributes["Arn"])


def test_the_tenant_role_reaches_only_the_tagged_companys_leading_keys(cloud, template):
    from infra.iam import allowed

    role = _policies(cloud, "TenantDataRole")
    tag = {"aws:PrincipalTag/tenant": "acme"}
    data = cloud.resources["DataTable"].attributes["Arn"]
    audit = cloud.resources["AuditTable"].attributes["Arn"]

    def may(action: str, table: str, *keys: str, variables=tag) -> bool:
        return allowed(role, f"dynamodb:{action}", table, {"dynamodb:LeadingKeys": list(keys)}, variables)

    assert may("Query", data, "T#acme#ROLE") and may("PutItem", data, "T#acme") and may("GetItem", audit, "T#acme")
    for prefix in UNSCOPED_PREFIXES:  # no company data, written in the same transactions as company items
        assert may("UpdateItem", data, f"{prefix}x"), prefix
    assert not may("GetItem", data, "T#globex#ROLE") and not may("GetItem", audit, "T#globex")
    assert not may("GetItem", data, "T#acmecorp#ROLE")  # a longer id that starts the same is another company
    assert not may("BatchGetItem", data, "T#acme#ROLE", "T#globex#ROLE")  # every key must be the company's
    assert not may("DeleteItem", audit, "T#acme")  # the audit log is append-only for this role too
    assert not may("Scan", data)
    assert not may("GetItem", data, "T#acme#ROLE", variables={})  # a session without the tag reaches nothing
    trust = template["Resources"]["TenantDataRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringLike"] == {"aws:RequestTag/tenant": "?*"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["TENANT_ROLE_ARN"] == {"Fn::GetAtt": ["TenantDataRole", "Arn"]}


def test_the_backup_jobs_read_the_live_tables_and_write_only_backups_and_scratch_tables(cloud):
    from infra.iam import allowed

    data = cloud.resources["DataTable"].attributes["Arn"]
    backup_job = _policies(cloud, "BackupFunction")
    restore_job = _policies(cloud, "RestoreTestFunction")
    assert allowed(backup_job, "dynamodb:Scan", data) and allowed(backup_job, "dynamodb:CreateBackup", data)
    company = {"dynamodb:LeadingKeys": ["T#acme#ROLE"]}
    for action in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "DeleteTable"):
        assert not allowed(backup_job, f"dynamodb:{action}", data, company), action
        assert not allowed(restore_job, f"dynamodb:{action}", data, company), action
    scratch = f"{data}-restore-test-1a2b3c4d"
    for action in ("CreateTable", "BatchWriteItem", "Scan", "DeleteTable"):
        assert allowed(restore_job, f"dynamodb:{action}", scratch), action
    keys = cloud.resources["KeyTable"].attributes["Arn"]
    assert not allowed(backup_job, "dynamodb:Scan", keys)  # exports never hold the keys (crypto-shredding)


def test_the_retention_job_may_delete_only_from_partitions_whose_items_expire(cloud):
    from infra.iam import allowed

    job = _policies(cloud, "RetentionFunction")
    data = cloud.resources["DataTable"].attributes["Arn"]

    def may_delete(*keys: str) -> bool:
        return allowed(job, "dynamodb:BatchWriteItem", data, {"dynamodb:LeadingKeys": list(keys)})

    assert may_delete("T#acme#USER#u-1#SESSIONS", "TOKEN#abc", "RL#login#x", "T#acme#ACCESS_HOURS")
    for key in ("T#acme#CAND", "T#acme#USERS", "T#acme#COMPANY", "EMAIL#a@b.c", "SUPPRESS#a@b.c", "T#acme"):
        assert not may_delete(key), key
    assert not may_delete("TOKEN#abc", "T#acme#CAND")  # one company record in a batch refuses the batch
    audit_table = cloud.resources["AuditTable"].attributes["Arn"]
    assert not allowed(job, "dynamodb:BatchWriteItem", audit_table, {"dynamodb:LeadingKeys": ["T#acme"]})


def test_the_company_requests_job_acts_for_a_company_only_through_the_tenant_role(cloud, template):
    from infra.iam import allowed

    job = _policies(cloud, "CompanyRequestsFunction")
    data = cloud.resources["DataTable"].attributes["Arn"]
    bucket = cloud.resources["BackupBucket"].attributes["Arn"]
    for action in ("GetItem", "Query", "DeleteItem", "BatchWriteItem"):
        assert not allowed(job, f"dynamodb:{action}", data, {"dynamodb:LeadingKeys": ["T#acme#CAND"]}), action
    assert not allowed(job, "dynamodb:Scan", data)
    assert allowed(job, "sts:AssumeRole", cloud.resources["TenantDataRole"].attributes["Arn"])
    assert allowed(job, "s3:PutObject", f"{bucket}/exports/c-1/exp-1.zip")
    for key in ("backups/2026-01-01/manifest.json", "exports/c-1/exp-1.zip"):
        assert not allowed(job, "s3:GetObject", f"{bucket}/{key}"), key  # it writes archives, reads nothing back
    events = template["Resources"]["CompanyRequestsFunction"]["Properties"]["Events"]["Requests"]["Properties"]
    assert events["Stream"] == {"Fn::GetAtt": ["DataTable", "StreamArn"]}
    pattern = __import__("json").loads(events["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {
            "Keys": {"sk": {"S": [{"prefix": "EXPORT#"}, {"prefix": "ERASURE#"}, {"prefix": "AUDITEXPORT#"}]}}
        },
    }
    # an audit export asks the digest function for a digest, and reads the digests: it signs nothing itself
    audit_bucket = cloud.resources["AuditBucket"].attributes["Arn"]
    digest_function = cloud.resources["AuditDigestFunction"].attributes["Arn"]
    assert allowed(job, "lambda:InvokeFunction", digest_function)
    assert allowed(job, "s3:GetObject", f"{audit_bucket}/digests/c-1/000000000001.json")
    assert not allowed(job, "s3:GetObject", f"{audit_bucket}/audit/c-1/000000000001.json")
    assert not allowed(job, "kms:Sign", cloud.resources["AuditSigningKey"].attributes["Arn"])
    api = _policies(cloud, "ApiFunction")  # the API signs the download URL: archives only, never the backups
    assert allowed(api, "s3:GetObject", f"{bucket}/exports/c-1/exp-1.zip")
    assert not allowed(api, "s3:GetObject", f"{bucket}/backups/2026-01-01/manifest.json")


def test_the_tenant_role_may_destroy_its_own_companys_keys_only(cloud):
    from infra.iam import allowed

    role = _policies(cloud, "TenantDataRole")
    keys = cloud.resources["KeyTable"].attributes["Arn"]
    tag = {"aws:PrincipalTag/tenant": "acme"}
    for action in ("DeleteItem", "BatchWriteItem"):
        assert allowed(role, f"dynamodb:{action}", keys, {"dynamodb:LeadingKeys": ["T#acme"]}, tag), action
        assert not allowed(role, f"dynamodb:{action}", keys, {"dynamodb:LeadingKeys": ["T#globex"]}, tag), action


def test_backups_replicate_to_a_second_eu_region_and_company_exports_do_not(template):
    import re

    bucket = template["Resources"]["BackupBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}  # S3 replication needs it
    rule = bucket["ReplicationConfiguration"]["Rules"][0]
    assert len(bucket["ReplicationConfiguration"]["Rules"]) == 1 and rule["Status"] == "Enabled"
    assert rule["Filter"] == {"Prefix": "backups/"}  # the exports, in clear for 7 days, stay in one place
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": {"Ref": "BackupReplicaKeyArn"}}
    pattern = re.compile(template["Parameters"]["BackupReplicaKeyArn"]["AllowedPattern"])
    assert pattern.match("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    for region in ("eu-central-1", "us-east-1", "eu-west-2", "eu-central-2"):  # same region, or outside the EU
        assert not pattern.match(f"arn:aws:kms:{region}:123456789012:key/1234abcd"), region
    role = template["Resources"]["BackupReplicationRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    writes = next(s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if s["Sid"] == "WriteReplica")
    assert writes["Action"] == ["s3:ReplicateObject", "s3:ReplicateTags"]  # deletions are not replicated


def test_the_api_role_may_ask_everything_health_checks_and_read_no_backup(cloud):
    from infra.iam import allowed

    api = _policies(cloud, "ApiFunction")
    for table in ("DataTable", "KeyTable", "AuditTable"):
        assert allowed(api, "dynamodb:DescribeTable", cloud.resources[table].attributes["Arn"]), table
    assert allowed(api, "kms:DescribeKey", cloud.resources["DataKey"].attributes["Arn"])
    bucket = cloud.resources["BackupBucket"].attributes["Arn"]
    for job in ("backup", "restore-test"):
        assert allowed(api, "s3:GetObject", f"{bucket}/backups/status/{job}.json"), job
    assert not allowed(api, "s3:GetObject", f"{bucket}/backups/2026-11-27/manifest.json")  # backups stay out of reach
    assert not allowed(api, "s3:PutObject", f"{bucket}/backups/status/backup.json")
    machine = cloud.resources["IncidentStateMachine"].physical_id
    assert allowed(api, "states:DescribeStateMachine", machine)
    assert not allowed(api, "states:StartExecution", machine)


def _logical(reference) -> str:
    target = reference["Fn::GetAtt"]
    return target[0] if isinstance(target, list) else target.split(".")[0]


def _paged(template, queue: str) -> bool:
    """An alarm on the queue's visible messages pages on-call as soon as one is there."""
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        dimensions = props.get("Dimensions", [])
        if (
            props.get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and any(_logical(d["Value"]) == queue for d in dimensions if isinstance(d["Value"], dict))
            and props["Threshold"] == 0
            and props["ComparisonOperator"] == "GreaterThanThreshold"
            and {"Ref": "OnCallTopic"} in props["AlarmActions"]
        ):
            return True
    return False


def _kept_and_encrypted(template, queue: str) -> bool:
    props = template["Resources"][queue]["Properties"]
    encrypted = props.get("KmsMasterKeyId") == {"Ref": "DataKey"} or props.get("SqsManagedSseEnabled") is True
    return props.get("MessageRetentionPeriod") == 1209600 and encrypted


# The kinds of SAM event source, by who sees a failure past the retries: each of the rules below judges one kind.
STREAMS = {"DynamoDB", "Kinesis"}  # an OnFailure queue of the event source mapping
ASYNCHRONOUS = {"Schedule", "ScheduleV2", "SNS", "S3", "EventBridgeRule", "CloudWatchEvent", "CloudWatchLogs"}
ASYNCHRONOUS |= {"IoTRule"}  # an EventInvokeConfig with an OnFailure queue
QUEUES = {"SQS"}  # the queue's own dead-letter queue
SYNCHRONOUS = {"Api", "HttpApi"}  # the caller gets the error


def test_every_stream_event_source_keeps_what_it_gives_up_on(template):
    """Retries and record age bounded, bisection on, and an OnFailure queue that is kept 14 days, encrypted, paged
    on and named for protu-ops redrive: a stream source without one is refused here."""
    failure_queues = template["Globals"]["Function"]["Environment"]["Variables"]["FAILURE_QUEUES"]["Fn::Sub"]
    sources = 0
    for name, function in resources(template, "AWS::Serverless::Function").items():
        for event_name, event in (function["Properties"].get("Events") or {}).items():
            if event["Type"] not in STREAMS:
                continue
            sources += 1
            where = f"{name}.{event_name}"
            props = event["Properties"]
            assert props.get("BisectBatchOnFunctionError") is True, where
            assert 0 <= props.get("MaximumRetryAttempts", -1) <= 10, where
            # Bounded, and well inside the stream's 24 hours: the redrive reads the records from the stream.
            assert 60 <= props.get("MaximumRecordAgeInSeconds", -1) <= 6 * 3600, where
            failure = props.get("DestinationConfig", {}).get("OnFailure", {})
            assert failure.get("Type") == "SQS", f"{where} has no on-failure queue"
            queue = _logical(failure["Destination"])
            assert template["Resources"][queue]["Type"] == "AWS::SQS::Queue", where
            assert _kept_and_encrypted(template, queue), queue
            assert _paged(template, queue), f"no alarm pages on-call for {queue}"
            assert f'"${{{queue}}}"' in failure_queues, f"FAILURE_QUEUES does not name {queue}"
    assert sources == 4


def test_every_asynchronously_invoked_function_keeps_what_fails_past_its_retries(template):
    """Scheduled functions are invoked asynchronously: an EventInvokeConfig sends what fails past Lambda's retries
    to a queue that is kept 14 days, encrypted, paged on and named for protu-ops redrive."""
    failure_queues = template["Globals"]["Function"]["Environment"]["Variables"]["FAILURE_QUEUES"]["Fn::Sub"]
    functions = 0
    for name, function in resources(template, "AWS::Serverless::Function").items():
        events = (function["Properties"].get("Events") or {}).values()
        if not any(event["Type"] in ASYNCHRONOUS for event in events):
            continue
        functions += 1
        config = function["Properties"].get("EventInvokeConfig", {})
        assert 0 <= config.get("MaximumRetryAttempts", -1) <= 2, name
        assert 60 <= config.get("MaximumEventAgeInSeconds", -1) <= 6 * 3600, name
        failure = config.get("DestinationConfig", {}).get("OnFailure", {})
        assert failure.get("Type") == "SQS", f"{name} has no on-failure queue"
        queue = _logical(failure["Destination"])
        assert _kept_and_encrypted(template, queue) and _paged(template, queue), queue
        assert f'"${{{queue}}}"' in failure_queues, f"FAILURE_QUEUES does not name {queue}"
    # the backup, the restore test, retention, the audit digests, the audit streams' retries, key rotation, the DR drill
    assert functions == 7


def test_every_queue_event_source_has_a_dead_letter_queue_that_pages(template):
    sources = 0
    for name, function in resources(template, "AWS::Serverless::Function").items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] != "SQS":
                continue
            sources += 1
            queue = template["Resources"][_logical(event["Properties"]["Queue"])]["Properties"]
            dead = _logical(queue["RedrivePolicy"]["deadLetterTargetArn"])
            assert 1 <= queue["RedrivePolicy"]["maxReceiveCount"] <= 10, name
            assert _kept_and_encrypted(template, dead) and _paged(template, dead), dead
    assert sources >= 1


# Resources that invoke a function by themselves, outside the functions' Events and EventInvokeConfig (which the rules
# above judge): none may, but a service given lambda:InvokeFunction here that calls and waits for the answer.
RAW_SOURCES = {"AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig", "AWS::Pipes::Pipe"}
INVOKERS = {"AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::SNS::Subscription", "AWS::SNS::Topic"}
INVOKERS |= {"AWS::S3::Bucket", "AWS::Logs::SubscriptionFilter", "AWS::IoT::TopicRule"}
# Secrets Manager runs each rotation step and waits for it; a failed step leaves the rotation pending (AWSPENDING).
WAITING_CALLERS = {"secretsmanager.amazonaws.com"}


def _names_a_function(value, functions) -> bool:
    if isinstance(value, dict):
        if "Ref" in value or "Fn::GetAtt" in value:
            target = value.get("Ref") or value["Fn::GetAtt"]
            return (target[0] if isinstance(target, list) else target.split(".")[0]) in functions
        if isinstance(value.get("Fn::Sub"), str):
            return any(f"${{{name}" in value["Fn::Sub"] for name in functions)
        return any(_names_a_function(v, functions) for v in value.values())
    if isinstance(value, list):
        return any(_names_a_function(v, functions) for v in value)
    return False


def event_sources_no_rule_judges(template) -> list[str]:
    """What could invoke a function, lose what failed and go unseen by the rules above: an event of a kind none of
    them judges, or an event source declared beside the functions instead of in their Events."""
    functions = set(resources(template, "AWS::Serverless::Function"))
    found = []
    for name in sorted(functions):
        for event_name, event in (template["Resources"][name]["Properties"].get("Events") or {}).items():
            if event["Type"] not in STREAMS | ASYNCHRONOUS | QUEUES | SYNCHRONOUS:
                found.append(f"{name}.{event_name}: {event['Type']}")
    for name, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind in RAW_SOURCES or (kind in INVOKERS and _names_a_function(props, functions)):
            found.append(f"{name}: {kind}")
        elif kind == "AWS::Lambda::Permission" and props.get("Principal") not in WAITING_CALLERS:
            found.append(f"{name}: {kind} for {props.get('Principal')}")
    return found


def test_no_event_source_escapes_the_failure_destination_rules(template):
    """Issue 19: "a template test refuses an event source without a destination", whichever way it is declared."""
    assert event_sources_no_rule_judges(template) == []


def test_an_event_source_the_rules_would_not_judge_is_named(template):
    import copy

    changed = copy.deepcopy(template)
    mirror = changed["Resources"]["AuditMirrorFunction"]["Properties"]["Events"]
    mirror["Kafka"] = {"Type": "MSK", "Properties": {"Stream": "arn:aws:kafka:eu-central-1:1:cluster/x"}}
    backup = {"Fn::GetAtt": ["BackupFunction", "Arn"]}
    changed["Resources"] |= {
        "RawMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {"FunctionName": backup}},
        "NightlyRule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Id": "b", "Arn": backup}]}},
        "LoggedBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"NotificationConfiguration": {"LambdaConfigurations": [{"Function": backup}]}},
        },
        "BucketMayInvoke": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"FunctionName": backup, "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"},
        },
    }
    assert event_sources_no_rule_judges(changed) == [
        "AuditMirrorFunction.Kafka: MSK",
        "RawMapping: AWS::Lambda::EventSourceMapping",
        "NightlyRule: AWS::Events::Rule",
        "LoggedBucket: AWS::S3::Bucket",
        "BucketMayInvoke: AWS::Lambda::Permission for s3.amazonaws.com",
    ]


def test_every_checkov_skip_says_why_in_one_line(template):
    """make lint's checkov (infra/checkov.py): a finding that stays is skipped next to its resource, or for every
    function in the template's Metadata, each with its reason; nothing is skipped without one."""
    import re

    skips = [
        (name, s)
        for name, r in template["Resources"].items()
        for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    skips += [("functions", s) for s in template["Metadata"]["checkov"]["functions"]]
    assert skips
    for where, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), where
        assert 20 <= len(skip["comment"]) <= 200 and "\n" not in skip["comment"], (where, skip["id"])
    assert len({(where, skip["id"]) for where, skip in skips}) == len(skips)
