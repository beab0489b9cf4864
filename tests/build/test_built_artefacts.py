"""What ``make build`` produces is what Lambda would run (issue 18): every function's handler imports from the built
artefacts with the core layer where Lambda puts it (``/opt/python``, here a directory of that shape), under the
functions' runtime (Python 3.12), using the bytecode shipped with it; the layer holds nothing no function imports.

The build itself (``sam build`` and ``infra/build.py``, about a minute and a half with sam's install) runs before
the suite in CI (``.ci/run``: ``make build``); without a build these tests are skipped and say why.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOST = "x86_64" if platform.machine() in ("x86_64", "AMD64") else "arm64"
BUILD = ROOT / ".aws-sam" / ("build" if HOST == "arm64" else f"build-{HOST}")  # the template's arm64 or this machine's
LAYER = BUILD / "CoreLayer" / "python"

pytestmark = pytest.mark.skipif(
    not LAYER.is_dir(), reason=f"no build for {HOST}: run `make build ARCH={HOST}` (CI does, before the suite)"
)


def python312() -> str:
    """The functions' runtime, found as the Makefile finds it: on PATH, or through pyenv."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for found in filter(None, candidates):
        check = [found, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return found
    pytest.fail("make build needs Python 3.12, the functions' runtime, and so do these tests")


def functions() -> list[tuple[str, str, str]]:
    """(logical id, built code folder, handler) of every function of the built template."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((BUILD / "template.yaml").read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            found.append((name, str(BUILD / resource["Properties"]["CodeUri"]), resource["Properties"]["Handler"]))
    return found


CHECK = """
import importlib, json, os, sys
module_name, attribute = sys.argv[1].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), attribute)
assert callable(handler)
opt = os.path.join(sys.argv[2], "python")
compiled = [m.__name__ for m in list(sys.modules.values())
            if (getattr(m, "__file__", None) or "").startswith(opt) and m.__file__.endswith(".py")
            and not os.path.exists(getattr(m, "__cached__", "") or "")]
print(json.dumps({"modules": len(sys.modules), "without_bytecode": compiled}))
"""


@pytest.fixture(scope="module")
def opt(tmp_path_factory) -> Path:
    """A directory laid out as Lambda's /opt: the layer's content under python/."""
    base = tmp_path_factory.mktemp("opt")
    (base / "python").symlink_to(LAYER, target_is_directory=True)
    return base


@pytest.mark.parametrize("function", functions() if LAYER.is_dir() else [], ids=lambda f: f[0])
def test_every_handler_imports_from_the_built_artefacts_with_its_bytecode(function, opt):
    name, code, handler = function
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([code, str(opt / "python")]),  # what Lambda's runtime puts on sys.path
        "PYTHONDONTWRITEBYTECODE": "1",  # /opt is read-only on Lambda
        "AWS_DEFAULT_REGION": "eu-central-1",
    }
    done = subprocess.run(
        [python312(), "-c", CHECK, handler, str(opt)], env=env, cwd=code, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["without_bytecode"] == [], f"{name} compiled modules of the layer at import"


def test_the_layer_holds_no_tools_and_only_the_service_models_the_functions_use():
    for tool in ("pip", "setuptools", "inquirer", "blessed", "click", "yaml", "chalice/cli", "stripe/params"):
        assert not (LAYER / tool).exists(), tool
    import sys

    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from protu.aws import SERVICES

    models = {entry.name for entry in (LAYER / "botocore" / "data").iterdir() if entry.is_dir()}
    assert models == set(SERVICES)


def test_stripe_works_without_its_type_definitions(opt):
    code = "import stripe; client = stripe.StripeClient('sk_test_x'); client.v1.checkout.sessions; print('ok')"
    env = {"PYTHONPATH": str(opt / "python"), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([python312(), "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
