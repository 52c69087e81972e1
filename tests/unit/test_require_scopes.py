"""Per-operation scopes inside one endpoint (``require_scopes``), the scope hierarchy, the
challenge's scopes, and the one INFO line per refusal."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask, jsonify

from flask_clerk_mcp import ClerkMCP, require_clerk, require_scopes, signals

from .conftest import (
    BASE_CONFIG,
    CLIENT_ID,
    INTROSPECT,
    TOKEN,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
    calls_to,
)

MCP_METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


def build(**config: Any) -> Flask:
    app = Flask("tools")
    app.config.update(BASE_CONFIG, **config)
    ClerkMCP(app)

    @app.post("/mcp")
    @require_clerk(scopes="email")
    def mcp() -> Any:
        from flask import request

        tool = request.get_json()["tool"]
        if tool == "add_note":
            token = require_scopes("notes:write")
            return jsonify(added=True, subject=token.subject)
        if tool == "admin":
            require_scopes("notes:write admin", "audit")
            return jsonify(admin=True)
        return jsonify(listed=True)

    @app.get("/unprotected")
    def unprotected() -> Any:
        require_scopes("notes:write")
        return "never"

    return app


def call(app: Flask, tool: str, token: str = TOKEN) -> Any:
    return app.test_client().post("/mcp", json={"tool": tool}, headers=bearer(token))


def challenge(response: Any) -> str:
    return str(response.headers["WWW-Authenticate"])


def test_a_tool_scope_is_demanded_with_every_scope_the_operation_needs(clerk):
    answer_introspection(clerk, active(scope="openid email profile"))
    answer_userinfo(clerk)
    app = build()
    assert call(app, "list").status_code == 200

    response = call(app, "add_note")
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    # One challenge with everything: required, the route's and the tool's scopes.
    assert challenge(response) == (
        'Bearer error="insufficient_scope", scope="openid email profile notes:write", '
        f'resource_metadata="{MCP_METADATA}", '
        'error_description="The access token lacks the required scope(s): notes:write"'
    )
    assert response.headers["Cache-Control"] == "no-store"


def test_several_tool_scopes_in_one_call_are_all_named(clerk):
    answer_introspection(clerk, active(scope="openid email profile notes:write"))
    answer_userinfo(clerk)
    response = call(build(), "admin")
    assert response.status_code == 403
    assert 'scope="openid email profile notes:write admin audit"' in challenge(response)
    assert "lacks the required scope(s): admin audit" in challenge(response)


def test_a_token_with_the_tool_scope_passes_and_gets_its_token_back(clerk):
    answer_introspection(clerk, active(scope="openid email profile notes:write"))
    answer_userinfo(clerk)
    response = call(build(), "add_note")
    assert response.status_code == 200
    assert response.get_json() == {"added": True, "subject": "user_alice"}
    assert calls_to(clerk, INTROSPECT) == 1  # no second verification for the tool check


def test_a_broad_scope_satisfies_the_tool_scope_it_implies(clerk):
    answer_introspection(clerk, active(scope="openid email profile notes"))
    answer_userinfo(clerk)
    implied = build(CLERK_SCOPE_IMPLIES={"notes": ["notes:read", "notes:write"]})
    assert call(implied, "add_note").status_code == 200
    # The same token without the hierarchy: refused.
    assert call(build(), "add_note").status_code == 403


def test_the_hierarchy_applies_to_the_decorator_and_required_scopes(clerk):
    answer_introspection(clerk, active(scope="openid profile user"))
    answer_userinfo(clerk)
    app = build(CLERK_SCOPE_IMPLIES='{"user": ["email"]}')
    assert call(app, "list").status_code == 200
    assert call(build(), "list").status_code == 403


def test_the_hierarchy_applies_to_the_login_check():
    """The browser login checks CLERK_REQUIRED_SCOPES through the same function."""
    from flask_clerk_mcp.errors import InsufficientScope
    from flask_clerk_mcp.login import views
    from flask_clerk_mcp.scopes import check_scopes
    from flask_clerk_mcp.tokens import AccessToken

    assert views.check_scopes is check_scopes
    token = AccessToken("t", CLIENT_ID, ("openid", "user"), None, "user_alice")
    implies = ClerkMCP.state(build(CLERK_SCOPE_IMPLIES={"user": ["email", "profile"]}))
    check_scopes(token, ("openid", "email", "profile"), implies.settings.scope_implies)
    with pytest.raises(InsufficientScope):
        check_scopes(token, ("openid", "email", "profile"))


def test_require_scopes_outside_a_protected_view_is_a_programming_error():
    app = build()
    app.testing = True
    with pytest.raises(RuntimeError, match="@require_clerk"):
        app.test_client().get("/unprotected")


def test_challenges_name_only_grantable_scopes(clerk):
    answer_introspection(clerk, active(scope="openid email profile"))
    answer_userinfo(clerk)
    app = build(
        CLERK_SCOPES_SUPPORTED="openid email profile notes offline_access",
        CLERK_SCOPE_IMPLIES={"notes": ["notes:write"]},
    )
    # notes:write is not what the Clerk app grants; notes (which implies it) is.
    response = call(app, "add_note")
    assert 'scope="openid email profile notes"' in challenge(response)
    # admin and audit cannot be granted at all: left out, the login can still succeed.
    response = call(app, "admin")
    assert 'scope="openid email profile notes"' in challenge(response)
    # The 401 too; and the metadata lists the grantable scopes, never offline_access.
    response = app.test_client().post("/mcp")
    assert challenge(response) == (
        f'Bearer resource_metadata="{MCP_METADATA}", scope="openid email profile"'
    )
    document = app.test_client().get("/.well-known/oauth-protected-resource/mcp").get_json()
    assert document["scopes_supported"] == ["openid", "email", "profile", "notes"]


def test_the_401_challenge_and_metadata_never_name_offline_access(clerk):
    app = build(CLERK_REQUIRED_SCOPES="openid offline_access email")
    assert 'scope="openid email"' in challenge(app.test_client().post("/mcp"))
    document = app.test_client().get("/.well-known/oauth-protected-resource").get_json()
    assert document["scopes_supported"] == ["openid", "email"]


# -- why a token was refused ------------------------------------------------------------------
def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]


def test_one_info_line_per_refusal_with_reason_and_client_id(clerk, caplog):
    secret_token = "oat_refused_secret_token_value_123"
    answer_introspection(clerk, active(client_id="client_of_someone_else"))
    app = build()
    with caplog.at_level(logging.DEBUG):
        assert call(app, "list", secret_token).status_code == 401
    [line] = refusal_lines(caplog)
    assert line == (
        "rejected POST /mcp (401 invalid_token): The access token was not issued for this "
        "server; client_id='client_of_someone_else'"
    )
    assert [r.levelno for r in caplog.records if r.getMessage() == line] == [logging.INFO]
    for record in caplog.records:
        assert secret_token not in record.getMessage()
        assert secret_token not in str(record.args)


def test_a_scope_refusal_is_logged_with_the_client_id(clerk, caplog):
    secret_token = "oat_scoped_secret_token_value_456"
    answer_introspection(clerk, active(scope="openid email profile"))
    answer_userinfo(clerk)
    app = build()
    with caplog.at_level(logging.DEBUG):
        assert call(app, "add_note", secret_token).status_code == 403
    [line] = refusal_lines(caplog)
    assert line.startswith("rejected POST /mcp (403 insufficient_scope): ")
    assert "notes:write" in line and line.endswith(f"client_id='{CLIENT_ID}'")
    assert not any(secret_token in r.getMessage() for r in caplog.records)


def test_inactive_and_missing_tokens_are_logged_without_a_client_id(clerk, caplog):
    answer_introspection(clerk, {"active": False})
    app = build()
    with caplog.at_level(logging.INFO, logger="flask_clerk_mcp"):
        call(app, "list", "oat_inactive_token_789")
        app.test_client().post("/mcp")
    assert refusal_lines(caplog) == [
        "rejected POST /mcp (401 invalid_token): The access token is not active; client_id=None",
        "rejected POST /mcp (401 no_credentials): Authentication required: send a Bearer "
        "access token; client_id=None",
    ]
    assert not any("oat_inactive_token_789" in r.getMessage() for r in caplog.records)


def test_a_client_id_cannot_forge_a_log_line(clerk, caplog):
    answer_introspection(clerk, active(client_id="evil\nrejected GET /admin (200 ok): fine"))
    with caplog.at_level(logging.INFO, logger="flask_clerk_mcp"):
        call(build(), "list")
    [line] = refusal_lines(caplog)
    assert "\n" not in line


def test_token_rejected_signal_carries_the_client_id(clerk):
    answer_introspection(clerk, active(scope="openid email profile"))
    answer_userinfo(clerk)
    app = build()
    seen: list[dict[str, Any]] = []

    def on_rejected(sender: Flask, **kwargs: Any) -> None:
        seen.append(kwargs)

    with signals.token_rejected.connected_to(on_rejected, app):
        call(app, "add_note")
    assert seen == [
        {
            "reason": "The access token lacks the required scope(s): notes:write",
            "status": 403,
            "client_id": CLIENT_ID,
        }
    ]
