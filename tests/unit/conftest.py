"""Factory fixtures for the core's unit tests: an app per test, Clerk faked with `responses`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from flask import Flask, g, jsonify

from flask_clerk_mcp import ClerkMCP, current_token, require_clerk

DOMAIN = "example-app-16.clerk.accounts.dev"
ISSUER = f"https://{DOMAIN}"
INTROSPECT = f"{ISSUER}/oauth/token_info"
USERINFO = f"{ISSUER}/oauth/userinfo"
CLIENT_ID = "client_abc"
SECRET = "s3cr3t-value-never-logged"
BASE_URL = "https://mcp.example.com"
TOKEN = "oat_2xKqLnNcWb7zT4yHs9E"

ALICE = {
    "object": "oauth_user_info",
    "instance_id": "ins_1",
    "sub": "user_alice",
    "user_id": "user_alice",
    "email": "alice@example.com",
    "email_verified": True,
    "name": "Alice Liddell",
    "given_name": "Alice",
    "family_name": "Liddell",
    "picture": "https://img.example.com/alice.png",
    "preferred_username": "alice",
}


def active(**fields: Any) -> dict[str, Any]:
    """Clerk's real introspection answer: only these six fields."""
    answer = {
        "active": True,
        "client_id": CLIENT_ID,
        "iat": 1_700_000_000,
        "scope": "openid email profile",
        "sub": "user_alice",
    }
    answer.update(fields)
    return {k: v for k, v in answer.items() if v is not None}


BASE_CONFIG: dict[str, Any] = {
    "CLERK_DOMAIN": DOMAIN,
    "CLERK_CLIENT_ID": CLIENT_ID,
    "CLERK_CLIENT_SECRET": SECRET,
    "CLERK_BASE_URL": BASE_URL,
    "CLERK_LOGIN": False,
}


def build_app(config: dict[str, Any] | None = None, **options: Any) -> Flask:
    app = Flask("protected")
    app.config.update(BASE_CONFIG)
    app.config.update(config or {})
    ClerkMCP(app, **options)

    def describe() -> Any:
        token = g.access_token
        assert token is current_token._get_current_object()  # type: ignore[attr-defined]
        return jsonify(
            subject=token.subject,
            client_id=token.client_id,
            scopes=list(token.scopes),
            expires_at=token.expires_at,
            claims=dict(token.claims),
        )

    app.add_url_rule("/mcp", "mcp", require_clerk(scopes=["email"])(describe), methods=["POST"])
    app.add_url_rule("/api/plain", "plain", require_clerk(describe))
    app.add_url_rule("/api/admin", "admin", require_clerk(scopes=["admin", "email"])(describe))
    app.add_url_rule("/public", "public", lambda: "public")
    return app


@pytest.fixture
def make_app() -> Callable[..., Flask]:
    return build_app


@pytest.fixture
def app() -> Flask:
    return build_app()


@pytest.fixture
def clerk() -> Iterator[responses.RequestsMock]:
    """Clerk, faked; every test states what Clerk answers."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def answer_introspection(
    clerk: responses.RequestsMock, body: Any = None, status: int = 200, **kwargs: Any
) -> None:
    payload = (
        body if isinstance(body, (str, bytes)) else json.dumps(active() if body is None else body)
    )
    clerk.add(responses.POST, INTROSPECT, body=payload, status=status, **kwargs)


def answer_userinfo(
    clerk: responses.RequestsMock, body: Any = None, status: int = 200, **kwargs: Any
) -> None:
    payload = (
        body if isinstance(body, (str, bytes)) else json.dumps(ALICE if body is None else body)
    )
    clerk.add(responses.GET, USERINFO, body=payload, status=status, **kwargs)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def calls_to(clerk: responses.RequestsMock, url: str) -> int:
    return sum(1 for call in clerk.calls if call.request.url == url)
