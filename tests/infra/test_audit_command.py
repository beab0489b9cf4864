"""``make audit`` (``infra/audit.py``, issue 19): vulnerabilities in what uv.lock pins, by pip-audit, and never "no
known vulnerabilities" for packages no vulnerability service answered for. The services are the outside world:
unreachable here for real (a proxy that refuses every connection), or stood for by reports in pip-audit's format."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra import audit

ROOT = Path(__file__).resolve().parents[2]
CLEAN = re.compile(r"no known vulnerabilit", re.IGNORECASE)


def one_pinned_package(tmp_path) -> Path:
    lock = subprocess.run(
        [str(ROOT / ".venv-tools/bin/uv"), "export", "--frozen", "--quiet", "--no-dev", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    block = re.search(r"^pyotp==.*?(?=^\S)", lock, re.MULTILINE | re.DOTALL)[0]
    target = tmp_path / "requirements.txt"
    target.write_text(block)
    return target


@pytest.mark.parametrize("strict", [False, True])
def test_without_a_reachable_service_it_says_not_checked_never_clean(tmp_path, strict):
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    env |= {"NO_PROXY": "", "no_proxy": "", "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    env.pop("STRICT", None)
    command = [sys.executable, "-m", "infra.audit", "--requirements", str(one_pinned_package(tmp_path))]
    done = subprocess.run(
        [*command, *(["--strict"] if strict else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert "NOT CHECKED: no vulnerability service reachable (pypi, osv): 0 of 1 packages checked" in done.stdout
    assert not CLEAN.search(done.stdout + done.stderr)
    assert done.returncode == (1 if strict else 0)


def report(tmp_path, *dependencies) -> str:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"dependencies": list(dependencies), "fixes": []}))
    return str(path)


def clean(name, version="1.0"):
    return {"name": name, "version": version, "vulns": []}


def test_a_vulnerability_is_named_with_its_fix_and_fails(tmp_path, capsys):
    vulnerable = {
        "name": "requests",
        "version": "2.0.0",
        "vulns": [{"id": "PYSEC-2099-1", "fix_versions": ["2.99.0"], "aliases": [], "description": "..."}],
    }
    assert audit.main(["--report", report(tmp_path, clean("stripe"), vulnerable)]) == 1
    out = capsys.readouterr().out
    assert "VULNERABLE: requests 2.0.0: PYSEC-2099-1 (fixed in: 2.99.0)" in out and not CLEAN.search(out)


def test_every_package_answered_and_clean_is_the_only_pass(tmp_path, capsys):
    assert audit.main(["--report", report(tmp_path, clean("stripe"), clean("requests"))]) == 0
    assert "no known vulnerabilities in 2 packages" in capsys.readouterr().out


@pytest.mark.parametrize("strict", [False, True])
def test_packages_a_service_skipped_are_named_not_checked(tmp_path, capsys, strict):
    skipped = {"name": "segno", "skip_reason": "Dependency not found on PyPI and could not be audited: segno (1.6.6)"}
    status = audit.main(["--report", report(tmp_path, clean("stripe"), skipped), *(["--strict"] if strict else [])])
    out = capsys.readouterr().out
    assert "NOT CHECKED: 1 of 2 packages (report answered nothing): segno" in out and not CLEAN.search(out)
    assert status == (1 if strict else 0)


def test_an_unreadable_report_is_an_error(tmp_path, capsys):
    path = tmp_path / "report.json"
    for text in ("No known vulnerabilities found", "[]", '{"dependencies": "none"}'):
        path.write_text(text)
        assert audit.main(["--report", str(path)]) == 2
