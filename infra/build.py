"""``make build``'s second half: after ``sam build``, make the core layer what a cold start wants (issue 18).

* **Nothing that no one imports at run time.** Chalice's command line brings pip, setuptools, wheel, inquirer,
  blessed, click, PyYAML and their helpers into the layer; Chalice's runtime (``chalice.app``) needs none of them,
  nor its deployer and local server. stripe's ``params`` package holds type definitions its modules import only
  for type checkers.
  botocore ships the models of every AWS service; the functions use ``protu.aws.SERVICES`` (``aws.client`` refuses
  any other), so the layer keeps those and botocore's shared data.
* **Bytecode.** Lambda's ``/opt`` is read-only, so without ``.pyc`` files every cold start compiles every module
  it imports again. ``compileall`` with the runtime's interpreter (``--python``: Python 3.12, the template's
  runtime) and ``unchecked-hash`` invalidation: Lambda uses the bytecode as it is, never comparing timestamps.

``python -m infra.build [--python python3.12] [--build-dir .aws-sam/build]``; prints what it removed and the
layer's size unzipped.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Chalice's command line and its dependencies, and the packaging tools pip installs into every target.
UNUSED = (
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
)
DISTRIBUTIONS = ("pip", "setuptools", "wheel", "inquirer", "blessed", "editor", "readchar", "runs", "jinxed")
DISTRIBUTIONS += ("wcwidth", "click", "pyyaml")
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
    for found in [*(layer / name for name in UNUSED), *dist_infos]:
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
    return removed


def compile_all(python: str, *folders: Path) -> None:
    for folder in folders:
        subprocess.run(
            [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(folder)],
            check=True,
        )


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
    removed = prune(layer)
    functions = [d for d in parsed.build_dir.iterdir() if d.is_dir() and d.name != "CoreLayer"]
    compile_all(parsed.python, layer, *functions)
    print(f"core layer: removed {len(removed)} packages and service models no function uses")
    print(f"core layer: {before:.1f} MB -> {size_mb(layer):.1f} MB unzipped, with bytecode ({parsed.python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
