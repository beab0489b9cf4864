"""Provision the resources of ``template.yaml`` into moto: the local cloud of ``make run`` and of the tests.

``LocalCloud(...).provision()`` creates every resource type moto supports, with the settings the template gives
it (encryption, PITR, TTL, streams, Object Lock, lifecycle...), and resolves each function's environment exactly
as CloudFormation would. Types moto cannot run (the API Gateway, the layer) are recorded, not created: the local
server plays the API Gateway's part. Works against in-process moto (tests) and a moto server (``make run``) alike:
the boto3 clients follow the process's moto mock or ``AWS_ENDPOINT_URL``.

State machines run for real when moto's executing mode is on (``infra.stepfunctions.MOTO_CONFIG``): each function
of the template is registered with ``infra.stepfunctions``, so a Lambda task runs the function's own handler
in-process.
"""

from __future__ import annotations

import copy
import io
import json
import re
import secrets
import threading
import zipfile
from dataclasses import dataclass, field
from typing import Any

from infra import iam, stepfunctions
from infra import template as tpl

ACCOUNT = "123456789012"
REGION = "eu-central-1"
LOCAL_PARAMETERS = {
    "Stage": "local",
    "AppOrigin": "http://localhost:8000",
    # The DR region: LocalCloud provisions there what the DR stack and the replication provide (the replica bucket,
    # the data key's replica, the key table's and signing keys' replicas), infra/replication.py copies what AWS
    # copies on its own. The replica bucket is named after the stack (bucket names are one per account).
    "DrRegion": "eu-west-1",
    "BackupReplicaKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    # The edge stack (edge.yaml, us-east-1) is not provisioned locally: a well-formed ARN that nothing serves.
    "EdgeWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/protu-local-edge/"
    + "00000000-0000-0000-0000-000000000000",
}
# Served locally by something else: the local server is the API Gateway, the layer is this checkout's code.
NOT_CREATED = {
    "AWS::Serverless::Api",
    "AWS::Serverless::LayerVersion",
    # The edge: the local server plays CloudFront (one origin for the SPA, /api/* and /webhooks/*, the same security
    # headers from protu.http.headers, index.html for client routes), and has no WAF in front of it. Their settings
    # are proven by tests/infra/test_edge.py, which reads the template.
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::Function",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
    # Request and data-access logs (API Gateway's account role, the web ACL's log, the data-event trail): nothing
    # local writes or reads them; tests/infra/test_request_logs.py proves their settings from the template.
    "AWS::ApiGateway::Account",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::CloudTrail::Trail",
    # Amazon Inspector's findings (VulnerabilityFindingsRule): no Inspector runs locally; tests/infra/
    # test_vulnerability_findings.py matches sample findings against the rule's pattern with moto's matcher.
    "AWS::Events::Rule",
}
# The role SAM generates for a function or state machine without ``Role`` is the resource ``<LogicalId>Role``.
SAM_ROLE_OWNERS = {"AWS::Serverless::Function", "AWS::Serverless::StateMachine"}
_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str
    attributes: dict[str, str] = field(default_factory=dict)
    created: bool = True


