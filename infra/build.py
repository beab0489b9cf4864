"""``make build``'s second half: after ``sam build``, make the core layer what a cold start wants (issue 18).

* **Nothing that no one imports at run time.** Chalice's command line brings pip, setuptools, wheel, inquirer,
  blessed, click, PyYAML and their helpers into the layer; Chalice's runtime (``chalice.app``) needs none of them,
  nor its deployer and local server. stripe's ``params`` package holds type definitions its modules import only
  for type checkers.
  botocore ships the models of every AWS service; the functions use ``protu.aws.SERVICES`` (``aws.client`` refuses
  any other), so the layer keeps those (without their documentation examples) and botocore's shared data, whose
  ``endpoints.json`` keeps only their entries: every client parses it on a cold start (1.2 MB, ~11 ms).
  pip, setuptools and wheel leave ``packaging`` behind; ``pycparser`` parses C declarations for cffi's ABI mode,
  which none of the layer's libraries uses (argon2's and cryptography's bindings are compiled).
  Sentry's SDK ships ~90 integrations; the layer keeps those ``protu.observability.init_sentry`` loads (found by
  running it against the built layer).
* **Bytecode.** Lambda's ``/opt`` is read-only, so without ``.pyc`` files every cold start compiles every module
  it imports again. ``compileall`` with the runtime's interpreter (``--python``: Python 3.12, the template's
  runtime):
  - our own code (``protu``, the functions' handlers) keeps its sources, with ``unchecked-hash`` bytecode beside
    them: Lambda uses it as it is, never comparing timestamps, and tracebacks still show our lines;
  - the libraries ship as bytecode alone (``compileall -b``, each ``.pyc`` where its ``.py`` was, the ``.py``
    removed): Python imports such a file as it is, and the layer does not carry every library twice (their
    sources were 18 MB of the 58). Their frames in a traceback name the file and line, without the source text.

``python -m infra.build [--python python3.12] [--build-dir .aws-sam/build]``; prints what it removed and the
layer's size unzipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Chalice's command line and its dependencies, and the packaging tools pip installs into every target.
UNUSED = (  # paths or glob patterns under the layer
    "pip",
    "setuptools",
    "wheel",
    "_distutils_hack",
    "distutils-precedence.pth",
    "inquirer",
    "blessed",
    "editor",
    "readchar",
    "runs",
    "jinxed",
    "wcwidth",
    "click",
    "yaml",
    "_yaml",
    # Chalice's deployer, packager, local server and CLI (its runtime is chalice.app alone)
    "chalice/cli",
    "chalice/deploy",
    "chalice/cdk",
    "chalice/templates",
    "chalice/analyzer.py",
    "chalice/awsclient.py",
    "chalice/local.py",
    "chalice/package.py",
    "chalice/pipeline.py",
    "chalice/policy.py",
    "chalice/policies.json",
    "chalice/policies-extra.json",
    "chalice/logs.py",
    "chalice/invoke.py",
    "chalice/test.py",
    # stripe's request parameter types: imported only under TYPE_CHECKING (14 MB)
    "stripe/params",
    "packaging",
    "pycparser",
    "certifi/tests",
    # lxml (minisaml's XML signatures need lxml.etree and lxml.builder only): objectify, HTML, Schematron, the C
    # headers and the Cython sources (~7 MB)
    "lxml/objectify.*",
    "lxml/html",
    "lxml/includes",
    "lxml/isoschematron",
    "lxml/*.pxi",
    "lxml/*.h",
    "multidict/_testcapi.*",
    # the C speed-ups of minisaml's URL helpers (yarl and its multidict, propcache): each falls back to its pure
    # Python twin, and only a SAML sign-in's redirect uses them (~2.5 MB)
    "multidict/_multidict.*.so",
    "propcache/_helpers_c.*.so",
    "yarl/_quoting_c.*.so",
    "*/*.pyx",  # Cython sources beside their compiled modules
    # pyasn1_modules: py_webauthn reads X.509 with rfc5280 alone (the other 130 RFCs: ~1 MB)
    "pyasn1_modules/rfc[0-46-9]*.py",
    "pyasn1_modules/rfc5[013-9]*.py",
    "pyasn1_modules/rfc52[0-79]*.py",
    "pyasn1_modules/rfc528[0-9]?*.py",
)
OURS = ("protu",)  # the layer's own code: sources kept
SENTRY_PROBE = """
import json, sys
from protu.observability import init_sentry
assert init_sentry("probe")
print(json.dumps(sorted(name for name in sys.modules if name.startswith("sentry_sdk.integrations."))))
"""
DISTRIBUTIONS = ("pip", "setuptools", "wheel", "inquirer", "blessed", "editor", "readchar", "runs", "jinxed")
DISTRIBUTIONS += ("wcwidth", "click", "pyyaml", "packaging", "pycparser")
# botocore's data every client needs, whatever its service
BOTOCORE_SHARED = ("endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json")


def services() -> tuple[str, ...]:
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from protu.aws import SERVICES

    return SERVICES


def prune(layer: Path) -> list[str]:
    """Remove what no function imports; answers what was removed (relative paths)."""
    removed = []
    dist_infos = [
        entry
        for entry in layer.iterdir()
        if entry.name.endswith(".dist-info") and entry.name.lower().split("-")[0] in DISTRIBUTIONS
    ]
    for found in [*(path for name in UNUSED for path in sorted(layer.glob(name))), *dist_infos]:
        if found.is_dir():
            shutil.rmtree(found)
        elif found.exists():
            found.unlink()
        else:
            continue
        removed.append(str(found.relative_to(layer)))
    data = layer / "botocore" / "data"
    keep = set(services()) | set(BOTOCORE_SHARED)
    for entry in sorted(data.iterdir()) if data.is_dir() else ():
        if entry.name not in keep:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            removed.append(f"botocore/data/{entry.name}")
    removed += [str(f.relative_to(layer)) for f in data.glob("*/*/examples-1.json")]
    for example in data.glob("*/*/examples-1.json"):
        example.unlink()
    trim_endpoints(data)
    return removed


def trim_endpoints(data: Path) -> None:
    """Keep, in each partition of ``endpoints.json``, the services of the kept models (named there by their
    ``endpointPrefix``: ``states`` for Step Functions, ``streams.dynamodb`` for DynamoDB Streams)."""
    prefixes = set()
    for model in data.glob("*/*/service-2.json.gz"):
        prefixes.add(json.loads(gzip.decompress(model.read_bytes()))["metadata"]["endpointPrefix"])
    path = data / "endpoints.json"
    endpoints = json.loads(path.read_text())
    for partition in endpoints["partitions"]:
        partition["services"] = {name: found for name, found in partition["services"].items() if name in prefixes}
    path.write_text(json.dumps(endpoints, separators=(",", ":")))


def prune_sentry(python: str, layer: Path) -> list[str]:
    """Remove the integrations of Sentry's SDK that ``init_sentry`` does not load (run against the layer)."""
    env = {"PATH": "", "PYTHONPATH": str(layer), "PYTHONDONTWRITEBYTECODE": "1"}
    env |= {"SENTRY_DSN": "https://public@127.0.0.1/1", "AWS_DEFAULT_REGION": "eu-central-1"}
    done = subprocess.run([python, "-c", SENTRY_PROBE], env=env, capture_output=True, text=True, check=True)
    loaded = {name.split(".")[2] for name in json.loads(done.stdout.strip().splitlines()[-1])}
    folder = layer / "sentry_sdk" / "integrations"
    removed = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
        name = entry.name.removesuffix(".py")
        if name in loaded or name in ("__init__", "__pycache__"):
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        removed.append(f"sentry_sdk/integrations/{entry.name}")
    return removed


