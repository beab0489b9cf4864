"""Cold start of the API function: a fresh interpreter imports ``api`` and answers its first request.

Baseline: a fresh interpreter importing boto3 + pynamodb.models, which every function needs anyway. Each figure is
the median of several runs of a subprocess, interpreter start-up excluded (timed inside the child), against the median
of as many baseline runs made in turn with them (``_medians_ms``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = 9

BASELINE = """
import time; t = time.perf_counter()
import boto3, pynamodb.models
print((time.perf_counter() - t) * 1000)
"""

IMPORT_API = """
import time; t = time.perf_counter()
import api
print((time.perf_counter() - t) * 1000)
"""

# Import plus the first request to the public health route, to a local moto server (the bench's own local cloud), so
# the figure includes what a first request really costs apart from the network. Health asks every dependency: four
# clients (DynamoDB, KMS, S3, Step Functions) and seven calls, the checks of each group at once. It is printed beside
# the budgeted first request (the authenticated read below, DESIGN.md's) for context.
FIRST_REQUEST = """
import time; t = time.perf_counter()
import api
from infra import gateway
answer = api.app(gateway.event("GET", "/api/health"), gateway.LambdaContext("api"))
elapsed = (time.perf_counter() - t) * 1000
assert answer["statusCode"] == 200, answer
print(elapsed)
"""


# Import plus the first authenticated read: GET /api/roles with a bearer token of a signed-in owner (made by the
# parent in the same local cloud): the signing keys' secret, the session, the tenant's credentials and the page.
FIRST_READ = """
import os, time; t = time.perf_counter()
import api
from infra import gateway
headers = {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"], "User-Agent": os.environ["BENCH_AGENT"]}
event = gateway.event("GET", "/api/roles", headers=headers, source_ip="198.18.0.9")
answer = api.app(event, gateway.LambdaContext("api"))
elapsed = (time.perf_counter() - t) * 1000
assert answer["statusCode"] == 200, answer
print(elapsed)
"""
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PASSWORD = "lantern harbour quietly 42"


def _signed_in_owner() -> str:
    """An access token of a company's owner in the running local cloud (with one role to list)."""
    import json

    from protu.settings import reload

    from infra import gateway
    from infra.seed import add_company
    from infra.server import load_functions

    reload()
    app = load_functions()["/api"]
    add_company("c-bench-first-read", "Bench Ltd", [("owner", "Ben First", "ben@first.example")], PASSWORD)
    headers = {"Content-Type": "application/json", "User-Agent": AGENT}
    body = json.dumps({"email": "ben@first.example", "password": PASSWORD})
    login = gateway.invoke(app, "POST", "/api/auth/login", headers=headers, body=body, source_ip="198.18.0.9")
    token = json.loads(login.body)["access_token"]
    headers["Authorization"] = f"Bearer {token}"
    role = json.dumps({"title": "Analyst"})
    gateway.invoke(app, "POST", "/api/roles", headers=headers, body=role, source_ip="198.18.0.9")
    return token


_BYTECODE = tempfile.mkdtemp(prefix="protu-bench-pyc-")


def _medians_ms(code: str, *, interpreter: str = sys.executable, path: str = "", **extra: str) -> tuple[float, float]:
    """The medians of ``RUNS`` fresh interpreters running ``code`` and of as many importing the floor (``BASELINE``),
    one of each in turn: a machine whose speed drifts during the bench (these are shared) moves both alike, so the
    ratio holds. From the source tree (no ``path``), every module is imported with bytecode as Lambda's would be (a
    cache of the bench's own, written by one run first: these machines set PYTHONDONTWRITEBYTECODE, so the tree has
    none); the built layer brings its own."""
    env = {
        **os.environ,
        "PYTHONPATH": path or os.pathsep.join(str(ROOT / p) for p in ("layers/core", "functions/api", ".")),
        "AWS_DEFAULT_REGION": "eu-central-1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }
    env.pop("SENTRY_DSN", None)
    # The built layer's bytecode lies beside its modules: a PYTHONPYCACHEPREFIX (``make`` exports one) would send
    # Python to look elsewhere and compile the whole layer on every run. And that interpreter's own site-packages are
    # not Lambda's: a .pth there (this sandbox has one, importing certifi, typing, inspect...) would import modules
    # before the timer starts, so it starts without ``site`` (-S); everything comes from ``path``.
    env.pop("PYTHONPYCACHEPREFIX", None)
    start = [interpreter, "-S", "-c"] if path else [interpreter, "-c"]
    if not path:
        env.pop("PYTHONDONTWRITEBYTECODE")
        env["PYTHONPYCACHEPREFIX"] = _BYTECODE
        for warm in (BASELINE, code):
            subprocess.run([*start, warm], env=env, cwd=ROOT, capture_output=True, check=True)
    times: dict[str, list[float]] = {BASELINE: [], code: []}
    for _ in range(RUNS):
        for run in (BASELINE, code):
            out = subprocess.run([*start, run], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
            times[run].append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times[code]), statistics.median(times[BASELINE])


def measure() -> list[dict]:
    from infra.server import start_local_cloud

    moto, _ = start_local_cloud("http://127.0.0.1:8000")  # sets AWS_ENDPOINT_URL and the template's environment
    try:
        return _measure()
    finally:
        moto.stop()


def _built(token: str) -> list[dict]:
    """The API's cold import, and its cold import plus the first authenticated read, from the built artefacts
    (``make build ARCH=<this machine's>``): Python 3.12, the layer as Lambda lays it out, its bytecode used as is;
    against the same interpreter importing boto3 + pynamodb.models from the layer. And the layer's size unzipped.
    (The project's root comes last on the path, for ``infra.gateway``'s event, after the function and the layer.)"""
    import platform

    from tests.build.test_built_artefacts import BUILD, LAYER, python312

    if not LAYER.is_dir():
        print(f"(no build for {platform.machine()}: `make build ARCH=...` adds the built API's figures)")
        return []
    with tempfile.TemporaryDirectory() as base:
        (Path(base) / "python").symlink_to(LAYER, target_is_directory=True)
        path = os.pathsep.join([str(BUILD / "ApiFunction"), str(Path(base) / "python"), str(ROOT)])
        python = python312()
        built, floor = _medians_ms(IMPORT_API, interpreter=python, path=path)
        read, read_floor = _medians_ms(FIRST_READ, interpreter=python, path=path, BENCH_TOKEN=token, BENCH_AGENT=AGENT)
    size = sum(f.stat().st_size for f in LAYER.rglob("*") if f.is_file()) / 1_000_000
    return [
        {
            "name": "built api cold import (python3.12, layer bytecode)",
            "value": built,
            "unit": "ms",
            "baseline": "the same importing boto3 + pynamodb.models",
            "baseline_value": floor,
            "budget": f"<= 1.3x; the core layer is {size:.1f} MB unzipped (goal: under 50 MB)",
        },
        {
            "name": "built api cold import + first authenticated GET /api/roles",
            "value": read,
            "unit": "ms",
            "baseline": "the same importing boto3 + pynamodb.models",
            "baseline_value": read_floor,
            "budget": "<= 1.5x",
        },
    ]


def _measure() -> list[dict]:
    token = _signed_in_owner()
    read = {"BENCH_TOKEN": token, "BENCH_AGENT": AGENT}
    figures = [
        ("api cold import", IMPORT_API, {}, "<= 1.5x"),
        ("api cold import + first GET /api/health", FIRST_REQUEST, {}, "context: 4 clients, 7 calls (no budget)"),
        ("api cold import + first authenticated GET /api/roles", FIRST_READ, read, "<= 1.5x"),
    ]
    rows = []
    for name, code, extra, budget in figures:
        value, floor = _medians_ms(code, **extra)
        rows.append(
            {
                "name": name,
                "value": value,
                "unit": "ms",
                "baseline": "import boto3 + pynamodb.models",
                "baseline_value": floor,
                "budget": budget,
            }
        )
    return [*rows, *_built(token)]
