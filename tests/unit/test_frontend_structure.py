"""The SPA's code stays small enough to read (issue 21): no function of frontend/ spans more than 80 lines.

A function's span is from the line of its opening brace to the line of its closing one, nested functions included
(a 300-line ``render`` made of closures is still 300 lines to read). The scanner below knows enough of JavaScript
for this: strings, template literals (with ``${}``), comments and regular-expression literals are skipped, and a
``{`` opens a function body when it follows ``=>``, or a ``)`` whose ``(`` follows ``function``, a name (a
function or a method) other than a keyword (``if (...) {`` is not a function).

Run it as a script to list the longest functions: ``python tests/unit/test_frontend_structure.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
MAX_LINES = 80

KEYWORDS = {"if", "for", "while", "switch", "catch", "with", "return", "typeof", "await", "in", "of", "new", "do"}
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {""}
NAME = re.compile(r"([A-Za-z_$][\w$]*)\s*$")


def functions(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of every function body in ``source``."""
    found: list[tuple[str, int, int]] = []
    stack: list[tuple[str | None, int]] = []  # per open brace: the function's name (None: not a function), line
    parens: list[int] = []  # offsets of open parentheses
    closed_paren: dict[int, int] = {}  # offset of a ")" -> offset of its "("
    templates: list[int] = []  # brace depth at which each open template literal's ${ ... } started
    line, i, n = 1, 0, len(source)
    last = ""  # the last significant character (for telling a regex from a division)

    def skip_string(quote: str, at: int) -> int:
        nonlocal line
        j = at + 1
        while j < n and source[j] != quote:
            if source[j] == "\\":
                j += 1
            elif source[j] == "\n":
                line += 1
            j += 1
        return j + 1

    def skip_template(at: int) -> int:
        """From inside a template literal at ``at``: to its end (answers the offset after the backtick), or to a
        ``${`` (answers its offset + 2 and pushes the template on the stack)."""
        nonlocal line
        j = at
        while j < n:
            c = source[j]
            if c == "\\":
                j += 2
                continue
            if c == "\n":
                line += 1
            if c == "`":
                return j + 1
            if c == "$" and source[j + 1 : j + 2] == "{":
                templates.append(len(stack))
                stack.append(("${", line))
                return j + 2
            j += 1
        return j

    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += source.count("\n", i, end)
            i = end
            continue
        if c in "'\"":
            i = skip_string(c, i)
            last = "a"
            continue
        if c == "`":
            i = skip_template(i + 1)
            last = "a"
            continue
        if c == "/" and (last in REGEX_AFTER or re.search(r"\b(return|typeof|case)\s*$", source[max(0, i - 10) : i])):
            j, in_class = i + 1, False
            while j < n and (in_class or source[j] != "/"):
                if source[j] == "\\":
                    j += 1
                elif source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                j += 1
            i = j + 1
            last = "a"
            continue
        if c == "(":
            parens.append(i)
        elif c == ")" and parens:
            closed_paren[i] = parens.pop()
        elif c == "{":
            stack.append((_function_name(source, i, closed_paren), line))
        elif c == "}" and stack:
            name, first = stack.pop()
            if name == "${":
                templates.pop()
                i = skip_template(i + 1)
                last = "a"
                continue
            if name is not None:
                found.append((name, first, line))
        last = c if not (c.isalnum() or c in "_$") else "a"
        i += 1
    return found


def _function_name(source: str, brace: int, closed_paren: dict[int, int]) -> str | None:
    before = source[:brace].rstrip()
    if before.endswith("=>"):
        head = before[:-2].rstrip()
        if head.endswith(")") and (len(head) - 1) in closed_paren:
            head = source[: closed_paren[len(head) - 1]].rstrip()
        else:
            head = re.sub(r"[A-Za-z_$][\w$]*$", "", head).rstrip()
        head = re.sub(r"\basync$", "", head).rstrip()
        named = re.search(r"([A-Za-z_$][\w$]*)\s*[:=]$", head)
        return named.group(1) if named else "(arrow)"
    if before.endswith(")") and (len(before) - 1) in closed_paren:
        head = source[: closed_paren[len(before) - 1]].rstrip()
        named = NAME.search(head)
        if named and named.group(1) == "function":
            assigned = re.search(r"([A-Za-z_$][\w$]*)\s*[:=]\s*(async\s+)?function$", head)
            return assigned.group(1) if assigned else "(function)"
        if named and named.group(1) not in KEYWORDS:
            return named.group(1)
    return None


def long_functions(limit: int = MAX_LINES) -> list[tuple[int, str]]:
    rows = []
    for path in sorted(FRONTEND.rglob("*.js")):
        for name, first, last in functions(path.read_text()):
            if last - first + 1 > limit:
                rows.append((last - first + 1, f"{path.relative_to(FRONTEND)}:{first} {name}"))
    return sorted(rows, reverse=True)


def test_the_scanner_finds_functions_and_their_spans():
    source = (
        "function a(x) {\n  if (x) {\n    return `${x}}`;\n  }\n  const re = /[}]/g;\n}\n"
        "const b = async (y) => {\n  return { y };\n};\n"
        "class C {\n  m() {\n    // }\n  }\n}\n"
        "export function d() { return ['{', \"}\"]; }\n"
    )
    assert functions(source) == [("a", 1, 6), ("b", 7, 9), ("m", 11, 13), ("d", 15, 15)]


def test_no_function_of_the_spa_spans_more_than_80_lines():
    assert long_functions() == []


if __name__ == "__main__":
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else MAX_LINES
    for length, where in long_functions(limit):
        print(f"{length:5d}  {where}")
