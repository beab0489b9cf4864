"""What AWS copies to the DR region on its own, done locally (moto copies nothing across regions).

- ``backups/`` of the backup bucket to the replica bucket (the bucket's ``ReplicationConfiguration``): each object
  missing there or different is copied, encrypted with the data key's replica; deletions are not replicated
  (``DeleteMarkerReplication: Disabled``), as in the template.
- Each global table (the key table) to its replicas: read from the table's stream, as a global table's own
  replication reads it, each changed item is written there as it now is at home, or deleted there when it is gone
  at home. A destroyed company key (its partition deleted) is deleted in the DR region too.

``Replication(cloud).pump()`` does one pass; the local server's background loop calls it, tests call it before a
drill (in the cloud replication runs within seconds to minutes: S3 RTC's 15-minute bound, a global table's ~1 s).
"""

from __future__ import annotations

from typing import Any

from protu import aws

from infra.streams import StreamPump


class Replication:
    def __init__(self, cloud: Any) -> None:
        self.region = cloud.dr_region
        self.bucket = cloud.physical_id("BackupBucket")
        self.replica_bucket = cloud.dr_backup_bucket
        self.replica_key = cloud.dr_key_arn
        self._tables = [StreamPump(table, self._applier(table, r["Region"])) for table, r in cloud.replicas]

    def _client(self, service: str, region: str | None = None) -> Any:
        import boto3

        return boto3.client(service, region_name=region or self.region)

    def pump(self) -> int:
        return sum(table.pump() for table in self._tables) + self._objects()

    def _applier(self, table: str, region: str) -> Any:
        def apply(event: dict[str, Any], context: Any = None) -> None:
            home, there = aws.client("dynamodb"), self._client("dynamodb", region)
            for record in event["Records"]:
                key = {name: {"S": value["S"]} for name, value in record["dynamodb"]["Keys"].items()}
                item = home.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
                if item is None:
                    there.delete_item(TableName=table, Key=key)
                else:
                    there.put_item(TableName=table, Item=item)

        return apply

    def _objects(self) -> int:
        home, there = aws.client("s3"), self._client("s3")
        copied = 0
        replicas = {
            o["Key"]: o["ETag"]
            for page in there.get_paginator("list_objects_v2").paginate(Bucket=self.replica_bucket, Prefix="backups/")
            for o in page.get("Contents", [])
        }
        for page in home.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="backups/"):
            for found in page.get("Contents", []):
                if replicas.get(found["Key"]) == found["ETag"]:
                    continue
                body = home.get_object(Bucket=self.bucket, Key=found["Key"])["Body"].read()
                there.put_object(
                    Bucket=self.replica_bucket,
                    Key=found["Key"],
                    Body=body,
                    ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=self.replica_key,
                    ContentType="application/json",
                )
                copied += 1
        return copied
