"""Known vs unknown email, timed (issue 15, attack 3): the median time of the four public identity routes that take
an email, for an address with an account against one without, ``REQUESTS`` requests each, interleaved, in a local
cloud of their own. Value: the known address's median; baseline: the unknown one's. The goal is a ratio of 1.00
(the same work in the request; what depends on the account runs later, off the request path, as a mail job).
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
import uuid

from protu import caches

REQUESTS = 200
PASSWORD = "lantern harbour quietly 42"


def _bodies(email: str) -> dict[str, dict[str, str]]:
    return {
        "/api/auth/password/forgot": {"email": email},
        "/api/auth/magic-link": {"email": email},
        "/api/auth/signup": {
            "company_name": "Probe Co",
            "name": "Mallory",
            "email": email,
            "password": PASSWORD,
            "accept_terms": True,
        },
        "/api/auth/login": {"email": email, "password": "not the password at all"},
    }


def measure() -> list[dict]:
    import json

    from moto import mock_aws

    from infra.cloud import LocalCloud

    saved = dict(os.environ)
    try:
        with mock_aws():
            os.environ.pop("AWS_ENDPOINT_URL", None)
            cloud = LocalCloud(stack="bench-enum").provision()
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
            known = "known-owner@bench.example"
            add_company("c-bench-enum", "Bench Ltd", [("owner", "Ben Known", known)], PASSWORD)
            rows, quiet = [], io.StringIO()
            for route in _bodies(known):
                times: dict[str, list[float]] = {"known": [], "unknown": []}
                for n in range(REQUESTS + 5):  # the first few warm the process up and are not counted
                    for who in ("known", "unknown"):
                        email = known if who == "known" else f"nobody-{uuid.uuid4().hex[:10]}@bench.example"
                        body = json.dumps(_bodies(email)[route])
                        ip = f"198.18.{n % 250}.{(n // 250) * 2 + (who == 'known') + 1}"
                        started = time.perf_counter()
                        with contextlib.redirect_stdout(quiet):  # each request's metrics line (EMF)
                            gateway.invoke(
                                app,
                                "POST",
                                route,
                                headers={"Content-Type": "application/json"},
                                body=body,
                                source_ip=ip,
                            )
                        if n >= 5:
                            times[who].append((time.perf_counter() - started) * 1000)
                known_ms, unknown_ms = statistics.median(times["known"]), statistics.median(times["unknown"])
                rows.append(
                    {
                        "name": f"{route} known vs unknown email (median of {REQUESTS})",
                        "value": known_ms,
                        "unit": "ms",
                        "baseline": "an unknown email",
                        "baseline_value": unknown_ms,
                        "budget": f"difference {known_ms - unknown_ms:+.1f} ms; goal 1.00x",
                    }
                )
            return rows
    finally:
        os.environ.clear()
        os.environ.update(saved)
