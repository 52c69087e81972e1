"""Bearer parsing, scopes, and the exact RFC 6750 / RFC 9728 answers."""

from __future__ import annotations

import pytest
from flask import Flask, request

from flask_clerk_mcp import ClerkMCP, current_token, require_clerk, signals

from .conftest import (
    BASE_CONFIG,
    CLIENT_ID,
    INTROSPECT,
    TOKEN,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
)

ROOT_METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource"
MCP_METADATA = ROOT_METADATA + "/mcp"


def test_no_credentials_gets_the_bare_challenge(app, clerk):
    response = app.test_client().post("/mcp")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{MCP_METADATA}", scope="openid email profile"'
    )
    assert response.get_json() == {
        "error": "unauthorized",
        "error_description": "Authentication required: send a Bearer access token",
    }
    assert response.headers["Access-Control-Expose-Headers"] == "WWW-Authenticate"
    assert len(clerk.calls) == 0


def test_challenge_outside_the_mcp_path_points_at_the_root_document(app, clerk):
    response = app.test_client().get("/api/admin")
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{ROOT_METADATA}", scope="openid email profile admin"'
    )


def test_invalid_token_challenge(app, clerk):
    answer_introspection(clerk, {"active": False})
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token is not active", '
        f'resource_metadata="{MCP_METADATA}"'
    )
    assert response.get_json() == {
        "error": "invalid_token",
        "error_description": "The access token is not active",
    }


def test_insufficient_scope_lists_every_scope_the_route_needs(app, clerk):
    answer_introspection(clerk, active(scope="openid profile"))
    answer_userinfo(clerk)
    response = app.test_client().get("/api/admin", headers=bearer())
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="openid email profile admin", '
        f'resource_metadata="{ROOT_METADATA}", '
        'error_description="The access token lacks the required scope(s): email admin"'
    )
    assert response.get_json()["error"] == "insufficient_scope"


@pytest.mark.parametrize(
    "scope", [["openid", "email", "profile"], "openid  email profile", "profile email openid"]
)
def test_scope_as_string_or_list(app, clerk, scope):
    answer_introspection(clerk, active(scope=scope))
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 200


@pytest.mark.parametrize("scope", [None, "", 42, {"email": True}])
def test_missing_or_unreadable_scope_is_never_assumed(app, clerk, scope):
    answer_introspection(clerk, active(scope=scope))
    answer_userinfo(clerk)
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 403


def test_route_scopes_add_to_required_scopes(make_app, clerk):
    app = make_app({"CLERK_REQUIRED_SCOPES": "profile"})
    answer_introspection(clerk, active(scope="profile"))
    answer_userinfo(clerk)
    client = app.test_client()
    assert client.get("/api/plain", headers=bearer()).status_code == 200
    response = client.post("/mcp", headers=bearer())  # needs email on top
    assert response.status_code == 403
    assert 'scope="profile email"' in response.headers["WWW-Authenticate"]


def test_scopes_are_checked_on_cached_verdicts_too(app, clerk):
    answer_introspection(clerk, active(scope="openid email profile"))
    answer_userinfo(clerk)
    client = app.test_client()
    assert client.post("/mcp", headers=bearer()).status_code == 200
    assert client.get("/api/admin", headers=bearer()).status_code == 403
    assert sum(1 for c in clerk.calls if c.request.url == INTROSPECT) == 1


def test_offline_access_is_never_challenged(make_app, clerk):
    app = make_app({"CLERK_REQUIRED_SCOPES": "openid offline_access"})
    response = app.test_client().get("/api/plain")
    assert 'scope="openid"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer two tokens",
        "Bearer tok\u00e9n",
        'Bearer "quoted"',
        "Bearer a,b",
        "Token abc",
        "Bearer " + "a" * 5000,
    ],
)
def test_malformed_header_is_400_without_any_upstream_call(app, clerk, header):
    response = app.test_client().post("/mcp", headers={"Authorization": header})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request"')
    assert len(clerk.calls) == 0


