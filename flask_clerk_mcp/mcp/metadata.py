"""RFC 9728 protected-resource metadata, so an MCP client can find where to log in.

Two documents: the root one describes the whole server (``resource`` = ``CLERK_BASE_URL``), the
suffixed one the MCP endpoint (``resource`` = the URL clients call, byte for byte, as
RFC 9728 §3.3 requires). Public, CORS-enabled and cacheable: clients fetch them before they
hold any token.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from ..settings import Settings

WELL_KNOWN_RESOURCE = "/.well-known/oauth-protected-resource"
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "86400",
}


def protected_resource_metadata(settings: Settings, resource: str, name: str) -> dict[str, Any]:
    """The document for ``resource``; fields with no value are left out (RFC 9728 §3.2)."""
    scopes = [s for s in settings.required_scopes if s != "offline_access"]
    document: dict[str, Any] = {
        "resource": resource,
        # Until the proxy exists both modes send clients straight to Clerk.
        "authorization_servers": [settings.issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": settings.resource_name or name,
    }
    if scopes:
        document["scopes_supported"] = scopes
    return document


def register_metadata_routes(app: Flask, settings: Settings) -> None:
    app.add_url_rule(
        WELL_KNOWN_RESOURCE,
        endpoint="clerk_mcp.protected_resource",
        view_func=_serve_root,
        methods=["GET", "OPTIONS"],
    )
    if settings.mcp_path != "/":
        app.add_url_rule(
            WELL_KNOWN_RESOURCE + settings.mcp_path,
            endpoint="clerk_mcp.protected_resource_mcp",
            view_func=_serve_mcp,
            methods=["GET", "OPTIONS"],
        )


def _serve_root() -> Response:
    settings: Settings = current_app.extensions["clerk_mcp"].settings
    return _answer(settings, settings.base_url)


def _serve_mcp() -> Response:
    settings: Settings = current_app.extensions["clerk_mcp"].settings
    return _answer(settings, settings.mcp_resource)


def _answer(settings: Settings, resource: str) -> Response:
    if request.method == "OPTIONS":
        response = current_app.response_class(status=204)
    else:
        response = jsonify(protected_resource_metadata(settings, resource, current_app.name))
        response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers.update(_CORS)
    return response