class LocalCloud:
    def __init__(
        self,
        *,
        stack: str = "protu-local",
        parameters: dict[str, str] | None = None,
        template: dict[str, Any] | None = None,
    ) -> None:
        import boto3

        self.stack = stack
        self.template = template or tpl.load()
        parameters = {"BackupReplicaBucket": f"{stack}-backup-replica".lower(), **(parameters or {})}
        self.resources: dict[str, Resource] = {}
        # Global tables' replicas outside this region: (table, replica spec), created once the keys there exist.
        self.replicas: list[tuple[str, dict[str, Any]]] = []
        self._session = boto3.session.Session(region_name=REGION)
        self._clients: dict[str, Any] = {}
        self.resolver = tpl.Resolver(
            self.template,
            parameters=LOCAL_PARAMETERS | (parameters or {}),
            pseudo={
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": "aws",
                "AWS::StackName": stack,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": "",
            },
            ref=self._ref,
            get_att=lambda name, attr: self.ensure(name).attributes[attr],
        )

    # ------------------------------------------------------------------ public
    def provision(self) -> LocalCloud:
        make_moto_atomic()
        make_moto_multi_region_keys_decrypt()
        iam.install()
        stepfunctions.install()
        for logical_id in self.template["Resources"]:
            self.ensure(logical_id)
        self._provision_dr()
        return self

    # ------------------------------------------------------------------ the DR region
    @property
    def dr_region(self) -> str:
        """The DR region the template is given (empty for a template without one, or none given)."""
        if "DrRegion" not in self.template.get("Parameters", {}):
            return ""
        return str(self.resolver.resolve({"Ref": "DrRegion"}))

    @property
    def dr_backup_bucket(self) -> str:
        return str(self.resolver.resolve({"Ref": "BackupReplicaBucket"}))

    @property
    def dr_key_arn(self) -> str:
        """The data key's replica in the DR region (a multi-Region key keeps its id)."""
        return self.resources["DataKey"].attributes["Arn"].replace(f":{REGION}:", f":{self.dr_region}:")

    def _provision_dr(self) -> None:
        """What the DR region holds before any disaster, as ``dr.yaml`` and the global tables make it: the data
        key's replica, the replica bucket (versioned, encrypted with it) and each global table's replica there
        (``infra.replication`` keeps them and the bucket in step)."""
        region = self.dr_region
        if not region:
            return
        import boto3

        there = boto3.session.Session(region_name=region)
        self.client("kms").replicate_key(KeyId=self.physical_id("DataKey"), ReplicaRegion=region)
        s3 = there.client("s3")
        bucket = self.dr_backup_bucket
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.dr_key_arn}
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
        )
        for table, replica in self.replicas:
            self._create_replica(table, replica)

    def _create_replica(self, table: str, replica: dict[str, Any]) -> None:
        """A global table's replica in another region: the same keys and indexes, the replica's key and policy."""
        import boto3

        home = self.client("dynamodb").describe_table(TableName=table)["Table"]
        there = boto3.session.Session(region_name=replica["Region"]).client("dynamodb")
        indexes = [
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in home.get("GlobalSecondaryIndexes", [])
        ]
        sse = {"Enabled": True, "SSEType": "KMS"}
        if (replica.get("SSESpecification") or {}).get("KMSMasterKeyId"):
            sse["KMSMasterKeyId"] = replica["SSESpecification"]["KMSMasterKeyId"]
        created = there.create_table(
            TableName=table,
            KeySchema=home["KeySchema"],
            AttributeDefinitions=home["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification=sse,
            DeletionProtectionEnabled=bool(replica.get("DeletionProtectionEnabled", False)),
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        )["TableDescription"]
        policy = replica.get("ResourcePolicy")
        if policy:
            there.put_resource_policy(ResourceArn=created["TableArn"], Policy=json.dumps(policy["PolicyDocument"]))

    def ensure(self, logical_id: str) -> Resource:
        found = self.resources.get(logical_id)
        if found is None and logical_id not in self.template["Resources"]:
            owner = logical_id.removesuffix("Role")
            if self.template["Resources"].get(owner, {}).get("Type") in SAM_ROLE_OWNERS:
                self.ensure(owner)  # creates the role SAM would generate, as <owner>Role
                found = self.resources.get(logical_id)
        if found is None:
            spec = self.template["Resources"][logical_id]
            kind = spec["Type"]
            if "Condition" in spec and not self.resolver.condition(spec["Condition"]):
                found = Resource(logical_id, kind, "", {}, False)  # CloudFormation would not create it either
            elif kind in NOT_CREATED:
                found = Resource(logical_id, kind, f"{self.stack}-{logical_id}", {"Arn": self._arn(logical_id)}, False)
            else:
                creator = getattr(self, "_create_" + kind.replace("::", "_"), None)
                if creator is None:
                    raise NotImplementedError(f"{logical_id}: the local cloud cannot create {kind} yet")
                found = creator(logical_id, self._properties(logical_id))
            self.resources[logical_id] = found
        return found

    def function_environment(self, logical_id: str) -> dict[str, str]:
        raw = tpl.function_environment(self.template, logical_id)
        return {k: str(v) for k, v in self.resolver.resolve(raw).items()}

    def environment(self) -> dict[str, str]:
        """The union of every function's environment; one name must mean one value across functions."""
        merged: dict[str, str] = {}
        for logical_id, spec in self.template["Resources"].items():
            if spec["Type"] != "AWS::Serverless::Function":
                continue
            for name, value in self.function_environment(logical_id).items():
                if merged.setdefault(name, value) != value:
                    raise ValueError(f"{name} means different things to different functions")
        return merged

    def physical_id(self, logical_id: str) -> str:
        return self.ensure(logical_id).physical_id

    def _ref(self, name: str) -> str:
        """``!Ref`` of a resource; ``<Function>.Alias`` is the ARN of the alias SAM publishes (AutoPublishAlias)."""
        if name.endswith(".Alias"):
            return self.ensure(name.removesuffix(".Alias")).attributes["Alias"]
        return self.ensure(name).physical_id

    # ------------------------------------------------------------------ helpers
    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def _properties(self, logical_id: str) -> dict[str, Any]:
        spec = self.template["Resources"][logical_id]
        props = spec.get("Properties", {})
        if spec["Type"] == "AWS::Serverless::Function":
            glob = self.template.get("Globals", {}).get("Function", {})
            props = {**glob, **props}
            props["Environment"] = {"Variables": tpl.function_environment(self.template, logical_id)}
        return self.resolver.resolve(props)

    def _name(self, logical_id: str) -> str:
        return f"{self.stack}-{logical_id}".lower()

    def _arn(self, logical_id: str) -> str:
        return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:local/{self.stack}/{logical_id}"

    # ------------------------------------------------------------------ KMS
    def _create_AWS_KMS_Key(self, logical_id: str, props: dict) -> Resource:
        kms = self.client("kms")
        args = {
            "Description": props.get("Description", logical_id),
            "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "Tags": [{"TagKey": "logical-id", "TagValue": logical_id}],
            "MultiRegion": bool(props.get("MultiRegion", False)),
        }
        if "KeyPolicy" in props:
            args["Policy"] = json.dumps(props["KeyPolicy"])
        meta = kms.create_key(**args)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(
                KeyId=meta["KeyId"], RotationPeriodInDays=int(props.get("RotationPeriodInDays", 365))
            )
        return Resource(logical_id, "AWS::KMS::Key", meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})

    def _create_AWS_KMS_Alias(self, logical_id: str, props: dict) -> Resource:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        return Resource(logical_id, "AWS::KMS::Alias", props["AliasName"])

    # ------------------------------------------------------------------ Secrets Manager
    def _create_AWS_SecretsManager_Secret(self, logical_id: str, props: dict) -> Resource:
        if "SecretString" in props:
            value = props["SecretString"]
        else:
            gen = props.get("GenerateSecretString", {})
            body = json.loads(gen.get("SecretStringTemplate", "{}"))
            body[gen.get("GenerateStringKey", "password")] = secrets.token_urlsafe(48)
            value = json.dumps(body)
        args = {"Name": props.get("Name", f"{self.stack}/{logical_id}"), "SecretString": value}
        if props.get("KmsKeyId"):
            args["KmsKeyId"] = props["KmsKeyId"]
        if props.get("Description"):
            args["Description"] = props["Description"]
        if props.get("ReplicaRegions"):
            args["AddReplicaRegions"] = [
                {"Region": r["Region"], **({"KmsKeyId": r["KmsKeyId"]} if r.get("KmsKeyId") else {})}
                for r in props["ReplicaRegions"]
            ]
        arn = self.client("secretsmanager").create_secret(**args)["ARN"]
        return Resource(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})

    def _create_AWS_SecretsManager_ResourcePolicy(self, logical_id: str, props: dict) -> Resource:
        """Kept as declared (``get_resource_policy``); moto does not enforce it, ``tests/infra/test_edge.py``
        evaluates it."""
        self.client("secretsmanager").put_resource_policy(
            SecretId=props["SecretId"],
            ResourcePolicy=json.dumps(props["ResourcePolicy"]),
            BlockPublicPolicy=bool(props.get("BlockPublicPolicy", False)),
        )
        return Resource(logical_id, "AWS::SecretsManager::ResourcePolicy", props["SecretId"])

    def _create_AWS_SecretsManager_RotationSchedule(self, logical_id: str, props: dict) -> Resource:
        """Rotation configured as declared, without rotating at once (CloudFormation would; locally, tests and
        ``protu-ops keys rotate-signing`` rotate). moto then invokes the function's ``testSecret`` step on a copy
        of the current value; while provisioning, the process does not have the functions' environment yet, so
        that one invocation is answered without running the function."""
        rules = {k: int(v) if k == "AutomaticallyAfterDays" else v for k, v in props["RotationRules"].items()}
        function = props["RotationLambdaARN"].split(":function:", 1)[1].split(":", 1)[0]
        with stepfunctions.override(function, lambda event, context: {"outcome": "not run while provisioning"}):
            self.client("secretsmanager").rotate_secret(
                SecretId=props["SecretId"],
                RotationLambdaARN=props["RotationLambdaARN"],
                RotationRules=rules,
                RotateImmediately=False,
            )
        return Resource(logical_id, "AWS::SecretsManager::RotationSchedule", props["SecretId"])

    # ------------------------------------------------------------------ Lambda permissions
    def _create_AWS_Lambda_Permission(self, logical_id: str, props: dict) -> Resource:
        """Kept as declared (moto records it; nothing local calls a function through it but moto itself)."""
        function, _, alias = props["FunctionName"].partition(":function:")[2].partition(":")
        extra = {"SourceAccount": str(props["SourceAccount"])} if props.get("SourceAccount") else {}
        self.client("lambda").add_permission(
            FunctionName=function,
            **({"Qualifier": alias} if alias else {}),
            StatementId=logical_id,
            Action=props["Action"],
            Principal=props["Principal"],
            **extra,
        )
        return Resource(logical_id, "AWS::Lambda::Permission", logical_id)

    # ------------------------------------------------------------------ DynamoDB
    def _create_AWS_DynamoDB_Table(self, logical_id: str, props: dict) -> Resource:
        ddb = self.client("dynamodb")
        name = props.get("TableName", self._name(logical_id))
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
            "DeletionProtectionEnabled": bool(props.get("DeletionProtectionEnabled", False)),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        sse = props.get("SSESpecification")
        if sse:
            args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled")), "SSEType": sse.get("SSEType", "KMS")}
            if sse.get("KMSMasterKeyId"):
                args["SSESpecification"]["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        table = ddb.create_table(**args)["TableDescription"]
        policy = props.get("ResourcePolicy")
        if policy:  # moto keeps it (get_resource_policy) without enforcing it; tests/infra/test_edge.py evaluates it
            ddb.put_resource_policy(ResourceArn=table["TableArn"], Policy=json.dumps(policy["PolicyDocument"]))
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            spec = {"PointInTimeRecoveryEnabled": True}
            if pitr.get("RecoveryPeriodInDays"):
                spec["RecoveryPeriodInDays"] = int(pitr["RecoveryPeriodInDays"])
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
        attrs = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attrs["StreamArn"] = table["LatestStreamArn"]
        return Resource(logical_id, "AWS::DynamoDB::Table", name, attrs)

    def _create_AWS_DynamoDB_GlobalTable(self, logical_id: str, props: dict) -> Resource:
        """A global table: its replica in this region as a table with that replica's settings (deletion protection,
        resource policy, point-in-time recovery, key); each other replica is created in its region after the keys
        there (``_provision_dr``). moto replicates nothing: ``infra.replication`` does, from the table's stream."""
        replicas = [r for r in props.get("Replicas", []) if isinstance(r, dict) and r]  # an If's NoValue is ""
        (home,) = [r for r in replicas if r["Region"] == REGION]
        table = {k: v for k, v in props.items() if k not in ("Replicas", "SSESpecification")}
        for key in ("DeletionProtectionEnabled", "ResourcePolicy", "PointInTimeRecoverySpecification"):
            if key in home:
                table[key] = home[key]
        sse = props.get("SSESpecification") or {}
        if sse.get("SSEEnabled"):
            table["SSESpecification"] = {"SSEEnabled": True, "SSEType": sse.get("SSEType", "KMS")}
            table["SSESpecification"] |= {"KMSMasterKeyId": (home.get("SSESpecification") or {}).get("KMSMasterKeyId")}
        created = self._create_AWS_DynamoDB_Table(logical_id, table)
        created.type = "AWS::DynamoDB::GlobalTable"
        self.replicas += [(created.physical_id, r) for r in replicas if r["Region"] != REGION]
        return created

    # ------------------------------------------------------------------ S3
    def _create_AWS_S3_Bucket(self, logical_id: str, props: dict) -> Resource:
        s3 = self.client("s3")
        name = props.get("BucketName", self._name(logical_id))
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=bool(props.get("ObjectLockEnabled", False)),
        )
        if props.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
        lock = props.get("ObjectLockConfiguration")
        if lock:
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=lock)
        enc = props.get("BucketEncryption")
        if enc:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
                }
                for rule in enc["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if props.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if props.get("OwnershipControls"):
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        lifecycle = props.get("LifecycleConfiguration")
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle["Rules"]]}
            )
        return Resource(
            logical_id,
            "AWS::S3::Bucket",
            name,
            {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            },
        )

    def _create_AWS_S3_BucketPolicy(self, logical_id: str, props: dict) -> Resource:
        """moto evaluates a bucket policy's Deny statements but not their Conditions, so "deny unless TLS" would
        deny everything. Locally (plain loopback HTTP anyway) only unconditional statements are applied; the
        template's conditions are proven by tests that read the template."""
        document = dict(props["PolicyDocument"])
        document["Statement"] = [s for s in document["Statement"] if "Condition" not in s]
        if document["Statement"]:
            self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
        return Resource(
            logical_id, "AWS::S3::BucketPolicy", props["Bucket"], {"Policy": json.dumps(props["PolicyDocument"])}
        )

    # ------------------------------------------------------------------ logs
    def _create_AWS_Logs_LogGroup(self, logical_id: str, props: dict) -> Resource:
        logs = self.client("logs")
        name = props.get("LogGroupName", f"/{self.stack}/{logical_id}")
        args = {"logGroupName": name}
        if props.get("KmsKeyId"):
            args["kmsKeyId"] = props["KmsKeyId"]
        logs.create_log_group(**args)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        return Resource(
            logical_id, "AWS::Logs::LogGroup", name, {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"}
        )

    # ------------------------------------------------------------------ CloudWatch
    def _create_AWS_CloudWatch_Alarm(self, logical_id: str, props: dict) -> Resource:
        """The alarm as declared (moto keeps it; nothing feeds it metrics locally, so it stays without data)."""
        name = props.get("AlarmName", f"{self.stack}-{logical_id}")
        keys = (
            "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period", "EvaluationPeriods",
            "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "AlarmActions", "OKActions",
            "Metrics",
        )  # fmt: skip
        args = {key: props[key] for key in keys if key in props}
        for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if number in args:
                args[number] = int(args[number])
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
        return Resource(
            logical_id, "AWS::CloudWatch::Alarm", name, {"Arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"}
        )

    def _create_AWS_CloudWatch_Dashboard(self, logical_id: str, props: dict) -> Resource:
        name = props.get("DashboardName", f"{self.stack}-{logical_id}")
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
        return Resource(logical_id, "AWS::CloudWatch::Dashboard", name)

    # ------------------------------------------------------------------ IAM
    def _create_AWS_IAM_Role(self, logical_id: str, props: dict) -> Resource:
        """The role and its inline policies as the template writes them; the local cloud enforces them for the
        sessions it checks (``infra/iam.py``)."""
        iam_client = self.client("iam")
        name = props.get("RoleName", f"{self.stack}-{logical_id}")[:64]
        role = iam_client.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
            MaxSessionDuration=int(props.get("MaxSessionDuration", 3600)),
        )["Role"]
        for policy in props.get("Policies", []):
            iam_client.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
        return Resource(logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    # ------------------------------------------------------------------ functions
    def _create_AWS_Serverless_Function(self, logical_id: str, props: dict) -> Resource:
        """The function exists in moto (name, role, environment) so that workflows can invoke it; its code runs
        in-process through the handler registry of the local cloud (``infra.stepfunctions``), not from the stub
        zip: its ``Handler``, imported from its ``CodeUri`` folder when first invoked."""
        role_arn = props.get("Role") or self._service_role(logical_id, "lambda.amazonaws.com", props.get("Policies"))
        name = props.get("FunctionName", f"{self.stack}-{logical_id}")
        arn = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=role_arn,
            Handler=props["Handler"],
            Code={"ZipFile": _stub_zip()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": {k: str(v) for k, v in props["Environment"]["Variables"].items()}},
        )["FunctionArn"]
        stepfunctions.register(name, props["Handler"], code_dir=tpl.ROOT / props.get("CodeUri", "."))
        attributes = {"Arn": arn, "RoleArn": role_arn}
        if props.get("AutoPublishAlias"):  # as SAM publishes it: a version, and the alias pointing at it
            functions = self.client("lambda")
            version = functions.publish_version(FunctionName=name)["Version"]
            alias = functions.create_alias(FunctionName=name, Name=props["AutoPublishAlias"], FunctionVersion=version)
            attributes["Alias"] = alias["AliasArn"]
        return Resource(logical_id, "AWS::Serverless::Function", name, attributes)

    def _service_role(self, logical_id: str, service: str, policies: Any) -> str:
        """The role SAM generates for a function or state machine: trusted by ``service``, with the resource's
        ``Policies`` (inline documents, and SAM policy templates as ``sam_policy`` expands them) as inline
        policies. Known locally as ``<LogicalId>Role``, as SAM names it. Answers its ARN."""
        iam_client = self.client("iam")
        role_name = f"{self.stack}-{logical_id}-role"[:64]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        role = iam_client.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        if isinstance(policies, str | dict):
            policies = [policies]
        documents = [p if "Statement" in p else sam_policy(p) for p in policies or [] if isinstance(p, dict)]
        for index, document in enumerate(d for d in documents if d is not None):
            iam_client.put_role_policy(
                RoleName=role_name, PolicyName=f"inline-{index}", PolicyDocument=json.dumps(document)
            )
        alias = f"{logical_id}Role"
        if alias not in self.template["Resources"]:
            attributes = {"Arn": role["Arn"], "RoleId": role["RoleId"]}
            self.resources[alias] = Resource(alias, "AWS::IAM::Role", role_name, attributes)
        return role["Arn"]

    # ------------------------------------------------------------------ Step Functions
    def _create_AWS_Serverless_StateMachine(self, logical_id: str, props: dict) -> Resource:
        """The state machine with its definition as SAM deploys it: ``DefinitionUri`` (a file, relative to the
        template's folder) or the inline ``Definition``, with each ``${Name}`` of ``DefinitionSubstitutions``
        replaced by its resolved value. Executions run in moto when its executing mode is on."""
        name = props.get("Name", f"{self.stack}-{logical_id}")
        role_arn = props.get("Role") or self._service_role(logical_id, "states.amazonaws.com", props.get("Policies"))
        args: dict[str, Any] = {
            "name": name,
            "definition": self._definition(logical_id, props),
            "roleArn": role_arn,
            "type": props.get("Type", "STANDARD"),
        }
        tags = props.get("Tags") or {}
        if tags:
            args["tags"] = [{"key": k, "value": str(v)} for k, v in tags.items()]
        logging = props.get("Logging")
        if logging:
            args["loggingConfiguration"] = {
                "level": logging.get("Level", "OFF"),
                "includeExecutionData": bool(logging.get("IncludeExecutionData", False)),
                "destinations": [
                    {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                    for d in logging.get("Destinations", [])
                ],
            }
        if props.get("Tracing"):
            args["tracingConfiguration"] = {"enabled": bool(props["Tracing"].get("Enabled", False))}
        try:
            arn = self.client("stepfunctions").create_state_machine(**args)["stateMachineArn"]
        except Exception as error:  # moto's message quotes the whole definition after what it could not parse
            reason = str(error).split(" in definition '", 1)[0]
            raise ValueError(f"{logical_id}: moto refused the state machine: {reason}") from error
        return Resource(logical_id, "AWS::Serverless::StateMachine", arn, {"Arn": arn, "Name": name})

    def _definition(self, logical_id: str, props: dict) -> str:
        if "Definition" in props:
            text = json.dumps(props["Definition"])
        elif isinstance(props.get("DefinitionUri"), str):
            text = (tpl.ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        else:
            raise NotImplementedError(f"{logical_id}: the local cloud reads Definition or a local DefinitionUri")
        substitutions = props.get("DefinitionSubstitutions") or {}

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in substitutions:
                return match.group(0)
            value = substitutions[name]
            return ("true" if value else "false") if isinstance(value, bool) else str(value)

        text = _SUBSTITUTION.sub(one, text)
        missing = sorted(set(_SUBSTITUTION.findall(text)))
        if missing:  # CloudFormation would deploy them as written, and the state machine would fail when it ran
            raise ValueError(f"{logical_id}: the definition names {missing}, not in its DefinitionSubstitutions")
        try:
            if str(props.get("DefinitionUri", "")).endswith((".yaml", ".yml")):
                import yaml

                return json.dumps(yaml.safe_load(text))
            return json.dumps(json.loads(text))
        except ValueError as error:
            raise ValueError(f"{logical_id}: the definition is not valid JSON after substitution: {error}") from error

    # ------------------------------------------------------------------ SNS
    def _create_AWS_SNS_Topic(self, logical_id: str, props: dict) -> Resource:
        sns = self.client("sns")
        fifo = bool(props.get("FifoTopic", False))
        name = props.get("TopicName", f"{self.stack}-{logical_id}" + (".fifo" if fifo else ""))
        attributes = {k: str(props[k]) for k in ("DisplayName", "KmsMasterKeyId", "SignatureVersion") if k in props}
        if fifo:
            attributes["FifoTopic"] = "true"
        if "ContentBasedDeduplication" in props:
            attributes["ContentBasedDeduplication"] = str(bool(props["ContentBasedDeduplication"])).lower()
        args: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if props.get("Tags"):
            args["Tags"] = [{"Key": t["Key"], "Value": str(t["Value"])} for t in props["Tags"]]
        arn = sns.create_topic(**args)["TopicArn"]
        for subscription in props.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        return Resource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})

    def _create_AWS_SQS_Queue(self, logical_id: str, props: dict) -> Resource:
        sqs = self.client("sqs")
        name = props.get("QueueName", f"{self.stack}-{logical_id}")
        plain = ("KmsMasterKeyId", "MessageRetentionPeriod", "VisibilityTimeout")
        attributes = {k: str(props[k]) for k in plain if k in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Resource(logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _create_AWS_SNS_Subscription(self, logical_id: str, props: dict) -> Resource:
        attributes = {}
        for key in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy", "DeliveryPolicy"):
            if key in props:
                value = props[key]
                if isinstance(value, dict | list):
                    value = json.dumps(value)
                elif isinstance(value, bool):
                    value = str(value).lower()
                attributes[key] = str(value)
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Resource(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})

    def _create_AWS_SNS_TopicPolicy(self, logical_id: str, props: dict) -> Resource:
        for topic in props["Topics"]:
            self.client("sns").set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return Resource(logical_id, "AWS::SNS::TopicPolicy", f"{self.stack}-{logical_id}")


def sam_policy(template: dict[str, Any]) -> dict[str, Any] | None:
    """The policy document of a (resolved) SAM policy template such as ``{"LambdaInvokePolicy": {"FunctionName":
    "f"}}``, for the templates in ``_SAM_POLICIES``; None for others (the local cloud does not enforce these roles:
    ``infra/iam.py`` checks tenant sessions only)."""
    if len(template) != 1:
        return None
    ((kind, args),) = template.items()
    known = _SAM_POLICIES.get(kind)
    if known is None:
        return None
    actions, resources = known
    names = {k: str(v) for k, v in (args or {}).items()} | {"Region": REGION, "Account": ACCOUNT}
    statement = {"Effect": "Allow", "Action": actions, "Resource": [r.format(**names) for r in resources]}
    return {"Version": "2012-10-17", "Statement": [statement]}


_ARN = "arn:aws:{service}:{{Region}}:{{Account}}:"
_SAM_POLICIES: dict[str, tuple[list[str], list[str]]] = {
    "LambdaInvokePolicy": (["lambda:InvokeFunction"], [_ARN.format(service="lambda") + "function:{FunctionName}*"]),
    "SNSPublishMessagePolicy": (["sns:Publish"], [_ARN.format(service="sns") + "{TopicName}"]),
    "SQSSendMessagePolicy": (["sqs:SendMessage*"], [_ARN.format(service="sqs") + "{QueueName}"]),
    "StepFunctionsExecutionPolicy": (
        ["states:StartExecution"],
        [_ARN.format(service="states") + "stateMachine:{StateMachineName}"],
    ),
    "DynamoDBCrudPolicy": (
        ["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query"]
        + ["dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
        [_ARN.format(service="dynamodb") + "table/{TableName}" + suffix for suffix in ("", "/*")],
    ),
    "KMSDecryptPolicy": (["kms:Decrypt"], [_ARN.format(service="kms") + "key/{KeyId}"]),
}


_moto_patched = False
moto_transact_write_items: Any = None  # moto's own, kept for the tests that hold _transact_write_items against it
moto_table_query: Any = None  # moto's own Table.query, kept for the tests that hold the partitioned one against it


def make_moto_atomic() -> None:
    """Give moto the atomicity DynamoDB has, for the threaded local server, its background pumps and threaded tests.

    moto applies TransactWriteItems step by step, so two threads' transactions interleave; and its UpdateItem reads,
    changes and answers without a lock, so concurrent counters lose and repeat counts. One lock around both keeps
    each call atomic. Our own optimistic races (two writers reading the same audit head) still happen.

    TransactWriteItems itself is replaced by ``_transact_write_items``: same answers, but without moto's deep copy of
    every table the transaction names, which made each transaction cost as much as the tables were big. And a Query of
    a table's own key reads its partition only (``_query_one_partition``)."""
    global _moto_patched, moto_transact_write_items
    if _moto_patched:
        return
    import threading

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()

    def serialised(original):
        def call(*args, **kwargs):
            with lock:
                return original(*args, **kwargs)

        return call

    moto_transact_write_items = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = serialised(_transact_write_items)
    DynamoHandler.update_item = serialised(DynamoHandler.update_item)
    _query_one_partition()
    _moto_patched = True


_querying = threading.local()  # (table, hash key) of the Query this thread is answering, if it reads one partition


_EVERY_ITEM = object()  # an index query's scope: every item, in no particular order


def _query_one_partition() -> None:
    """moto answers a Query from ``Table.all_items()``: every item of the table, sorted, for each query, then keeps the
    partition's. Late in a test run a page of a few items cost as much as the tables had grown (a company's list,
    the RBAC matrix, seconds instead of milliseconds). While a thread's Query runs, ``all_items`` answers:

    * for the table's own key (no index) on a table with a sort key: the partition's items alone, in the same order
      (by sort key);
    * for an index: every item, unsorted: moto sorts what matches by the index's keys and the table's (unique
      together) right after, so the order it was given changes nothing.

    Scans, and a Query of a table without a sort key, are moto's own."""
    global moto_table_query
    from moto.dynamodb.models.table import Table

    moto_table_query, moto_all_items = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        if index_name:
            scope = (self, _EVERY_ITEM)
        elif hash_key is not None and self.range_key_attr:
            scope = (self, hash_key)
        else:
            return moto_table_query(self, hash_key, *args, **kwargs)
        _querying.scope = scope
        try:
            return moto_table_query(self, hash_key, *args, **kwargs)
        finally:
            _querying.scope = None

    def all_items(self: Any) -> list[Any]:
        scope = getattr(_querying, "scope", None)
        if scope is None or scope[0] is not self:
            return moto_all_items(self)
        if scope[1] is _EVERY_ITEM:
            if not self.range_key_attr:
                return list(self.items.values())
            return [item for partition in self.items.values() for item in partition.values()]
        partition = self.items[scope[1]] if scope[1] in self.items else {}  # (a defaultdict: no entry made)
        return sorted(partition.values(), key=lambda item: item.range_key)

    Table.query, Table.all_items = query, all_items


def make_moto_multi_region_keys_decrypt() -> None:
    """moto (5.2.6) writes the key id into its ciphertexts in a 36-byte field: a multi-Region key's id (``mrk-`` and
    a UUID, 40 characters) is cut, so nothing it encrypted decrypts, in its region or a replica's. Its ciphertext
    format (moto's own, not KMS's) gets a 40-byte field here, NUL-padded; nothing else changes."""
    import struct

    from moto.kms import utils

    if getattr(utils, "_protu_key_id_len", None) == 40:
        return
    header = f">40s{utils.IV_LEN}s{utils.TAG_LEN}s"
    length = struct.calcsize(header)

    def serialise(ciphertext: Any) -> bytes:
        return struct.pack(header, ciphertext.key_id.encode("utf-8"), ciphertext.iv, ciphertext.tag) + (
            ciphertext.ciphertext
        )

    def deserialise(ciphertext_blob: bytes) -> Any:
        key_id, iv, tag = struct.unpack(header, ciphertext_blob[:length])
        return utils.Ciphertext(
            key_id=key_id.rstrip(b"\0").decode("utf-8"), iv=iv, ciphertext=ciphertext_blob[length:], tag=tag
        )

    utils._serialize_ciphertext_blob = serialise
    utils._deserialize_ciphertext_blob = deserialise
    utils._protu_key_id_len = 40


# ---------------------------------------------------------------------- moto's TransactWriteItems, made cheap
def _transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """``DynamoDBBackend.transact_write_items`` of moto 5.2.6 (pinned; the same as 5.2.5's), all-or-nothing at the
    cost of the items it names.

    moto backs up by ``copy.deepcopy`` of every table the transaction names and, on failure, puts the copies in the
    tables' place. Every TransactWriteItems (each of our data changes: data + audit event + chain head) therefore
    cost time in proportion to the tables' size, and each copy's items stayed in moto's model-instance tracker for
    good, so the tests slowed and grew as the tables filled.

    Here the transaction runs twice, both times through ``_run_transaction`` (moto's own loop, transcribed):

    1. a rehearsal on a sandbox: the backend and the named tables seen with only deep copies of the touched items
       and no stream. It raises exactly what moto would (TransactionCanceledException with moto's per-op reasons,
       ReturnValuesOnConditionCheckFailure items included; ValidationException for two ops on one item;
       TransactWriteSingleOpException...) while nothing real has changed, not even for a moment: no reader of
       the live tables or of their streams (the audit mirror's pump) sees a write that the rehearsal cancels;
    2. if the rehearsal succeeded, the real run, with moto's calls (put_item/delete_item/update_item), so stream
       records and event-source mappings are moto's. It can only fail if something changed in between (a write
       outside the lock) or breaks unexpectedly; then the touched items are put back as they were (directly in
       ``Table.items``, without stream records: the GSIs are computed from ``Table.items`` on every read, so
       there is nothing else to restore) and each stream's records are cut back to their count before the run.

    Unlike moto, a transaction with an op of more than one kind (TransactWriteSingleOpException) or on a table
    named by its ARN changes nothing: moto left the ops before it applied, and never backed up an ARN-named table.
    """
    from moto.dynamodb.exceptions import TooManyTransactionsException

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    touched = _touched_items(backend, transact_items)
    _run_transaction(_sandbox(backend, touched), copy.deepcopy(transact_items))

    written = [(table, hash_key, range_key) for table, hash_key, range_key, kind in touched if kind != "ConditionCheck"]
    items_before = [(table, h, r, copy.deepcopy(_stored(table, h, r))) for table, h, r in written]
    shards = {id(table.stream_shard): table.stream_shard for table, _, _ in written if table.stream_shard is not None}
    streams_before = [(shard, shard.items, len(shard.items)) for shard in shards.values()]
    try:
        _run_transaction(backend, transact_items)
    except BaseException:
        for table, hash_key, range_key, item in reversed(items_before):
            _store(table, hash_key, range_key, item)
        for shard, records, count in streams_before:
            del records[count:]
            shard.items = records  # an event-source mapping may have swapped in a new list
        raise


def _touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, str]]:
    """(table, hash key, range key, op type) of every op whose table and key moto would find. An op whose table or
    key cannot be found fails in ``_run_transaction`` before it reads or writes any item."""
    touched = []
    for request in transact_items:
        try:
            op_type, op = next(iter(request.items()))
            table = backend.get_table(op["TableName"])
            if op_type == "Put":
                attrs = op["Item"]
                key = {name: attrs[name] for name in (table.hash_key_attr, table.range_key_attr) if name is not None}
            else:
                key = op["Key"]
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:  # noqa: BLE001, S112 - the same lookup fails the op in _run_transaction
            continue
        touched.append((table, hash_key, range_key, op_type))
    return touched


def _sandbox(backend: Any, touched: list[tuple[Any, Any, Any, str]]) -> Any:
    """The backend as a transaction sees it, made of copies: each named table is a shallow twin (same schema,
    indexes, ARN...) holding deep copies of only the touched items, with no stream. Built with ``object.__new__``
    so that moto's instance tracker does not keep the twins."""
    from collections import defaultdict

    twins: dict[int, Any] = {}
    for table, hash_key, range_key, _ in touched:
        twin = twins.get(id(table))
        if twin is None:
            twin = twins[id(table)] = _twin(table, items=defaultdict(dict), stream_shard=None)
        item = _stored(table, hash_key, range_key)
        if item is not None:
            _store(twin, hash_key, range_key, copy.deepcopy(item))
    tables = type(backend.tables)((name, twins.get(id(table), table)) for name, table in list(backend.tables.items()))
    return _twin(backend, tables=tables)


def _twin(obj: Any, **overrides: Any) -> Any:
    twin = object.__new__(type(obj))
    twin.__dict__.update(vars(obj), **overrides)
    return twin


def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    """The item stored under a key in moto's ``Table.items`` (``{hash: item}``, or ``{hash: {range: item}}`` when
    the table has a range key), or None; unlike ``Table.get_item``, adds no empty hash bucket."""
    found = table.items.get(hash_key)
    if table.range_key_attr is None or found is None:
        return found
    return found.get(range_key)


def _store(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Put ``item`` under a key of moto's ``Table.items``, or remove what is there if ``item`` is None; no stream
    record."""
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def _run_transaction(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """The loop of moto 5.2.6's ``DynamoDBBackend.transact_write_items`` (pinned in pyproject.toml; its source's
    fingerprint is checked by tests/infra/test_moto_transactions.py), line for line, without its whole-table
    backup and restore (``_transact_write_items`` undoes instead): same checks in the same order, same calls, same
    exceptions and cancellation reasons. Conditions are read from the current item; the loop goes on after an op
    fails, so that every op gets its reason; a ValidationException (two ops on one item among them) ends it."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = backend.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = backend.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type == "Put":
                backend.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                backend.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                backend.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto reports any other error as the op's cancellation reason
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)


def _lifecycle_rule(rule: dict) -> dict:
    """CloudFormation's lifecycle rule shape to the S3 API's."""
    out: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return out


def _stub_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stub.py", "# local cloud: handlers run in-process\n")
    return buffer.getvalue()