def compile_all(python: str, layer: Path, *functions: Path) -> None:
    """Our code with its sources and unchecked-hash bytecode; the libraries as bytecode alone (module docstring)."""
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    # beside the sources, where Lambda's interpreter looks: not in make's cache of the tree's own (.pycache)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPYCACHEPREFIX"}
    ours = [str(layer / name) for name in OURS if (layer / name).exists()]
    subprocess.run([*command, *ours, *map(str, functions)], check=True, env=env)
    shutil.rmtree(layer / "__pycache__", ignore_errors=True)
    packages = [entry for entry in layer.iterdir() if entry.is_dir() and not entry.name.endswith(".dist-info")]
    libraries = [entry for entry in [*packages, *layer.glob("*.py")] if entry.name not in OURS]
    for cache in [found for entry in libraries if entry.is_dir() for found in entry.rglob("__pycache__")]:
        shutil.rmtree(cache, ignore_errors=True)
    subprocess.run([*command, "-b", *map(str, libraries)], check=True, env=env)
    for entry in libraries:
        for source in [entry] if entry.is_file() else entry.rglob("*.py"):
            if source.with_suffix(".pyc").is_file():
                source.unlink()


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1_000_000


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--python", default="python3.12", help="the functions' runtime interpreter (for bytecode)")
    args.add_argument("--build-dir", default=str(ROOT / ".aws-sam" / "build"), type=Path)
    parsed = args.parse_args(argv)
    layer = parsed.build_dir / "CoreLayer" / "python"
    if not layer.is_dir():
        print(f"no core layer at {layer}: run sam build first (make build does)", file=sys.stderr)
        return 1
    before = size_mb(layer)
    removed = prune(layer) + prune_sentry(parsed.python, layer)
    functions = [d for d in parsed.build_dir.iterdir() if d.is_dir() and d.name != "CoreLayer"]
    compile_all(parsed.python, layer, *functions)
    print(f"core layer: removed {len(removed)} packages and service models no function uses")
    print(f"core layer: {before:.1f} MB -> {size_mb(layer):.1f} MB unzipped, with bytecode ({parsed.python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
