"""The package's shape (issue 9): no import cycle, DESIGN's import rules, small modules with a
docstring on every public name. Read from the source with ``tests.support.imports``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.imports import (
    PACKAGE,
    PACKAGE_DIR,
    find_cycle,
    import_graph,
    internal_imports,
    package_modules,
)

MAX_LINES = 400
#: Owned and checked elsewhere (tests/emulator).
NOT_HERE = f"{PACKAGE}.emulator"
MODULES = {n: p for n, p in package_modules().items() if not n.startswith(NOT_HERE)}


def test_the_package_import_graph_has_no_cycle() -> None:
    """TYPE_CHECKING and function-level imports included: a reader never climbs in circles."""
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("name", ["tokens", "errors"])
def test_tokens_and_errors_import_nothing_of_ours(name: str) -> None:
    modules = package_modules()
    assert internal_imports(modules[f"{PACKAGE}.{name}"], modules) == set()


@pytest.mark.parametrize("path", sorted((PACKAGE_DIR / "store").glob("*.py")), ids=str)
def test_the_store_knows_no_flow(path: Path) -> None:
    modules = package_modules()
    flows = ("login", "mcp", "protect", "extension", "state")
    for target in internal_imports(path, modules):
        assert not target.startswith(tuple(f"{PACKAGE}.{f}" for f in flows)), target


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_400_lines(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def _undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [] if ast.get_docstring(tree) else ["<module>"]

    def overload(node: ast.FunctionDef) -> bool:
        return any(
            getattr(d, "id", getattr(d, "attr", "")) == "overload" for d in node.decorator_list
        )

    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        if isinstance(node, ast.FunctionDef) and overload(node):
            continue
        if not ast.get_docstring(node):
            missing.append(node.name)
        if isinstance(node, ast.ClassDef):
            for sub in node.body:
                if (
                    isinstance(sub, ast.FunctionDef)
                    and not sub.name.startswith("_")
                    and not ast.get_docstring(sub)
                ):
                    missing.append(f"{node.name}.{sub.name}")
    return missing


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_public_name_has_a_docstring(name: str) -> None:
    assert _undocumented(MODULES[name]) == []
