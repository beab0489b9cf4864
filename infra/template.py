"""Read ``template.yaml`` and resolve its intrinsic functions for the local cloud.

cfn-lint's decoder understands the short tags (``!Ref``, ``!GetAtt``, ``!Sub``...). Resolution needs the
physical id and attributes of each resource; ``Resolver`` asks a callback for them, so the provisioner can create
a resource the first time something refers to it (dependency order falls out of the recursion).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_SUB_VAR = re.compile(r"\$\{([^}!]+)\}")


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches or template is None:
        raise ValueError(f"cannot read {path}: {matches}")
    return _plain(template)


def _plain(node: Any) -> Any:
    """cfn-lint's nodes carry line marks; turn them into plain dicts, lists and strings."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


class Resolver:
    """Resolves Ref, GetAtt, Sub, Join, Select, If and pseudo parameters against the local cloud."""

    def __init__(
        self,
        template: dict[str, Any],
        *,
        parameters: dict[str, str],
        pseudo: dict[str, str],
        ref: Callable[[str], str],
        get_att: Callable[[str, str], str],
    ) -> None:
        self.template = template
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        } | parameters
        self.pseudo = pseudo
        self._ref = ref
        self._get_att = get_att

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._get_att(logical, attr)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false)
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def sub(self, arg: str | list) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def one(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return str(self._get_att(logical, attr))
            return str(self.ref(name))

        return _SUB_VAR.sub(one, text)

    def condition(self, name: str) -> bool:
        spec = self.template.get("Conditions", {})[name]
        return self._evaluate(spec)

    def _evaluate(self, spec: Any) -> bool:
        if isinstance(spec, dict) and "Condition" in spec:
            return self.condition(spec["Condition"])
        ((key, arg),) = spec.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._evaluate(arg[0])
        if key == "Fn::And":
            return all(self._evaluate(a) for a in arg)
        if key == "Fn::Or":
            return any(self._evaluate(a) for a in arg)
        raise ValueError(f"unsupported condition {key}")


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's environment as the template declares it: Globals merged with the function's own."""
    glob = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return {**glob, **own}
