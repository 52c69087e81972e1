"""``CLERK_LOGIN``: when the login blueprint is registered, and the errors when it cannot be."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest
from flask import Flask

from flask_clerk_mcp import ClerkMCP, ConfigurationError
from flask_clerk_mcp.store import MemoryStore

BASE: dict[str, Any] = {
    "CLERK_ISSUER_URL": "http://127.0.0.1:9",
    "CLERK_CLIENT_ID": "client_abc",
    "CLERK_CLIENT_SECRET": "s3cr3t",
    "CLERK_BASE_URL": "https://mcp.example.com",
    "SECRET_KEY": "flask-secret",
}


def make(tmp_path: Any, **config: Any) -> Flask:
    app = Flask("cfg", instance_path=str(tmp_path / "instance"))
    values = {**BASE, **config}
    app.config.update({k: v for k, v in values.items() if v is not None})
    ClerkMCP(app)
    return app


def test_auto_registers_login_when_secret_base_url_and_secret_key_are_set(tmp_path: Any) -> None:
    app = make(tmp_path)
    assert "clerk_login" in app.blueprints
    assert "clerk_callback" in app.blueprints
    state = ClerkMCP.state(app)
    assert state.login_endpoint == "clerk_login.login"
    assert state.session_credentials is not None and state.on_session_rejected is not None
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/login", "/logout", "/logged-out", "/auth/callback"} <= routes


def test_auto_default_store_is_a_file_store_in_the_instance_folder(tmp_path: Any) -> None:
    app = make(tmp_path)
    store = ClerkMCP.state(app).store
    assert store is not None
    store.put("probe", {"x": 1}, 10)
    assert (tmp_path / "instance" / "clerk_mcp_store").is_dir()
    assert store.get("probe") == {"x": 1}


@pytest.mark.parametrize("missing", ["CLERK_CLIENT_SECRET", "SECRET_KEY"])
def test_auto_skips_login_when_something_is_missing(tmp_path: Any, missing: str) -> None:
    with pytest.warns(UserWarning) if missing == "CLERK_CLIENT_SECRET" else nullcontext():
        app = make(tmp_path, **{missing: None})
    assert "clerk_login" not in app.blueprints
    state = ClerkMCP.state(app)
    assert state.login_endpoint is None and state.store is None
    assert not (tmp_path / "instance" / "clerk_mcp_store").exists()


def test_false_never_registers(tmp_path: Any) -> None:
    app = make(tmp_path, CLERK_LOGIN=False)
    assert "clerk_login" not in app.blueprints
    assert ClerkMCP.state(app).session_credentials is None


def test_true_registers_when_complete(tmp_path: Any) -> None:
    app = make(tmp_path, CLERK_LOGIN=True, CLERK_STORE=MemoryStore())
    assert "clerk_login" in app.blueprints


def test_true_without_secret_key_names_it(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make(tmp_path, CLERK_LOGIN="true", SECRET_KEY=None)
    assert caught.value.key == "SECRET_KEY"
    assert "SECRET_KEY" in str(caught.value)


def test_true_without_client_secret_names_every_missing_key(tmp_path: Any) -> None:
    with pytest.warns(UserWarning), pytest.raises(ConfigurationError) as caught:
        make(tmp_path, CLERK_LOGIN=True, CLERK_CLIENT_SECRET=None, SECRET_KEY=None)
    assert caught.value.key == "CLERK_CLIENT_SECRET"
    assert "CLERK_CLIENT_SECRET" in str(caught.value) and "SECRET_KEY" in str(caught.value)


def test_session_cookie_is_hardened_on_https(tmp_path: Any) -> None:
    app = make(tmp_path)
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_session_cookie_not_secure_on_plain_http_base_url(tmp_path: Any) -> None:
    app = make(tmp_path, CLERK_BASE_URL="http://127.0.0.1:8000")
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_the_apps_own_cookie_choices_win(tmp_path: Any) -> None:
    app = make(tmp_path, SESSION_COOKIE_SAMESITE="Strict")
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
