"""``make lint``'s checkov: the cloud as CloudFormation will see it, checked with checkov, every finding either fixed
or skipped in the template with its reason.

checkov reads plain CloudFormation, so template.yaml is first transformed as SAM transforms it at deploy time
(``samtranslator``: the functions' roles, permissions, event source mappings, the API's stage...; local code
folders stand for the S3 objects ``sam package`` would upload). Skips are written in the template:

* next to a resource, in its ``Metadata: checkov: skip: [{id, comment}]``; a SAM resource's skips also apply to
  what SAM generates from it (the resources whose logical ids begin with its own: ``ProtuApi`` ->
  ``ProtuApiliveStage``);
* for every function at once, in the template's own ``Metadata: checkov: functions:`` (choices made for all of them,
  such as no VPC), since SAM's Globals take no metadata.

edge.yaml and dr.yaml are plain CloudFormation and are checked as they are. checkov runs in an environment of its
own (``uv tool run``, version pinned here): its dependencies pin older AWS SDKs than the functions use.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra import template as tpl

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = "checkov==3.3.30"
OUT = ROOT / ".aws-sam" / "checkov"


class _NoManagedPolicies:
    """samtranslator's managed policy loader, offline: the template names no managed policy by its bare name."""

    def load(self) -> dict[str, str]:
        return {}


def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The template as SAM transforms it, with the template's checkov skips where checkov reads them."""
    from samtranslator.translator.transform import transform

    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                resource["Properties"][key] = f"s3://protu-artifacts/{resource['Properties'][key]}"
    sam_skips = {
        name: resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        for name, resource in template["Resources"].items()
        if resource["Type"].startswith("AWS::Serverless::")
    }
    for_functions = template.get("Metadata", {}).get("checkov", {}).get("functions", [])
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its notes on feature toggles are not findings
    pseudo = {"AWS::Region": "eu-central-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    output = transform(template, pseudo, _NoManagedPolicies())
    for name, resource in output["Resources"].items():
        skips = [skip for sam, found in sam_skips.items() if name.startswith(sam) for skip in found]
        if resource["Type"] == "AWS::Lambda::Function":
            skips += for_functions
        if skips:
            listed = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
            listed += [skip for skip in skips if skip not in listed]
    return output


def check(path: Path) -> int:
    uv = ROOT / ".venv-tools" / "bin" / "uv"
    command = [str(uv), "tool", "run", "--quiet", "--python", sys.executable, "--from", CHECKOV, "checkov"]
    command += ["--file", str(path), "--framework", "cloudformation", "--compact", "--quiet", "--skip-download"]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    main_stack = OUT / "template.json"
    main_stack.write_text(json.dumps(transformed(tpl.load()), indent=1, default=str))
    stacks = (("template.yaml", main_stack), ("edge.yaml", ROOT / "edge.yaml"), ("dr.yaml", ROOT / "dr.yaml"))
    failed = [name for name, path in stacks if check(path)]
    print(f"checkov: {', '.join(failed)} with findings" if failed else "checkov: every stack clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
