"""The local cloud is provisioned from template.yaml with the settings the template declares."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from infra.cloud import NOT_CREATED


@pytest.fixture(scope="module")
def aws(cloud):
    session = boto3.session.Session(region_name="eu-central-1")
    return lambda service: session.client(service)


def test_every_resource_is_created_or_served_locally(cloud):
    for logical_id, spec in cloud.template["Resources"].items():
        resource = cloud.resources[logical_id]
        skipped = "Condition" in spec and not cloud.resolver.condition(spec["Condition"])  # as CloudFormation does
        assert resource.created or spec["Type"] in NOT_CREATED or skipped, logical_id


def test_kms_key_rotates(cloud, aws):
    key_id = cloud.physical_id("DataKey")
    assert aws("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    aliases = aws("kms").list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/protu-local-data"]


@pytest.mark.parametrize("table", ["DataTable", "AuditTable", "KeyTable"])
def test_tables_are_kms_encrypted_with_point_in_time_recovery(cloud, aws, table):
    ddb = aws("dynamodb")
    name = cloud.physical_id(table)
    description = ddb.describe_table(TableName=name)["Table"]
    assert description["SSEDescription"]["Status"] == "ENABLED"
    assert description["SSEDescription"]["SSEType"] == "KMS"
    assert description["SSEDescription"]["KMSMasterKeyArn"].endswith(cloud.physical_id("DataKey"))
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert description["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]


def test_data_table_expires_items_and_streams_changes(cloud, aws):
    ddb = aws("dynamodb")
    name = cloud.physical_id("DataTable")
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == [
        "gsi1",
        "filter1",
        "filter2",
        "filter3",
    ]


def test_key_store_is_a_separate_table(cloud):
    assert cloud.physical_id("KeyTable") != cloud.physical_id("DataTable")
    assert os.environ["KEY_TABLE"] == cloud.physical_id("KeyTable")


def test_audit_bucket_locks_objects_for_seven_years_in_compliance_mode(cloud, aws):
    s3 = aws("s3")
    bucket = cloud.physical_id("AuditBucket")
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Years"], retention.get("Days") or 0) == ("COMPLIANCE", 7, 0)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


@pytest.mark.parametrize("bucket", ["AuditBucket", "BackupBucket"])
def test_buckets_are_kms_encrypted_and_private(cloud, aws, bucket):
    s3 = aws("s3")
    name = cloud.physical_id(bucket)
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(cloud.physical_id("DataKey"))
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )


def test_backups_expire_after_180_days_and_company_exports_after_7(cloud, aws):
    rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=cloud.physical_id("BackupBucket"))["Rules"]
    days = {r.get("Filter", {}).get("Prefix", r.get("Prefix", "")): r["Expiration"]["Days"] for r in rules}
    assert days == {"": 180, "exports/": 7}, rules
    assert all(r["Status"] == "Enabled" for r in rules)


def test_signing_key_secret_is_generated_and_kms_encrypted(cloud, aws):
    secrets = aws("secretsmanager")
    arn = cloud.physical_id("SigningKeys")
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert value["kid"] == "k1" and len(value["secret"]) >= 48
    assert secrets.describe_secret(SecretId=arn)["KmsKeyId"] == cloud.physical_id("DataKey")


def test_functions_get_exactly_the_environment_the_template_gives_them(cloud, aws):
    lam = aws("lambda")
    for logical_id in ("ApiFunction", "WebhooksFunction", "AuditMirrorFunction"):
        config = lam.get_function_configuration(FunctionName=cloud.physical_id(logical_id))
        assert config["Environment"]["Variables"] == cloud.function_environment(logical_id)
    env = cloud.environment()
    assert env["DATA_TABLE"] == cloud.physical_id("DataTable")
    assert env["KMS_KEY_ID"].endswith(cloud.physical_id("DataKey"))
    assert {k: os.environ[k] for k in env} == env


def test_log_groups_are_encrypted_and_retained(cloud, aws):
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{cloud.stack}-")["logGroups"]
    assert {g["logGroupName"] for g in groups} >= {"/aws/lambda/protu-local-ApiFunction"}
    for group in groups:
        assert group["retentionInDays"] == 365
        assert group["kmsKeyId"].endswith(cloud.physical_id("DataKey"))
