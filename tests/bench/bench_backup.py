"""Backup and restore-test throughput for 10,000 items (items per second), in a local cloud of their own.

Value: ``protu.ops.backup.run`` (scan, group by company, export) and ``protu.ops.restore_test.run`` (read the
exports, write them into a scratch table, read them back, compare) over ``ITEMS`` items in 10 companies.
Baseline: one plain ``Scan`` of the same table through boto3, the floor any backup sits on. No budget: the
figures say what a daily run costs as the data grows (both jobs run in one 15-minute function today).
"""

from __future__ import annotations

import os
import time

from protu import caches

ITEMS = 10_000
COMPANIES = 10


def measure() -> list[dict]:
    import boto3
    from moto import mock_aws

    from infra.cloud import LocalCloud

    saved = dict(os.environ)
    try:
        with mock_aws():
            os.environ.pop("AWS_ENDPOINT_URL", None)
            cloud = LocalCloud(stack="bench").provision()
            os.environ.update({**cloud.environment(), "LOG_LEVEL": "WARNING"})
            from protu.ops import backup, restore_test
            from protu.settings import reload

            settings = reload()
            caches.reset()
            from protu.logging import configure_logging

            configure_logging("WARNING")
            client = boto3.client("dynamodb", region_name=settings.region)
            per = ITEMS // COMPANIES
            for c in range(COMPANIES):
                items = [
                    {"pk": {"S": f"T#bench-{c:02d}#ROLE"}, "sk": {"S": f"role-{i:020x}"}, "n": {"N": str(i)}}
                    for i in range(per)
                ]
                for start in range(0, per, 25):
                    batch = [{"PutRequest": {"Item": it}} for it in items[start : start + 25]]
                    client.batch_write_item(RequestItems={settings.data_table: batch})

            started = time.perf_counter()
            scanned = sum(len(page) for page in backup.pages(settings.data_table))
            baseline = scanned / (time.perf_counter() - started)

            started = time.perf_counter()
            summary = backup.run()
            backed_up = summary["items"] / (time.perf_counter() - started)

            started = time.perf_counter()
            result = restore_test.run()
            restored = sum(t["items"] for t in result["tables"].values()) / (time.perf_counter() - started)
            assert result["ok"], result["problems"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
        from protu.settings import reload

        reload()
    common = {"unit": "/s", "baseline": "boto3 Scan of the same table", "baseline_value": baseline, "budget": "-"}
    return [
        {"name": f"backup, {ITEMS:,} items", "value": backed_up, **common},
        {"name": f"restore test, {ITEMS:,} items", "value": restored, **common},
    ]


if __name__ == "__main__":
    for row in measure():
        print(row)
