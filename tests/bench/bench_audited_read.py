"""An audited read against an unaudited one (issue 17): the median time of a warm ``GET /api/candidates/{id}``
(a person read: one audit event, its one extra DynamoDB write) against ``GET /api/roles/{id}`` (a read of no one),
``REQUESTS`` each, interleaved, one signed-in owner, in a local cloud of its own. The unusual-access watch runs off
the request path (the audit stream), so the difference is the event's write alone.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import time

from protu import caches

REQUESTS = 200
PASSWORD = "lantern harbour quietly 42"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def measure() -> list[dict]:
    from moto import mock_aws

    from infra.cloud import LocalCloud

    saved = dict(os.environ)
    try:
        with mock_aws():
            os.environ.pop("AWS_ENDPOINT_URL", None)
            cloud = LocalCloud(stack="bench-reads").provision()
            os.environ.update({**cloud.environment(), "LOG_LEVEL": "WARNING"})
            from protu.logging import configure_logging
            from protu.settings import reload

            reload()
            caches.reset()
            configure_logging("WARNING")
            from infra import gateway
            from infra.seed import add_company
            from infra.server import load_functions

            app = load_functions()["/api"]
            add_company("c-bench-reads", "Bench Ltd", [("owner", "Ben Reader", "ben@bench.example")], PASSWORD)
            quiet = io.StringIO()

            def call(method: str, path: str, body: dict | None = None, token: str = "") -> dict:
                headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                with contextlib.redirect_stdout(quiet):  # each request's metrics line (EMF)
                    reply = gateway.invoke(
                        app,
                        method,
                        path,
                        headers=headers,
                        body=json.dumps(body) if body else None,
                        source_ip="198.18.0.9",
                    )
                return json.loads(reply.body or b"{}")

            login = {"email": "ben@bench.example", "password": PASSWORD}
            token = call("POST", "/api/auth/login", login)["access_token"]
            # no sealed notes: the difference is the audit event alone
            candidate = call("POST", "/api/candidates", {"name": "Cara Bench"}, token)["id"]
            role = call("POST", "/api/roles", {"title": "Analyst"}, token)["id"]
            paths = {"audited": f"/api/candidates/{candidate}", "plain": f"/api/roles/{role}"}
            times: dict[str, list[float]] = {"audited": [], "plain": []}
            for n in range(REQUESTS + 5):  # the first few warm the process up and are not counted
                for which, path in paths.items():
                    started = time.perf_counter()
                    call("GET", path, token=token)
                    if n >= 5:
                        times[which].append((time.perf_counter() - started) * 1000)
            audited, plain = statistics.median(times["audited"]), statistics.median(times["plain"])
            return [
                {
                    "name": f"audited read (a candidate) vs unaudited (a role), median of {REQUESTS}",
                    "value": audited,
                    "unit": "ms",
                    "baseline": "an unaudited read",
                    "baseline_value": plain,
                    "budget": f"difference {audited - plain:+.1f} ms: one DynamoDB write (the audit event)",
                }
            ]
    finally:
        os.environ.clear()
        os.environ.update(saved)
