"""Disaster recovery as declared: what the DR region holds (template.yaml with DrRegion, dr.yaml there), and the
monthly drill's reach (protu.ops.dr_drill): the DR region's copies only, never a live table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import template as tpl
from tests.infra.test_template import _policies

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template():
    return tpl.load()


def test_the_dr_region_gets_the_data_key_the_key_table_and_the_signing_keys(template):
    resources = template["Resources"]
    assert resources["DataKey"]["Properties"]["MultiRegion"] is True
    # The key table is a global table with a replica in the DR region, encrypted there with the data key's replica:
    # a copy kept in step (deletions included), never a backup.
    keys = resources["KeyTable"]
    assert keys["Type"] == "AWS::DynamoDB::GlobalTable"
    assert keys["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    home, dr_replica = keys["Properties"]["Replicas"]
    assert home["Region"] == {"Ref": "AWS::Region"} and home["SSESpecification"] == {
        "KMSMasterKeyId": {"Ref": "DataKey"}
    }
    condition, there, otherwise = dr_replica["Fn::If"]
    assert condition == "HasDr" and there["Region"] == {"Ref": "DrRegion"} and otherwise == {"Ref": "AWS::NoValue"}
    assert "${DrRegion}" in there["SSESpecification"]["KMSMasterKeyId"]["Fn::Sub"]
    assert "PointInTimeRecoverySpecification" not in there  # the keys' short backup life stays at home
    replicas = resources["SigningKeys"]["Properties"]["ReplicaRegions"]["Fn::If"]
    assert replicas[0] == "HasDr" and replicas[1][0]["Region"] == {"Ref": "DrRegion"}
    assert (
        "${DrRegion}" in replicas[1][0]["KmsKeyId"]["Fn::Sub"] and "${DataKey}" in replicas[1][0]["KmsKeyId"]["Fn::Sub"]
    )
    there = tpl.load(ROOT / "dr.yaml")["Resources"]
    assert there["DataKeyReplica"]["Type"] == "AWS::KMS::ReplicaKey"
    assert there["DataKeyReplica"]["Properties"]["PrimaryKeyArn"] == {"Ref": "PrimaryKeyArn"}
    bucket = there["BackupReplicaBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}  # S3 replication needs it


def test_dr_yaml_lints_clean():
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(ROOT / "dr.yaml", config=ManualArgs(regions=["eu-west-1"]))
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_the_drill_runs_monthly_and_reaches_only_the_dr_regions_copies(cloud, template):
    from infra.iam import allowed

    drill = template["Resources"]["DrDrillFunction"]["Properties"]
    assert drill["Events"]["Monthly"]["Properties"]["ScheduleExpression"] == "cron(0 5 1 * ? *)"
    policies = _policies(cloud, "DrDrillFunction")
    there = f"arn:aws:dynamodb:{cloud.dr_region}:123456789012:table"
    data, audit, keys = (cloud.physical_id(n) for n in ("DataTable", "AuditTable", "KeyTable"))
    for action in ("CreateTable", "BatchWriteItem", "Scan", "DeleteTable"):
        assert allowed(policies, f"dynamodb:{action}", f"{there}/{data}-dr-20261205-a1b2c3"), action
        assert allowed(policies, f"dynamodb:{action}", f"{there}/{audit}-dr-20261205-a1b2c3"), action
        for live in ("DataTable", "AuditTable", "KeyTable"):  # never a live table, at home or there
            assert not allowed(policies, f"dynamodb:{action}", cloud.resources[live].attributes["Arn"]), (action, live)
        assert not allowed(policies, f"dynamodb:{action}", f"{there}/{keys}"), action
    assert allowed(policies, "dynamodb:GetItem", f"{there}/{keys}")  # the key table's replica, read only
    assert allowed(policies, "kms:Decrypt", cloud.dr_key_arn)
    assert not allowed(policies, "kms:Decrypt", cloud.resources["DataKey"].attributes["Arn"])  # not the home key
    replica = f"arn:aws:s3:::{cloud.dr_backup_bucket}"
    assert allowed(policies, "s3:GetObject", f"{replica}/backups/2026-12-01/manifest.json")
    home = cloud.resources["BackupBucket"].attributes["Arn"]
    assert not allowed(policies, "s3:GetObject", f"{home}/backups/2026-12-01/manifest.json")
    assert allowed(policies, "s3:PutObject", f"{home}/backups/status/dr-drill.json")  # the result, for health


def test_the_local_cloud_holds_the_dr_regions_copies(cloud):
    import boto3

    region = cloud.dr_region
    assert boto3.client("kms", region_name=region).describe_key(KeyId=cloud.dr_key_arn)["KeyMetadata"]["MultiRegion"]
    assert boto3.client("s3", region_name=region).head_bucket(Bucket=cloud.dr_backup_bucket)
    there = boto3.client("dynamodb", region_name=region)
    keys = there.describe_table(TableName=cloud.physical_id("KeyTable"))["Table"]
    assert keys["SSEDescription"]["KMSMasterKeyArn"] == cloud.dr_key_arn
    policy = json.loads(there.get_resource_policy(ResourceArn=keys["TableArn"])["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["DataOnlyForThisStack"]
