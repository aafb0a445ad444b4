"""Specification of pyproject.toml's extras, as the docs and scripts rely on them.

- The ``bench`` extra installs every package the benchmark scripts import, but
  those a function imports inside ``try: ... except ImportError`` (the script
  runs without them, saying so), which another extra installs (``torch``).
- docs/index.md's table of extras lists exactly the packages each extra installs
  (an extra named in backticks stands for what it installs).

Package names are compared as written in pyproject (a module imported as
``numpy`` comes from the distribution ``numpy``: true of everything here).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parent.parent
EXTRAS: dict[str, list[str]] = tomllib.loads(
    (ROOT / "pyproject.toml").read_text(encoding="utf-8")
)["project"]["optional-dependencies"]


def packages(extra: str) -> set[str]:
    """The distributions ``extra`` installs, following ``microgrid-autodiff[...]``."""
    found: set[str] = set()
    for requirement in EXTRAS[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None, requirement
        own = re.fullmatch(r"microgrid-autodiff\[([a-z,]+)\]", requirement)
        if own:
            for inner in own.group(1).split(","):
                found |= packages(inner)
        else:
            found.add(name.group(0))
    return found


def imported_modules(script: Path, optional: bool = False) -> set[str]:
    """The top-level names of the modules ``script`` imports: all but the optional
    ones, or (``optional``) those: imported by a function inside a ``try`` that
    catches ImportError (a module-level one exits naming the extra: required)."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    guarded = {id(inner) for function in functions for node in ast.walk(function)
               if isinstance(node, ast.Try)
               and any(isinstance(h.type, ast.Name) and h.type.id == "ImportError"
                       for h in node.handlers)
               for statement in node.body for inner in ast.walk(statement)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if (id(node) in guarded) != optional:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_bench_extra_installs_what_the_benchmarks_import() -> None:
    """README: pip install -e ".[bench]", then python benchmarks/<script>.py runs
    (benchmarks/hessian.py also compares with torch: the torch extra, a large wheel)."""
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert scripts
    third_party = set().union(*map(imported_modules, scripts)) - set(
        sys.stdlib_module_names
    ) - {"__future__", "microgrid"}
    assert third_party >= {"micrograd", "numpy", "autograd"}
    assert third_party <= packages("bench") | packages("torch")
    assert "torch" not in set().union(*map(imported_modules, [
        s for s in scripts if s.name != "hessian.py"]))
    optional = set().union(*(imported_modules(s, optional=True) for s in scripts))
    assert optional == {"torch"}  # batched.py's torch column, skipped without it
    assert optional <= packages("torch")


def test_the_docs_table_of_extras_lists_what_each_installs() -> None:
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([a-z]+)` \| ([^|]*?) \|", page, flags=re.MULTILINE))
    assert table.pop("all") == "all of the above"
    listed = {name: documented(cell) for name, cell in table.items()}
    assert listed
    for name, listing in listed.items():
        assert listing == packages(name), name
    in_all = re.findall(r"[a-z]+", EXTRAS["all"][0].split("[")[1])
    assert set().union(*(listed[name] for name in in_all)) == packages("all")


def documented(cell: str) -> set[str]:
    """The packages a table cell lists, with `extra` expanded and (notes) dropped."""
    found: set[str] = set()
    for item in re.sub(r"\(.*?\)", "", cell).split(","):
        item = item.strip()
        extra = re.fullmatch(r"`([a-z]+)`", item)
        found |= packages(extra.group(1)) if extra else {item}
    return found
