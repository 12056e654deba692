"""No giant functions: none in edge/, sync/, devices/ over 80 lines or over cyclomatic complexity 25 (radon).

``make complexity`` runs this file (and ``make check`` runs ``complexity``). Data literals - a function whose
body is one ``return`` of a dict/list/tuple literal, such as the OpenAPI spec - are not code and are left out.
A function of another branch's area that is still over the limits is listed in ``KNOWN`` with its owner;
an entry that no longer offends must be removed (the test says so), so the list only shrinks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from radon.complexity import cc_visit
from radon.visitors import Class, Function

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "sync", "devices")
MAX_LINES = 80
MAX_COMPLEXITY = 25

# path:qualified name -> who is breaking it up (issue #10 item 5); remove an entry once it is within the limits
KNOWN: dict[str, str] = {
}


@dataclass(frozen=True)
class Offender:
    where: str  # path:qualified name
    lines: int
    complexity: int

    def __str__(self) -> str:
        return f"{self.where}: {self.lines} lines, complexity {self.complexity}"


_LITERAL = ast.Dict | ast.List | ast.Tuple | ast.Set | ast.Constant


def _data_literals(source: str) -> set[int]:
    """Line numbers of functions that only build data: (a docstring,) assignments of literals, and one
    ``return`` of a container literal."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            *setup, last = body or [ast.Pass()]
            if (isinstance(last, ast.Return) and isinstance(last.value, ast.Dict | ast.List | ast.Tuple)
                    and all(isinstance(st, ast.Assign | ast.AnnAssign) and isinstance(st.value, _LITERAL)
                            for st in setup)):
                out.add(node.lineno)
    return out


def offenders_in(source: str, path: str) -> list[Offender]:
    """Every function, method and closure of ``source`` over the limits (radon's complexity and line span)."""
    literals = _data_literals(source)
    found: dict[int, Offender] = {}

    def visit(blocks: list[Function | Class], prefix: str) -> None:
        for block in blocks:
            if isinstance(block, Class):
                visit(list(block.methods) + list(block.inner_classes), f"{prefix}{block.name}.")
                continue
            lines = block.endline - block.lineno + 1
            if block.lineno not in literals and (lines > MAX_LINES or block.complexity > MAX_COMPLEXITY):
                found.setdefault(block.lineno, Offender(f"{path}:{prefix}{block.name}", lines, block.complexity))
            visit(list(block.closures), f"{prefix}{block.name}.")

    # radon lists a class's methods both under the class and at the top level: the class's name wins
    blocks = cc_visit(source)
    visit([b for b in blocks if isinstance(b, Class)], "")
    visit([b for b in blocks if isinstance(b, Function) and not b.is_method], "")
    return sorted(found.values(), key=lambda o: o.where)


def all_offenders() -> list[Offender]:
    out = []
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            out += offenders_in(file.read_text(encoding="utf-8"), file.relative_to(ROOT).as_posix())
    return out


def test_no_function_is_over_the_limits() -> None:
    new = [str(o) for o in all_offenders() if o.where not in KNOWN]
    assert new == [], (f"functions over {MAX_LINES} lines or complexity {MAX_COMPLEXITY}; break them into "
                       "named steps:\n" + "\n".join(new))


def test_no_stale_exemptions() -> None:
    still = {o.where for o in all_offenders()}
    stale = sorted(set(KNOWN) - still)
    assert stale == [], f"within the limits now: remove from KNOWN in tests/test_complexity.py: {stale}"


def _branchy(n: int) -> str:
    return "def branchy(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(n)) + "    return -1\n"


def _long(n: int) -> str:
    return "class C:\n    def long(self):\n        x = 0\n" + "        x += 1\n" * (n - 3) + "        return x\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (_branchy(24), []),  # complexity 25: at the limit
        (_branchy(25), ["m.py:branchy: 52 lines, complexity 26"]),
        (_long(80), []),
        (_long(81), ["m.py:C.long: 81 lines, complexity 1"]),
        ("def outer():\n    def inner(x):\n" + "".join(f"        if x == {i}: return {i}\n" for i in range(30))
         + "    return inner\n", ["m.py:outer.inner: 31 lines, complexity 31"]),
        ('def spec():\n    """The spec."""\n    auth = [{"k": []}]\n    return {\n' + '        "k": 1,\n' * 100
         + "    }\n", []),
        ("def not_data():\n    x = compute()\n    return {\n" + '        "k": x,\n' * 100 + "    }\n",
         ["m.py:not_data: 103 lines, complexity 1"]),
    ],
)
def test_the_check_catches_what_it_should(source: str, expected: list[str]) -> None:
    assert [str(o) for o in offenders_in(source, "m.py")] == expected
