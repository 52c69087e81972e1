"""Fixtures for the login tests: a real emulator on loopback, an app per test, helpers that
walk the flow the way a browser would (our app through Flask's test client, the emulator
through real HTTP with the emulator's own driver)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask, jsonify
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_clerk_mcp import ClerkMCP, current_token, require_clerk, signals
from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import authorize_in_browserless_flow
from flask_clerk_mcp.login.sessions import SESSION_KEY, session_key
from flask_clerk_mcp.login.transactions import BROWSER_KEY
from flask_clerk_mcp.store import MemoryStore
from tests.support.emulator import running_emulator

#: A redirect URI the emulator's demo client has registered out of the box.
BASE_URL = "http://127.0.0.1:5000"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with running_emulator() as server:
        yield server


def build_app(issuer: str, **config: Any) -> Flask:
    app = Flask("login_tests")
    app.config.update(
        SECRET_KEY="test-secret-key",
        CLERK_ISSUER_URL=issuer,
        CLERK_CLIENT_ID=DEMO_CLIENT_ID,
        CLERK_CLIENT_SECRET=DEMO_CLIENT_SECRET,
        CLERK_BASE_URL=BASE_URL,
        CLERK_STORE=MemoryStore(),
        CLERK_CACHE_TTL=0,  # every request asks the emulator: revocation shows at once
    )
    app.config.update(config)
    ClerkMCP(app)

    @app.get("/account")
    @require_clerk(browser=True)
    def account() -> Any:
        return f"<p>Signed in as {current_token.claims.get('email')}</p>"

    @app.get("/api/me")
    @require_clerk
    def api_me() -> Any:
        return jsonify(subject=current_token.subject)

    return app


@pytest.fixture
def make_app(emulator: EmulatorServer) -> Callable[..., Flask]:
    return lambda **config: build_app(emulator.issuer, **config)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def store_of(app: Flask) -> MemoryStore:
    store = ClerkMCP.state(app).store
    assert isinstance(store, MemoryStore)
    return store


def counters(emulator: EmulatorServer) -> dict[str, int]:
    return emulator.emulator.controls.counters()


def start_login(client: FlaskClient, next_target: str | None = "/account") -> str:
    """GET /login; returns the authorize URL it redirects to."""
    query = {"next": next_target} if next_target is not None else {}
    response = client.get("/login", query_string=query)
    assert response.status_code == 302, response.data
    if response.headers["Location"].startswith("/login?"):  # a new browser gets its cookie first
        response = client.get(response.headers["Location"])
        assert response.status_code == 302, response.data
    return response.headers["Location"]


def at_clerk(authorize_url: str, user: str = "alice", approve: bool = True) -> str:
    """Sign in and consent at the emulator; returns the callback URL Clerk sends us to."""
    return authorize_in_browserless_flow(authorize_url, user=user, approve=approve)


def callback(client: FlaskClient, url: str, **headers: str) -> TestResponse:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    return client.get(f"{parts.path}?{parts.query}", headers={**HTML, **headers})


def sign_in(
    client: FlaskClient, next_target: str | None = "/account", user: str = "alice"
) -> TestResponse:
    """The whole login: /login, the emulator, the callback. Returns the callback's answer."""
    return callback(client, at_clerk(start_login(client, next_target), user=user))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {**query_of(url), **changes}
    return parts._replace(query=urlencode(query)).geturl()


def flask_session(client: FlaskClient) -> dict[str, Any]:
    with client.session_transaction() as session:
        return dict(session)


def handle_of(client: FlaskClient) -> str | None:
    value = flask_session(client).get(SESSION_KEY)
    return value if isinstance(value, str) else None


def record_of(app: Flask, handle: str) -> dict[str, Any] | None:
    value = store_of(app).get(session_key(handle))
    return value if isinstance(value, dict) else None


def binding_of(client: FlaskClient) -> str:
    nonce = flask_session(client)[BROWSER_KEY]
    return hashlib.sha256(nonce.encode()).hexdigest()


def introspect(emulator: EmulatorServer, token: str, hint: str = "access_token") -> dict[str, Any]:
    answer = requests.post(
        emulator.issuer + "/oauth/token_info",
        data={"token": token, "token_type_hint": hint},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@dataclass
class Recorded:
    """Signals received during a test."""

    login_completed: list[dict[str, Any]] = field(default_factory=list)
    logged_out: list[dict[str, Any]] = field(default_factory=list)
    token_refreshed: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def recorded(app: Flask) -> Iterator[Recorded]:
    seen = Recorded()

    def on_login(sender: Any, **extra: Any) -> None:
        seen.login_completed.append(extra)

    def on_logout(sender: Any, **extra: Any) -> None:
        seen.logged_out.append(extra)

    def on_refresh(sender: Any, **extra: Any) -> None:
        seen.token_refreshed.append(extra)

    signals.login_completed.connect(on_login, app)
    signals.logged_out.connect(on_logout, app)
    signals.token_refreshed.connect(on_refresh, app)
    try:
        yield seen
    finally:
        signals.login_completed.disconnect(on_login, app)
        signals.logged_out.disconnect(on_logout, app)
        signals.token_refreshed.disconnect(on_refresh, app)
