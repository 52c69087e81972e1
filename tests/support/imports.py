"""What the package's modules import, read from their source (``ast``), never by running them.

One helper for every import rule the tests check: the emulator's isolation, the verification
core's independence from Flask, the absence of import cycles (``TYPE_CHECKING`` imports
included) and the declared dependencies.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "flask_clerk_mcp"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE


def module_name(path: Path) -> str:
    """``flask_clerk_mcp.login.views`` for ``.../flask_clerk_mcp/login/views.py``."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imports_of(path: Path) -> Iterator[str]:
    """Absolute names of everything ``path`` imports, relative imports resolved, at any depth
    (inside functions and ``if TYPE_CHECKING:`` blocks too). ``from x import y`` yields
    ``x.y`` as well as ``x``, since ``y`` may be a submodule."""
    name = module_name(path)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            for alias in node.names:
                yield f"{module}.{alias.name}"


def internal_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``path`` imports (names that are not modules are dropped)."""
    return {name for name in imports_of(path) if name in modules}


def external_roots(path: Path) -> set[str]:
    """Top-level names of what ``path`` imports from outside the package."""
    return {name.split(".")[0] for name in imports_of(path) if not name.startswith(PACKAGE)}


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports, with each module importing its parent
    packages too (importing ``a.b`` runs ``a/__init__.py`` first)."""
    modules = package_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in internal_imports(path, modules):
            parts = target.split(".")
            targets.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        targets &= modules.keys()
        targets.discard(name)
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
