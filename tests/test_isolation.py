"""The suite's own rules that let every test run alone and in any order (``tests/isolation.py`` runs them so).

One name, one meaning: no fixture is defined again where the first is visible (a conftest's fixture redefined by a
conftest or module below it). A redefinition silently changes what a test gets with where it sits and with which
other fixtures it asks for; a fixture of another meaning gets a name of its own instead (``own_cloud``, not a
``cloud`` of the module's own; ``module_mailgun``, not a module-scoped ``mailgun``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (
        isinstance(target, ast.Attribute)
        and target.attr == "fixture"
        or (isinstance(target, ast.Name) and target.id == "fixture")
    )


def fixture_name(node: ast.FunctionDef) -> str | None:
    for decorator in node.decorator_list:
        if is_fixture(decorator):
            if isinstance(decorator, ast.Call):
                for keyword in decorator.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        return keyword.value.value
            return node.name
    return None


def fixtures() -> dict[str, list[Path]]:
    """Every fixture defined under tests/ (at a module's top level), by name: where each definition is."""
    found: dict[str, list[Path]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.FunctionDef) and (name := fixture_name(node)):
                found.setdefault(name, []).append(path)
    return found


def sees(conftest: Path, other: Path) -> bool:
    """Whether a test defined in ``other`` (a module or conftest) also sees the fixtures of ``conftest``."""
    return conftest.name == "conftest.py" and conftest != other and other.is_relative_to(conftest.parent)


def test_the_scan_finds_the_shared_fixtures():
    found = fixtures()
    for name in ("cloud", "own_cloud", "api", "webhooks", "outside", "mailgun", "module_mailgun", "stripe_api"):
        assert found.get(name) == [TESTS / "conftest.py"], name


def test_no_fixture_is_redefined_where_the_first_is_visible():
    found = fixtures()
    shadowed = [
        f"{name}: {first.relative_to(TESTS)} and {second.relative_to(TESTS)}"
        for name, paths in found.items()
        for first in paths
        for second in paths
        if sees(first, second)
    ] + [
        f"{name}: twice in {p.relative_to(TESTS)}"
        for name, paths in found.items()
        for p in set(paths)
        if paths.count(p) > 1
    ]
    assert not shadowed, "give the fixture of the other meaning a name of its own:\n" + "\n".join(shadowed)


def test_one_outside_world_at_a_time():
    """A test cannot ask for ``outside`` (``mailgun``, ``stripe_api``) inside a module's ``module_outside``: the
    inner mock would hide the outer one's Mailgun and Stripe."""
    from tests.conftest import outside_world

    with outside_world(), pytest.raises(AssertionError, match="already in place"):
        with outside_world():
            pass
