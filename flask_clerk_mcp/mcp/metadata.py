"""RFC 9728 protected-resource metadata, so an MCP client can find where to log in.

Two documents: the root one describes the whole server (``resource`` = ``CLERK_BASE_URL``), the
suffixed one the MCP endpoint (``resource`` = the URL clients call, byte for byte, as
RFC 9728 §3.3 requires). Public, CORS-enabled and cacheable: clients fetch them before they
hold any token.

All the path logic lives here — where a resource's document is (``metadata_path``), which
document a challenge links (``resource_metadata_url``) — so the routes served and the links
handed out cannot drift apart. With ``CLERK_MCP_PATH="/"`` the MCP endpoint is the whole
server: RFC 9728 §3.1 appends nothing for an empty path, so its document is the root one,
whose ``resource`` is then the MCP endpoint's (``CLERK_BASE_URL + "/"``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from ..scopes import advertised
from ..settings import Settings
from ..state import get_state

WELL_KNOWN_RESOURCE = "/.well-known/oauth-protected-resource"
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "86400",
}


def metadata_path(resource_path: str) -> str:
    """Where the document of the resource at ``resource_path`` is served (RFC 9728 §3.1:
    the well-known prefix, then the resource's path; a bare ``/`` adds nothing)."""
    return WELL_KNOWN_RESOURCE + ("" if resource_path == "/" else resource_path)


def resource_metadata_url(settings: Settings, request_path: str) -> str:
    """The document a 401/403 at ``request_path`` links: the MCP one under the MCP path."""
    mcp_path = settings.mcp_path
    if request_path == mcp_path or request_path.startswith(mcp_path.rstrip("/") + "/"):
        return settings.base_url + metadata_path(mcp_path)
    return settings.base_url + WELL_KNOWN_RESOURCE


def authorization_server(settings: Settings) -> str:
    """Where clients log in: this server in proxy mode (its issuer is ``CLERK_BASE_URL``,
    byte for byte), Clerk's issuer in direct mode."""
    return settings.base_url if settings.mcp_mode == "proxy" else settings.issuer


def protected_resource_metadata(settings: Settings, resource: str, name: str) -> dict[str, Any]:
    """The document for ``resource``; fields with no value are left out (RFC 9728 §3.2)."""
    # What the Clerk application grants, as the operator states it; else the required scopes,
    # which it must grant. Never offline_access (MCP 2026-07-28).
    scopes = advertised(
        settings.scopes_supported
        if settings.scopes_supported is not None
        else settings.required_scopes
    )
    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": [authorization_server(settings)],
        "bearer_methods_supported": ["header"],
        "resource_name": settings.resource_name or name,
    }
    if scopes:
        document["scopes_supported"] = scopes
    return document


def register_metadata_routes(app: Flask, settings: Settings) -> None:
    """Serve the root document, and the MCP endpoint's where it is a different one."""
    app.add_url_rule(
        WELL_KNOWN_RESOURCE,
        endpoint="clerk_mcp.protected_resource",
        view_func=_serve_root,
        methods=["GET", "OPTIONS"],
    )
    if settings.mcp_path != "/":
        app.add_url_rule(
            metadata_path(settings.mcp_path),
            endpoint="clerk_mcp.protected_resource_mcp",
            view_func=_serve_mcp,
            methods=["GET", "OPTIONS"],
        )


def _serve_root() -> Response:
    settings = get_state().settings
    if settings.mcp_path == "/":  # the whole server is the MCP endpoint
        return _answer(settings, settings.mcp_resource)
    return _answer(settings, settings.base_url)


def _serve_mcp() -> Response:
    settings = get_state().settings
    return _answer(settings, settings.mcp_resource)


def _answer(settings: Settings, resource: str) -> Response:
    if request.method == "OPTIONS":
        response = current_app.response_class(status=204)
    else:
        response = jsonify(protected_resource_metadata(settings, resource, current_app.name))
        response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers.update(_CORS)
    return response
