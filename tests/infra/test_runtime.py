"""One Python everywhere, one set of pinned packages (issue 19): the functions' runtime in template.yaml is the
interpreter of the virtual environment that runs the tests and the local cloud, the one pyproject.toml requires, the
one `make` looks for and the one the layer is built with; the core layer installs what uv.lock pins, generated from
it (`make layer-requirements`, or `make lock` to update every pin)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infra import template as tpl

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".venv-tools" / "bin" / "uv"  # installed by `make install`, pinned in the Makefile


def runtime() -> tuple[int, int]:
    found = re.fullmatch(r"python(\d+)\.(\d+)", tpl.load()["Globals"]["Function"]["Runtime"])
    assert found, "the functions run on a python runtime"
    return int(found[1]), int(found[2])


def test_the_tests_run_on_the_functions_runtime():
    assert sys.version_info[:2] == runtime()


def test_pyproject_the_makefile_and_the_layer_build_ask_for_the_functions_runtime():
    major, minor = runtime()
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"] == f"=={major}.{minor}.*"
    makefile = (ROOT / "Makefile").read_text()
    assert f"sys.version_info[:2] == ({major}, {minor})" in makefile
    assert f"$$HOME/.pyenv/versions/{major}.{minor}*/bin/python{major}.{minor}" in makefile
    layer = tpl.load()["Resources"]["CoreLayer"]
    assert layer["Metadata"]["BuildMethod"] == f"python{major}.{minor}"
    assert layer["Properties"]["CompatibleRuntimes"] == [f"python{major}.{minor}"]


def test_the_layer_installs_what_the_lock_pins_with_hashes():
    layer = tpl.load()["Resources"]["CoreLayer"]["Properties"]
    written = (ROOT / layer["ContentUri"] / "requirements.txt").read_text()
    command = [str(UV), "export", "--frozen", "--quiet", "--no-dev", "--no-emit-project"]
    exported = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    body = [line for line in written.splitlines() if not line.startswith("#")]
    assert body == [line for line in exported.splitlines() if not line.startswith("#")], "run `make layer-requirements`"
    pins = [line.split(" ")[0] for line in body if line and not line.startswith(" ")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^=\s]+", pin) for pin in pins), pins
    assert written.count("--hash=sha256:") >= len(pins)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {re.split(r"[<>=\[ ]", d)[0].lower() for d in declared} <= names
    assert not {"moto", "pytest", "playwright", "ruff"} & names  # development tools stay out of the layer


def make(home: Path, *args: str) -> subprocess.CompletedProcess:
    """make on a machine whose PATH holds bash alone (no python3.12) and whose HOME is ``home`` (its pyenv)."""
    path = home / "path"
    path.mkdir(parents=True, exist_ok=True)
    (path / "bash").symlink_to(shutil.which("bash"))
    command = [shutil.which("make"), "--no-print-directory", *args]
    env = {"PATH": str(path), "HOME": str(home)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60)


SHOW = '--eval=py312: ; @echo "[$(PY312)]"'


def test_make_finds_the_runtimes_python_through_pyenv(tmp_path):
    major, minor = runtime()
    pyenv = tmp_path / ".pyenv" / "versions" / f"{major}.{minor}.99" / "bin" / f"python{major}.{minor}"
    pyenv.parent.mkdir(parents=True)
    pyenv.symlink_to(Path(sys._base_executable).resolve())  # the tests run on the runtime's Python
    assert make(tmp_path, SHOW, "py312").stdout.strip() == f"[{pyenv}]"


@pytest.mark.parametrize("given", [None, "not-3.12"])
def test_without_the_runtimes_python_make_stops_and_says_how_to_get_it(tmp_path, given):
    """Neither on PATH nor in pyenv, or PY312 naming another Python: a target that needs it installs nothing."""
    tools = tmp_path / "tools"
    args = [f"TOOLS={tools}"]
    if given:
        other = tmp_path / "python3.11"
        other.write_text("#!/bin/sh\necho 'Python 3.11.7'\nexit 1\n")
        other.chmod(0o755)
        args.append(f"PY312={other}")
    done = make(tmp_path, *args, f"{tools}/bin/uv")
    assert done.returncode != 0 and not tools.exists()
    said = "Protu needs Python 3.12, the functions' runtime: install it (pyenv install 3.12, or your system's"
    assert said in done.stdout and "set PY312=/path/to/python3.12" in done.stdout, done.stdout + done.stderr
    readme = (ROOT / "README.md").read_text()
    assert "`pyenv install 3.12`" in readme and "`PY312=/path/to/python3.12`" in readme
