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


def _linked_document(client, method: str, path: str) -> tuple[int, dict | None]:
    """Follow a 401's ``resource_metadata`` link on this server."""
    challenge = client.open(path, method=method).headers["WWW-Authenticate"]
    url = challenge.split('resource_metadata="')[1].split('"')[0]
    assert url.startswith("https://mcp.example.com/")
    response = client.get(url.removeprefix("https://mcp.example.com"))
    return response.status_code, response.get_json(silent=True)


def test_mcp_path_root_links_a_document_that_exists(make_app):
    """CLERK_MCP_PATH="/": the whole server is the MCP endpoint, so its document is the
    root one (RFC 9728 §3.1: no path, nothing appended), naming the URL clients call."""
    app = make_app({"CLERK_MCP_PATH": "/"})
    client = app.test_client()
    for method, path in (("POST", "/mcp"), ("GET", "/api/plain")):
        status, document = _linked_document(client, method, path)
        assert status == 200
        assert document is not None and document["resource"] == "https://mcp.example.com/"


def test_mcp_path_with_a_trailing_slash_is_served_as_given(make_app):
    """A trailing slash is part of the URL clients call: ``resource`` keeps it, byte for byte."""
    from flask_clerk_mcp import require_clerk

    app = make_app({"CLERK_MCP_PATH": "/v1/mcp/"})
    app.add_url_rule("/v1/mcp/", "v1", require_clerk(lambda: "ok"), methods=["POST"])
    assert app.extensions["clerk_mcp"].settings.mcp_resource == "https://mcp.example.com/v1/mcp/"
    status, document = _linked_document(app.test_client(), "POST", "/v1/mcp/")
    assert status == 200
    assert document is not None and document["resource"] == "https://mcp.example.com/v1/mcp/"
    root = app.test_client().get("/.well-known/oauth-protected-resource").get_json()
    assert root["resource"] == "https://mcp.example.com"
