"""An example MCP server protected by flask-clerk-mcp: ``create_app(config)``.

``create_app()`` without a mapping reads the environment (``FLASK_CLERK_ISSUER_URL`` sets
``CLERK_ISSUER_URL``, and so on), which is how ``wsgi.py`` and the demo configure it. With a
mapping, only that mapping is used, so tests stay hermetic.

Keys of its own, besides Flask's and the extension's ``CLERK_*``:

- ``NOTES_DIR``: where per-user notes live (default: ``notes`` in the instance folder);
- ``EXPOSE_WORKER_PID``: add an ``X-Worker-Pid`` header to every answer. For tests and
  debugging only (it tells who is asking how the server is deployed): it is how a test knows
  which gunicorn worker answered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.wrappers import Response

import flask_clerk_mcp
from flask_clerk_mcp import ClerkMCP

from .account import register_account
from .landing import landing_page
from .mcp_protocol import McpServer, ServerInfo
from .notes import NoteStore
from .tools import default_tools
from .transport import register_mcp_endpoint

SERVER_NAME = "flask-clerk-mcp-example"
INSTRUCTIONS = (
    "Tools of the signed-in Clerk user: whoami tells who the token belongs to; add_note and "
    "list_notes keep private notes for that user only."
)
WORKER_PID_HEADER = "X-Worker-Pid"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # MCP messages are small
    if config is None:
        app.config.from_prefixed_env()
    else:
        app.config.update(config)

    ClerkMCP(app)
    notes_dir = app.config.get("NOTES_DIR") or os.path.join(app.instance_path, "notes")
    server = McpServer(
        default_tools(),
        ServerInfo(
            name=SERVER_NAME,
            version=flask_clerk_mcp.__version__,
            title="Flask + Clerk MCP example",
            instructions=INSTRUCTIONS,
        ),
    )
    register_mcp_endpoint(app, server, NoteStore(notes_dir))
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