def test_two_authorization_headers_are_refused(app, clerk):
    response = app.test_client().post(
        "/mcp", headers=[("Authorization", "Bearer a"), ("Authorization", "Bearer b")]
    )
    assert response.status_code == 400
    assert len(clerk.calls) == 0


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_scheme_is_case_insensitive(app, clerk, scheme):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    response = app.test_client().post("/mcp", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert response.status_code == 200


def test_token68_padding_and_punctuation_accepted(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    token = "eyJhbGciOi.J9-_~+/abc=="
    assert app.test_client().post("/mcp", headers=bearer(token)).status_code == 200


def test_a_cookie_is_never_a_credential_on_bearer_routes(app, clerk):
    client = app.test_client()
    client.set_cookie("session", TOKEN)
    client.set_cookie("access_token", TOKEN)
    assert client.post("/mcp").status_code == 401
    assert len(clerk.calls) == 0


def test_query_string_token_is_not_accepted(app, clerk):
    response = app.test_client().post(f"/mcp?access_token={TOKEN}")
    assert response.status_code == 401
    assert len(clerk.calls) == 0


def test_decorator_with_and_without_parentheses_and_string_scopes(clerk):
    app = Flask("deco")
    app.config.update(BASE_CONFIG)
    ClerkMCP(app)

    @app.get("/a")
    @require_clerk
    def a() -> str:
        return current_token.subject

    @app.get("/b")
    @require_clerk()
    def b() -> str:
        return current_token.subject

    @app.get("/c")
    @require_clerk("admin")
    def c() -> str:
        return current_token.subject

    answer_introspection(clerk)
    answer_userinfo(clerk)
    client = app.test_client()
    assert client.get("/a", headers=bearer()).get_data(as_text=True) == "user_alice"
    assert client.get("/b", headers=bearer()).get_data(as_text=True) == "user_alice"
    assert client.get("/c", headers=bearer()).status_code == 403
    assert a.__name__ == "a"


def test_options_preflight_is_answered_without_running_the_view(clerk):
    app = Flask("cors")
    app.config.update(BASE_CONFIG)
    ClerkMCP(app)
    ran: list[str] = []

    @app.route("/mcp", methods=["POST", "OPTIONS"])
    @require_clerk
    def mcp() -> tuple[str, int]:
        ran.append(request.method)
        return "deleted everything", 200

    preflight = app.test_client().options("/mcp")
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Allow"]
    assert preflight.get_data(as_text=True) == ""
    assert ran == []
    assert app.test_client().post("/mcp").status_code == 401
    assert ran == []
    assert len(clerk.calls) == 0


def test_current_token_is_none_outside_protected_views(app):
    with app.test_request_context("/public"):
        assert current_token._get_current_object() is None  # type: ignore[attr-defined]


def test_signals_report_verified_and_rejected(app, clerk):
    verified: list[object] = []
    rejected: list[tuple[str, int, str | None]] = []

    def on_verified(sender: object, token: object) -> None:
        verified.append(token)

    def on_rejected(sender: object, reason: str, status: int, client_id: str | None) -> None:
        rejected.append((reason, status, client_id))

    answer_introspection(clerk, active(aud="someone_else"))
    with (
        signals.token_verified.connected_to(on_verified, app),
        signals.token_rejected.connected_to(on_rejected, app),
    ):
        client = app.test_client()
        client.post("/mcp", headers=bearer())
        client.post("/mcp")
        clerk.reset()
        answer_introspection(clerk)
        answer_userinfo(clerk)
        client.post("/mcp", headers=bearer("oat_good"))

    assert rejected == [
        ("The access token was not issued for this server", 401, CLIENT_ID),
        ("Authentication required: send a Bearer access token", 401, None),
    ]
    assert [t.subject for t in verified] == ["user_alice"]  # type: ignore[attr-defined]


def test_without_init_app_the_error_says_what_to_do():
    app = Flask("bare")

    @app.get("/x")
    @require_clerk
    def x() -> str:
        return "never"

    app.testing = True
    with pytest.raises(RuntimeError, match="ClerkMCP"):
        app.test_client().get("/x", headers=bearer())


def test_html_client_on_bearer_route_still_gets_json_401(app):
    response = app.test_client().get("/api/plain", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert response.is_json


@pytest.mark.parametrize(
    "raw_path", ["/files/a%0Aforged%20line", "/files/a%0D%0Aforged", "/files/%1B[31mred"]
)
def test_a_refused_path_is_logged_escaped_on_one_line(raw_path, caplog):
    """A %0A in the path must not forge a second log line."""
    app = Flask("logs")
    app.config.update(BASE_CONFIG)
    ClerkMCP(app)
    app.add_url_rule("/files/<name>", "files", require_clerk(lambda name: name))
    with caplog.at_level("INFO", logger="flask_clerk_mcp"):
        assert app.test_client().get(raw_path).status_code == 401
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "forged" in line or "red" in line  # still there, escaped
