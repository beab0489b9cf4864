"""``make isolation``: every test passes alone and in any order (the README tells people to run single tests).

The suite itself (``make test``) runs in a random order (pytest-random-order: the modules shuffled, and the tests
within each module; the seed is printed first, ``make test ARGS=--random-order-seed=N`` repeats it). What a random
order cannot show is a test that passes only because another module set something up first. CI runs two more checks
before the suite, each in processes of their own, about a minute and a half in all:

1. **Tests without the cloud.** Every test whose fixtures do not include ``cloud`` (pure functions, the template,
   the ASL, moto's fingerprint...) runs in processes in which no cloud is ever provisioned, in random order. A test
   that leans on what provisioning installs without asking for it (moto's mock, ``make_moto_atomic``'s patches, the
   environment, the settings, a bucket) fails here. Cheap: none of them provisions anything (30 to 45 s).
2. **Modules alone**, as someone running one file would: a non-browser module run alone in its own process, in file
   order (``-p no:random_order``). Every module would double CI's time, so CI runs a rotation: the modules ordered by
   a seed (printed; the UTC day unless given, so consecutive days begin elsewhere), run one after the other until
   ``--budget`` seconds are spent. A module still running when the budget is spent stops after its current test
   (``--stop-after``); the tests it passed by then count: its collection, its fixtures' setup alone, and its first
   tests are what running alone exercises first.

``--all`` runs every non-browser module alone, whole (by hand: about 15 minutes; ``--browser`` adds the browser
modules); ``--module tests/x/test_y.py`` given modules, whole. The last line is ``isolation: N passed, N failed``
(one per run); the exit status is 1 when a run failed.
"""

from __future__ import annotations

import argparse
import datetime
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.isolation"]
STOPPED = "isolation: time budget spent"


# ---------------------------------------------------------------------------------------------- pytest plugin
def pytest_addoption(parser) -> None:
    group = parser.getgroup("isolation", "tests/isolation.py")
    group.addoption("--without-cloud", action="store_true", help="only the tests whose fixtures exclude `cloud`")
    group.addoption("--stop-after", type=float, default=None, help="stop after the test running at SECONDS")


def pytest_collection_modifyitems(config, items) -> None:
    if not config.getoption("without_cloud"):
        return
    dropped = [item for item in items if "cloud" in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if "cloud" not in getattr(item, "fixturenames", ())]


def pytest_sessionstart(session) -> None:
    session.config._isolation_started = time.monotonic()


def pytest_runtest_teardown(item, nextitem) -> None:
    limit = item.config.getoption("stop_after")
    if limit is not None and nextitem is not None and time.monotonic() - item.config._isolation_started > limit:
        item.session.shouldstop = STOPPED


# ---------------------------------------------------------------------------------------------- the checks
def modules(*, browser: bool) -> list[str]:
    found = sorted(str(p.relative_to(ROOT)) for p in TESTS.rglob("test_*.py"))
    return [m for m in found if browser or not m.startswith("tests/browser/")]


def run(title: str, command: list[str]) -> tuple[bool, float]:
    print(f"isolation: {title}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)  # noqa: S603 - our own pytest
    seconds = time.monotonic() - started
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    stopped = done.returncode == 2 and STOPPED in done.stdout and not re.search(r"\b(failed|errors?)\b", last)
    ok = done.returncode == 0 or stopped
    print(f"    {'ok  ' if ok else 'FAIL'} {seconds:5.0f} s  {last}{'  (stopped: budget)' if stopped else ''}")
    if not ok:
        print(done.stdout[-8_000:], done.stderr[-3_000:], sep="\n", flush=True)
    return ok, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.isolation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every non-browser module alone, whole")
    parser.add_argument("--browser", action="store_true", help="with --all: the browser modules too")
    parser.add_argument("--module", action="append", default=[], help="this module alone, whole (repeatable)")
    parser.add_argument("--budget", type=float, default=45.0, help="seconds for the rotation of modules alone")
    parser.add_argument("--seed", type=int, default=None, help="the rotation's order (default: the UTC day)")
    parser.add_argument("--skip-without-cloud", action="store_true", help="skip check 1")
    args = parser.parse_args(argv)

    results: list[bool] = []
    if not args.skip_without_cloud and not args.module:
        seed = random.randrange(1, 1_000_000)  # noqa: S311 - an order, not a secret
        ok, _ = run(
            f"tests without the cloud, random order (--random-order-seed={seed})",
            [*PYTEST, "-n", "2", "--without-cloud", f"--random-order-seed={seed}", "tests"],
        )
        results.append(ok)

    if args.module or args.all:
        for module in args.module or modules(browser=args.browser):
            results.append(run(f"{module} alone", [*PYTEST, "-p", "no:random_order", module])[0])
    else:
        seed = args.seed if args.seed is not None else datetime.datetime.now(datetime.UTC).date().toordinal()
        rotation = modules(browser=False)
        random.Random(seed).shuffle(rotation)
        print(f"isolation: modules alone, a rotation (--seed={seed}) for {args.budget:.0f} s", flush=True)
        left = args.budget
        for module in rotation:
            if left <= 0:
                break
            command = [*PYTEST, "-p", "no:random_order", f"--stop-after={max(left - 10, 20):.0f}", module]
            ok, seconds = run(f"{module} alone", command)
            results.append(ok)
            left -= seconds
    print(f"isolation: {results.count(True)} passed, {results.count(False)} failed", flush=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
