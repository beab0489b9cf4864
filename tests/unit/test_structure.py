"""The code's shape, read from its source (``docs/ARCHITECTURE.md``, "Layers"): no import circles, and an import
inside a function only where it keeps a module out of a cold start, marked so.

An import circle is counted with the imports inside functions too: a module that imports another "later" to dodge a
circle still depends on it both ways. The shared piece belongs a layer down.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "layers" / "core", *sorted(p for p in (ROOT / "functions").iterdir() if p.is_dir())]
MARK = "cold start"  # the comment an import inside a function carries, on its line or the line before


def modules() -> dict[str, Path]:
    found = {}
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            name = ".".join(path.relative_to(base).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = modules()
OURS = {name.split(".")[0] for name in MODULES}


def _resolve(name: str) -> str | None:
    """The module of ours an imported name lives in (``protu.store.tx.Transaction`` -> ``protu.store.tx``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        names = [f"{base}.{alias.name}" for alias in node.names]
    return [t for t in (_resolve(n) for n in names if n.split(".")[0] in OURS) if t and t != module]


def imports(module: str) -> list[tuple[ast.stmt, bool, list[str]]]:
    """Each import statement of the module: (node, inside a function, the modules of ours it names). Imports under
    ``if TYPE_CHECKING:`` are left out (they never run)."""
    tree = ast.parse(MODULES[module].read_text())
    found = []

    def walk(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, inside, _targets(module, child)))
            walk(child, inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    walk(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    return {name: {t for _, _, targets in imports(name) for t in targets} for name in MODULES}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_even_through_imports_inside_functions():
    edges = graph()
    found = circles(edges)
    described = [
        " -> ".join(c) + "  (" + "; ".join(f"{m} imports {sorted(edges[m] & set(c))}" for m in c) + ")" for c in found
    ]
    assert not found, "import circles:\n" + "\n".join(described)


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def _marked_above(lines: list[str], at: int) -> bool:
    """A '# cold start' comment line above a run of import lines (one reason for the function's lazy imports)."""
    i = at - 1
    while i >= 0 and lines[i].strip().startswith(("from ", "import ", ")")) or (i >= 0 and not lines[i].strip()):
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#") and MARK in lines[i]


def test_every_import_inside_a_function_says_it_is_there_for_cold_start():
    unmarked = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node, inside, _ in imports(name):
            if not inside:
                continue
            if not any(MARK in line for line in lines[node.lineno - 1 : node.end_lineno]) and not _marked_above(
                lines, node.lineno - 1
            ):
                unmarked.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not unmarked, f"imports inside functions without a '# {MARK}' reason:\n" + "\n".join(unmarked)


def test_the_functions_call_only_the_aws_services_the_built_layer_keeps():
    """``infra/build.py`` keeps botocore's models of ``protu.aws.SERVICES`` alone: a client of any other service in
    the functions' code would fail in Lambda, so it fails here first."""
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from protu.aws import SERVICES

    used = set()
    for base in SOURCES:
        for path in base.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "client"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    used.add((node.args[0].value, path.relative_to(ROOT).as_posix()))
    assert {service for service, _ in used} >= {"dynamodb", "s3", "kms"}  # the finder finds them
    assert sorted(f"{service} in {where}" for service, where in used if service not in SERVICES) == []
