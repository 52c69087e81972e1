"""The MCP endpoint's HTTP face: Streamable HTTP, stateless, JSON answers only.

Order of checks, first failure wins: the bearer token (``require_clerk``, before anything else,
so an unauthenticated caller learns nothing but where to log in), ``Origin`` (403, the
transport's DNS-rebinding defence), the method (only POST: this server offers no SSE stream,
so GET is 405), ``MCP-Protocol-Version`` (400 for a version it does not speak),
``Content-Type`` (415 unless JSON), ``Accept`` (406 if JSON is refused). Then the body goes to
the protocol layer, which knows nothing of HTTP.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from flask_clerk_mcp import AccessToken, ClerkMCP, require_clerk

from . import jsonrpc
from .jsonrpc import INVALID_REQUEST
from .mcp_protocol import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    Envelope,
    HttpReply,
    McpServer,
    unsupported_version,
)
from .notes import NoteStore
from .tools import ToolContext

#: What the MCP endpoint needs on top of ``CLERK_REQUIRED_SCOPES``: ``whoami`` shows the email.
MCP_SCOPES = ("email",)
EXTENSION_KEY = "example_mcp"
#: Every method but OPTIONS (left to Flask, unauthenticated) reaches the view, so each gets
#: the same answer: 401 without a token, else 405 with ``Allow: POST`` unless it is POST.
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_BASE64_SENTINEL_PREFIX, _BASE64_SENTINEL_SUFFIX = "=?base64?", "?="


@dataclass(frozen=True)
class McpState:
    server: McpServer
    notes: NoteStore


def register_mcp_endpoint(app: Flask, server: McpServer, notes: NoteStore) -> None:
    """Serve ``server`` at ``CLERK_MCP_PATH``, the path the protected-resource metadata names."""
    app.extensions[EXTENSION_KEY] = McpState(server=server, notes=notes)
    path = ClerkMCP.state(app).settings.mcp_path
    app.add_url_rule(
        path, "mcp", require_clerk(scopes=list(MCP_SCOPES))(mcp_endpoint), methods=_METHODS
    )


def mcp_endpoint() -> Response:
    """One MCP message (or, in 2025-03-26, one batch) per POST."""
    if not _origin_allowed(request.headers.get("Origin")):
        return _refuse(403, "Forbidden: this Origin may not call the MCP endpoint")
    if request.method != "POST":
        response = _refuse(405, "Method Not Allowed: this server offers no SSE stream; POST only")
        response.headers["Allow"] = "POST"
        return response
    # WSGI folds a repeated header into one comma-joined value, which then matches nothing:
    # two disagreeing copies of a routing header are refused like a wrong one.
    version = request.headers.get("MCP-Protocol-Version", DEFAULT_VERSION).strip()
    if version not in SUPPORTED_VERSIONS:
        return _json_response(400, unsupported_version(version))
    if not _is_json_content():
        return _refuse(415, "Unsupported Media Type: Content-Type must be application/json")
    if not _accepts_json():
        return _refuse(406, "Not Acceptable: the client must accept application/json")

    envelope = Envelope(
        version=version,
        method_header=request.headers.get("Mcp-Method"),
        name_header=_decode_header_value(request.headers.get("Mcp-Name")),
    )
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _refuse(413, "Payload Too Large: the body exceeds MAX_CONTENT_LENGTH")
    state: McpState = current_app.extensions[EXTENSION_KEY]
    token: AccessToken = g.access_token
    context = ToolContext(token=token, notes=state.notes)
    return _to_response(state.server.handle(body, envelope, context))


def base_origin(base_url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL, the port made explicit for comparison."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def _origin_allowed(origin: str | None) -> bool:
    """An absent Origin is fine (not a browser); a present one must be this server's own."""
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            return False
        claimed = base_origin(origin.strip())
    except ValueError:  # a malformed port
        return False
    return claimed == base_origin(ClerkMCP.state().settings.base_url)


def _is_json_content() -> bool:
    mimetype = request.mimetype  # lower-cased, parameters stripped
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    return mimetype == "application/json" and charset in ("utf-8", "utf8")


def _accepts_json() -> bool:
    """No Accept header means anything goes; otherwise JSON must be acceptable."""
    if "Accept" not in request.headers:
        return True
    return request.accept_mimetypes["application/json"] > 0


def _decode_header_value(value: str | None) -> str | None:
    """An ``Mcp-Name`` value, undoing the ``=?base64?…?=`` wrapping used for non-ASCII names."""
    if value is None:
        return None
    if not (value.startswith(_BASE64_SENTINEL_PREFIX) and value.endswith(_BASE64_SENTINEL_SUFFIX)):
        return value
    payload = value[len(_BASE64_SENTINEL_PREFIX) : -len(_BASE64_SENTINEL_SUFFIX)]
    try:
        return base64.b64decode(payload, validate=True).decode("utf-8")
    except ValueError:
        # binascii.Error (bad base64), UnicodeDecodeError (not UTF-8), and the plain
        # ValueError b64decode raises for a non-ASCII payload: all subclasses of ValueError.
        return None  # never equal to a body value: a corrupt header is a mismatch


def _refuse(status: int, message: str) -> Response:
    return _json_response(status, jsonrpc.error_envelope(None, INVALID_REQUEST, message))


def _to_response(reply: HttpReply) -> Response:
    if reply.body is None:
        response = current_app.response_class(status=reply.status)
        del response.headers["Content-Type"]
        response.headers["Cache-Control"] = "no-store"
        return response
    return _json_response(reply.status, reply.body)


def _json_response(status: int, body: Any) -> Response:
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    # Answers hold one user's data: no shared cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    return response
