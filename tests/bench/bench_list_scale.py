"""Lists whose cost does not grow with the company (issue 18): the median time of a filtered page
(``GET /api/candidates?stage=hired``, one of the company's candidates matching) against the unfiltered first page,
in companies of ``SIZES`` candidates, and the records DynamoDB read for each (its ``ScannedCount``). The records
are written straight to the table as the service writes them (``Records.new``: fields, index entries), so the
figure measures reading, not the hours writing 50,000 records through the API would take. moto answers a query by
going through the table in Python, so both times grow with the table here (DynamoDB's do not); the records read per
page are the structural figure: ``limit + 1`` at most, whatever the size.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import time

from protu import caches

SIZES = (1_000, 10_000, 50_000)
REQUESTS = 15
PASSWORD = "lantern harbour quietly 42"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def _fill(tenant: str, owner: str, count: int) -> None:
    from protu.directory import kinds
    from protu.directory.store import Record, Records, new_id

    records = Records(tenant, kinds.CANDIDATES.prefix, kinds.CANDIDATES.indexed)
    with Record.batch_write() as batch:
        for n in range(count):
            data = {"name": f"Candidate {n}", "stage": "hired" if n == count // 2 else "applied", "source": "bench"}
            batch.save(records.new(new_id(kinds.CANDIDATES.id_prefix), owner, data))


def measure() -> list[dict]:
    from moto import mock_aws

    from infra.cloud import LocalCloud

    saved = dict(os.environ)
    try:
        with mock_aws():
            os.environ.pop("AWS_ENDPOINT_URL", None)
            cloud = LocalCloud(stack="bench-lists").provision()
            os.environ.update({**cloud.environment(), "LOG_LEVEL": "WARNING"})
            from protu.logging import configure_logging
            from protu.settings import reload

            reload()
            caches.reset()
            configure_logging("WARNING")
            return [row for size in SIZES for row in _company(size)]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _company(size: int) -> list[dict]:
    import botocore.client

    from infra import gateway
    from infra.seed import add_company
    from infra.server import load_functions

    app = load_functions()["/api"]
    tenant, email = f"c-bench-{size}", f"ben{size}@bench.example"
    owner = add_company(tenant, "Bench Ltd", [("owner", "Ben", email)], PASSWORD)[0]
    _fill(tenant, owner.id, size)
    quiet = io.StringIO()
    headers = {"Content-Type": "application/json", "User-Agent": AGENT}
    body = json.dumps({"email": email, "password": PASSWORD})
    with contextlib.redirect_stdout(quiet):
        login = gateway.invoke(app, "POST", "/api/auth/login", headers=headers, body=body, source_ip="198.18.0.9")
    headers["Authorization"] = "Bearer " + json.loads(login.body)["access_token"]
    scanned = {"items": 0}
    real = botocore.client.BaseClient._make_api_call

    def counting(client, operation, params):
        answer = real(client, operation, params)
        if operation == "Query" and "CAND" in json.dumps(params.get("ExpressionAttributeValues") or {}):
            scanned["items"] += answer.get("ScannedCount", 0)
        return answer

    times: dict[str, list[float]] = {"filtered": [], "first": []}
    reads: dict[str, int] = {}
    paths = {"filtered": "/api/candidates?stage=hired", "first": "/api/candidates"}
    botocore.client.BaseClient._make_api_call = counting
    try:
        for n in range(REQUESTS + 3):
            for which, path in paths.items():
                scanned["items"] = 0
                started = time.perf_counter()
                with contextlib.redirect_stdout(quiet):
                    reply = gateway.invoke(app, "GET", path, headers=headers, source_ip="198.18.0.9")
                if n >= 3:
                    times[which].append((time.perf_counter() - started) * 1000)
                assert reply.status == 200, reply.body
                reads[which] = scanned["items"]
    finally:
        botocore.client.BaseClient._make_api_call = real
    filtered, first = statistics.median(times["filtered"]), statistics.median(times["first"])
    return [
        {
            "name": f"filtered page, {size:,} candidates (1 matching) vs the first page, median of {REQUESTS}",
            "value": filtered,
            "unit": "ms",
            "baseline": "the unfiltered first page",
            "baseline_value": first,
            "budget": f"<= 1.5x; records read per page: {reads['filtered']} filtered, {reads['first']} first",
        }
    ]
