"""``docs/SECURITY.md`` names, for every threat, the tests that prove its defence: each must
exist, or the document has drifted from the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "SECURITY.md"
_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _references() -> list[tuple[str, str]]:
    return _REFERENCE.findall(DOC.read_text(encoding="utf-8"))


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_test_named_in_security_md_exists():
    references = _references()
    assert len(references) > 50
    missing = []
    for file, name in references:
        path = ROOT / file
        if not path.is_file() or name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_every_threat_names_at_least_one_test():
    sections = re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    threats = [s for s in sections if re.match(r"\d+\. ", s)]
    assert len(threats) >= 9
    for section in threats:
        assert _REFERENCE.search(section), section.splitlines()[0]


def test_the_readme_links_the_threat_model():
    assert "docs/SECURITY.md" in (ROOT / "README.md").read_text(encoding="utf-8")
