"""DESIGN's import rules, checked on the source (``tests.support.imports``, the same helper
for every rule): the verification core knows no Flask, and every third-party import is a
declared dependency."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.imports import PACKAGE, external_roots, package_modules

#: The verification core: usable without an app (benchmarks, the CLI, the WSGI middleware).
CORE = [
    "verifier",
    "cache",
    "settings",
    "tokens",
    "errors",
    "config_values",
    "redis_clients",
    "origins",
    "upstream",
    "scopes",
]
FLASK_WORLD = {"flask", "werkzeug", "blinker"}
#: Names only type checkers import (no distribution provides them at run time).
TYPING_ONLY = {"_typeshed"}
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("name", CORE)
def test_the_verification_core_imports_nothing_from_flask(name: str) -> None:
    path = package_modules()[f"{PACKAGE}.{name}"]
    assert not external_roots(path) & FLASK_WORLD, f"{name} imports from Flask's world"


def _declared() -> dict[str, set[str]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}

    extras = project.get("optional-dependencies", {})
    return {"runtime": names(project["dependencies"]), "redis": names(extras.get("redis", []))}


def _imported_distributions() -> dict[str, str]:
    """Distribution (lower case) → one module of the package that imports it."""
    providers = importlib.metadata.packages_distributions()
    found: dict[str, str] = {}
    for module, path in package_modules().items():
        for root in external_roots(path) - set(sys.stdlib_module_names) - TYPING_ONLY:
            assert root in providers, f"{module} imports {root}, which nothing installed provides"
            for distribution in providers[root]:
                found.setdefault(distribution.lower(), module)
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = _declared()
    for distribution, module in _imported_distributions().items():
        assert distribution in declared["runtime"] | declared["redis"], (
            f"{module} imports {distribution}, which pyproject.toml does not declare"
        )


def test_every_declared_runtime_dependency_is_imported() -> None:
    """Dependencies are used or gone: nothing is installed in users' environments for nothing."""
    imported = _imported_distributions()
    for distribution in _declared()["runtime"]:
        assert distribution in imported, f"pyproject.toml declares {distribution}, never imported"
