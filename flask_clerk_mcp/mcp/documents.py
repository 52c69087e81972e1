"""RFC 9728 protected-resource metadata, framework-free: where each document lives, which one a
challenge links, and what it says.

Two documents: the root one describes the whole server (``resource`` = ``CLERK_BASE_URL``), the
suffixed one the MCP endpoint (``resource`` = the URL clients call, byte for byte, as
RFC 9728 §3.3 requires). Public, CORS-enabled and cacheable: clients fetch them before they
hold any token. The Flask routes (``mcp.metadata``) and the WSGI middleware (``wsgi``) both
serve what ``served_documents`` lists, so the paths served and the links handed out cannot
drift apart. With ``CLERK_MCP_PATH="/"`` the MCP endpoint is the whole server: RFC 9728 §3.1
appends nothing for an empty path, so its document is the root one, whose ``resource`` is then
the MCP endpoint's (``CLERK_BASE_URL + "/"``).
"""

from __future__ import annotations

from typing import Any

from ..scopes import advertised
from ..settings import Settings

WELL_KNOWN_RESOURCE = "/.well-known/oauth-protected-resource"
#: Headers on every metadata answer, preflight included: any origin may read the documents.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "86400",
}
#: How long clients may keep a document.
CACHE_CONTROL = "public, max-age=3600"


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


def served_documents(settings: Settings) -> dict[str, str]:
    """Path of each document served → the ``resource`` it describes: the root document, and
    the MCP endpoint's (which *is* the root one when ``CLERK_MCP_PATH`` is ``/``)."""
    documents = {WELL_KNOWN_RESOURCE: settings.base_url}
    documents[metadata_path(settings.mcp_path)] = settings.mcp_resource
    return documents


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
