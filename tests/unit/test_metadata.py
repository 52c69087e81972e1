"""RFC 9728 protected-resource metadata."""

from __future__ import annotations

from .conftest import ISSUER


def test_mcp_document(app):
    response = app.test_client().get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    assert response.get_json() == {
        "resource": "https://mcp.example.com/mcp",
        "authorization_servers": [ISSUER],
        "scopes_supported": ["openid", "email", "profile"],
        "bearer_methods_supported": ["header"],
        "resource_name": "protected",
    }
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in response.headers["Cache-Control"]


def test_root_document(app):
    response = app.test_client().get("/.well-known/oauth-protected-resource")
    assert response.get_json()["resource"] == "https://mcp.example.com"
    assert response.get_json()["authorization_servers"] == [ISSUER]


def test_cors_preflight(app):
    response = app.test_client().options(
        "/.well-known/oauth-protected-resource/mcp",
        headers={"Origin": "https://client.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_custom_mcp_path_and_resource_name(make_app):
    app = make_app(
        {
            "CLERK_MCP_PATH": "/v1/mcp",
            "CLERK_RESOURCE_NAME": "Notes MCP",
            "CLERK_REQUIRED_SCOPES": "email offline_access",
        }
    )
    document = app.test_client().get("/.well-known/oauth-protected-resource/v1/mcp").get_json()
    assert document["resource"] == "https://mcp.example.com/v1/mcp"
    assert document["resource_name"] == "Notes MCP"
    assert document["scopes_supported"] == ["email"]  # never offline_access
    assert app.test_client().get("/.well-known/oauth-protected-resource/mcp").status_code == 404


def test_metadata_resource_matches_the_challenge(app):
    challenge = app.test_client().post("/mcp").headers["WWW-Authenticate"]
    url = challenge.split('resource_metadata="')[1].split('"')[0]
    path = url.removeprefix("https://mcp.example.com")
    document = app.test_client().get(path).get_json()
    assert document["resource"] == "https://mcp.example.com/mcp"
