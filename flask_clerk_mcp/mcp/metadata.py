"""The Flask routes of RFC 9728 protected-resource metadata.

What the documents say and where they live is ``mcp.documents`` (framework-free, shared with
the WSGI middleware); this module only serves them from a Flask app.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request

from ..settings import Settings
from ..state import get_state
from .documents import (
    CACHE_CONTROL,
    CORS_HEADERS,
    WELL_KNOWN_RESOURCE,
    metadata_path,
    protected_resource_metadata,
    resource_metadata_url,
    served_documents,
)

__all__ = [
    "WELL_KNOWN_RESOURCE",
    "metadata_path",
    "protected_resource_metadata",
    "register_metadata_routes",
    "resource_metadata_url",
]


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
    return _answer(WELL_KNOWN_RESOURCE)


def _serve_mcp() -> Response:
    return _answer(metadata_path(get_state().settings.mcp_path))


def _answer(path: str) -> Response:
    settings = get_state().settings
    if request.method == "OPTIONS":
        response = current_app.response_class(status=204)
    else:
        resource = served_documents(settings)[path]
        response = jsonify(protected_resource_metadata(settings, resource, current_app.name))
        response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers.update(CORS_HEADERS)
    return response
