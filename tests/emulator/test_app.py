"""``create_app`` on its own (Flask test client, no socket) and the package's isolation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flask_clerk_mcp.emulator as emulator_package
from flask_clerk_mcp.emulator import EmulatorConfig, create_app, emulator_of

PACKAGE_DIR = Path(emulator_package.__file__).parent


def test_issuer_defaults_to_the_url_the_app_is_reached_at() -> None:
    client = create_app().test_client()
    doc = client.get("/.well-known/openid-configuration", base_url="http://clerk.test:1234").json
    assert doc is not None
    assert doc["issuer"] == "http://clerk.test:1234"
    assert doc["token_endpoint"] == "http://clerk.test:1234/oauth/token"


def test_configured_issuer_wins() -> None:
    app = create_app(EmulatorConfig(issuer="http://127.0.0.1:9/"))
    doc = app.test_client().get("/.well-known/oauth-authorization-server").json
    assert doc is not None and doc["issuer"] == "http://127.0.0.1:9"


def test_two_apps_share_nothing() -> None:
    first, second = create_app(), create_app()
    first.test_client().get("/.well-known/jwks.json")
    assert emulator_of(first).controls.counters() == {"jwks": 1}
    assert emulator_of(second).controls.counters() == {}
    assert emulator_of(first).keys.kid != emulator_of(second).keys.kid


def test_drop_without_a_socket_still_refuses_to_answer() -> None:
    app = create_app()
    client = app.test_client()
    client.post("/__emulator/faults", json={"endpoint": "jwks", "mode": "drop"})
    with pytest.raises(ConnectionAbortedError):
        client.get("/.well-known/jwks.json")


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_emulator_imports_nothing_else_from_the_package(path: Path) -> None:
    """It plays Clerk: a dependency on the library under test would make it a mirror."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level <= 1, f"{path.name} reaches out of the emulator package"
            assert not (node.module or "").startswith("flask_clerk_mcp"), path.name
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("flask_clerk_mcp") for alias in node.names)
