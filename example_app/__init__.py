"""An example MCP server protected by flask-clerk-mcp: ``create_app(config)``.

The protection is the first thing ``create_app`` does, in two lines: ``ClerkMCP(app)`` (reads the
``CLERK_*`` settings, serves the protected-resource metadata that tells MCP clients where to log
in, and the browser login), and ``@require_clerk(scopes=MCP_SCOPES)`` on the MCP view (a bearer
token, verified with Clerk before the request body is even read; ``g.access_token`` is the
caller). The rest is an ordinary MCP server: ``mcp_endpoint.py`` speaks the protocol with the
official SDK's typed models, ``tools.py`` holds the tools, ``notes.py`` their storage.

``create_app()`` without a mapping reads the environment (``FLASK_CLERK_ISSUER_URL`` sets
``CLERK_ISSUER_URL``, and so on), which is how ``wsgi.py`` and the demo configure it. With a
mapping, only that mapping is used, so tests stay hermetic. Keys of its own:

- ``NOTES_DIR``: where per-user notes live (default: ``notes`` in the instance folder);
- ``EXPOSE_WORKER_PID``: add an ``X-Worker-Pid`` header to every answer. For tests and
  debugging only (it tells who is asking how the server is deployed): it is how a test knows
  which gunicorn worker answered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from flask import Flask, g
from werkzeug.wrappers import Response

import flask_clerk_mcp
from flask_clerk_mcp import ClerkMCP, require_clerk

from .account import register_account
from .landing import landing_page
from .mcp_endpoint import EXTENSION_KEY, HTTP_METHODS, MCP_SCOPES, McpServer
from .notes import NoteStore
from .tools import tools

SERVER_NAME = "flask-clerk-mcp-example"
INSTRUCTIONS = (
    "Tools of the signed-in Clerk user: whoami tells who the token belongs to; add_note and "
    "list_notes keep private notes for that user only."
)
WORKER_PID_HEADER = "X-Worker-Pid"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The example app, configured from ``config`` or, without it, from the environment."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # MCP messages are small
    if config is None:
        app.config.from_prefixed_env()
    else:
        app.config.update(config)

    clerk = ClerkMCP(app)
    server = McpServer(
        tools=tools,
        info=types.Implementation(
            name=SERVER_NAME, title="Flask + Clerk MCP example", version=flask_clerk_mcp.__version__
        ),
        instructions=INSTRUCTIONS,
        notes=NoteStore(app.config.get("NOTES_DIR") or os.path.join(app.instance_path, "notes")),
    )

    # Served where CLERK_MCP_PATH says, the path the protected-resource metadata names.
    @app.route(clerk.state(app).settings.mcp_path, endpoint="mcp", methods=HTTP_METHODS)
    @require_clerk(scopes=MCP_SCOPES)  # a bearer token only: never the browser's cookie
    def mcp() -> Response:
        return server.handle(g.access_token)

    app.extensions[EXTENSION_KEY] = server
    app.add_url_rule("/", "landing", landing_page)
    register_account(app)
    if _flag(app.config.get("EXPOSE_WORKER_PID")):

        @app.after_request
        def add_worker_pid(response: Response) -> Response:
            response.headers[WORKER_PID_HEADER] = str(os.getpid())
            return response

    return app


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
