"""``make audit``: known vulnerabilities in every package ``uv.lock`` pins (runtime and development), by pip-audit,
and never a pass that was not earned.

pip-audit asks a vulnerability service about each pinned package: PyPI's JSON API, then OSV for what PyPI could not
answer. A package no service answered for is *not checked*, whatever pip-audit's own summary says (it prints "No
known vulnerabilities found" after skipping every package when PyPI's API is out of reach, and stops with a
traceback when OSV is). So this prints, and exits with:

* ``NOT CHECKED: ...`` when some or all packages could not be checked (naming them, and the services tried):
  exit 1 with ``--strict`` (``make audit STRICT=1``), 0 otherwise;
* each vulnerability found (package, version, id, fixed versions): exit 1;
* ``no known vulnerabilities in N packages`` only when every package was checked and none has one: exit 0.

``--report FILE`` reads a report pip-audit wrote (``--format json``) elsewhere, on a machine that reaches a
service, instead of running it here; ``--requirements FILE`` audits a hashed requirements file instead of the lock.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("pypi", "osv")


def export_lock(folder: Path) -> Path:
    """Every package of uv.lock, pinned with its hashes, as a requirements file pip-audit reads without pip."""
    target = folder / "requirements.txt"
    uv = ROOT / ".venv-tools" / "bin" / "uv"
    command = [str(uv), "export", "--frozen", "--quiet", "--all-groups", "--no-emit-project", "--output-file"]
    subprocess.run([*command, str(target)], cwd=ROOT, check=True)
    return target


def run_pip_audit(requirements: Path, service: str) -> dict[str, Any] | None:
    """pip-audit's JSON report with one service, or None when it could not make one (the service unreachable)."""
    command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements), "--require-hashes"]
    command += ["--disable-pip", "--format", "json", "--progress-spinner", "off", "--vulnerability-service", service]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return None
    return report if isinstance(report, dict) and isinstance(report.get("dependencies"), list) else None


def canonical(name: str) -> str:
    """A package name as PEP 503 compares them (``PyYAML``, ``pyyaml``; ``argon2_cffi``, ``argon2-cffi``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(requirements: Path) -> set[str]:
    """The packages a requirements file pins (``name==version`` at the start of a line)."""
    lines = requirements.read_text().splitlines()
    return {canonical(line.split("==")[0].strip()) for line in lines if "==" in line and line[:1].isalnum()}


def judge(
    reports: dict[str, dict[str, Any] | None], expected: set[str] = frozenset()
) -> tuple[dict[str, dict], list[str], int]:
    """Per package the answer of the first service that gave one: ({name: {version, vulns}}, the names no service
    answered for, how many packages there were)."""
    answered: dict[str, dict] = {}
    names: set[str] = set(expected)
    for report in reports.values():
        for dependency in (report or {}).get("dependencies", []):
            if not isinstance(dependency, dict):
                continue
            name = canonical(str(dependency.get("name", "")))
            names.add(name)
            if "skip_reason" not in dependency and isinstance(dependency.get("vulns"), list):
                answered.setdefault(name, {"version": dependency.get("version"), "vulns": dependency["vulns"]})
    return answered, sorted(names - set(answered)), len(names)


def verdict(
    reports: dict[str, dict[str, Any] | None], *, strict: bool, expected: set[str] = frozenset()
) -> tuple[int, list[str]]:
    answered, unchecked, total = judge(reports, expected)
    lines, status = [], 0
    for name, found in sorted(answered.items()):
        for vuln in found["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(f"VULNERABLE: {name} {found['version']}: {vuln.get('id')} (fixed in: {fixes})")
            status = 1
    tried = ", ".join(reports)
    if not answered:
        lines.append(f"NOT CHECKED: no vulnerability service reachable ({tried}): 0 of {total} packages checked")
    elif unchecked:
        shown = ", ".join(unchecked[:20]) + (" ..." if len(unchecked) > 20 else "")
        lines.append(f"NOT CHECKED: {len(unchecked)} of {total} packages ({tried} answered nothing): {shown}")
    if not answered or unchecked:
        return (1 if strict else status), lines
    if status == 0:
        lines.append(f"no known vulnerabilities in {total} packages ({tried})")
    return status, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make audit", description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", default=os.environ.get("STRICT") == "1")
    parser.add_argument("--report", type=Path, help="a pip-audit JSON report to judge instead of running pip-audit")
    parser.add_argument("--requirements", type=Path, help="a hashed requirements file instead of uv.lock")
    args = parser.parse_args(argv)
    expected: set[str] = set()
    if args.report:
        try:
            found = json.loads(args.report.read_text())
        except (OSError, ValueError) as error:
            print(f"make audit: cannot read the report: {error}", file=sys.stderr)
            return 2
        if not (isinstance(found, dict) and isinstance(found.get("dependencies"), list)):
            print("make audit: not a pip-audit JSON report (no dependencies list)", file=sys.stderr)
            return 2
        reports = {"report": found}
    else:
        with tempfile.TemporaryDirectory() as folder:
            requirements = args.requirements or export_lock(Path(folder))
            expected = pinned(requirements)
            reports = {}
            for service in SERVICES:
                reports[service] = run_pip_audit(requirements, service)
                answered, unchecked, _ = judge(reports, expected)
                if answered and not unchecked:
                    break  # every package answered: no need to ask the next service
    status, lines = verdict(reports, strict=args.strict, expected=expected)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
