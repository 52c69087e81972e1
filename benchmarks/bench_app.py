"""The example app plus one unprotected MCP route, for benchmarks only.

``versus_fastmcp.py`` runs every variant of ours on this module, so "protected" and
"unprotected" are the same app in the same deployment, one route apart:

- ``/mcp``: the example app's endpoint, behind ``@require_clerk`` (as ``example_app.wsgi``);
- ``/unprotected/mcp``: the very same server object (``McpServer.handle``: the same transport
  checks, JSON-RPC parsing, tool and answer) with no ``@require_clerk``.
  It reads the bearer header like any request but never verifies it; the tool sees a fixed
  identity, alice's, built once at start-up, so the answer has the same shape and size as a
  protected one. What separates the two routes is what verification costs, nothing else.

Never deploy this: the second route answers anyone as alice.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from werkzeug.wrappers import Response

from example_app import create_app
from example_app.mcp_endpoint import EXTENSION_KEY, McpServer
from flask_clerk_mcp import AccessToken
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, default_users

UNPROTECTED_PATH = "/unprotected/mcp"
_ALICE = default_users()["alice"]
#: Who the unprotected route answers for: what a verified alice token would give the tool.
FIXED_IDENTITY = AccessToken(
    token="",  # no token: this identity was never verified
    client_id=DEMO_CLIENT_ID,
    scopes=("openid", "email", "profile"),
    expires_at=None,
    subject=_ALICE.user_id,
    claims={"sub": _ALICE.user_id, "email": _ALICE.email, "name": _ALICE.full_name},
)


def unprotected_mcp() -> Response:
    """The example's MCP server without ``@require_clerk``: the tool runs as ``FIXED_IDENTITY``."""
    g.access_token = FIXED_IDENTITY
    server: McpServer = current_app.extensions[EXTENSION_KEY]
    return server.handle(FIXED_IDENTITY)


def create_bench_app() -> Flask:
    """The example app, configured from the environment as ``example_app.wsgi``, plus the
    unprotected route. A factory (``gunicorn 'benchmarks.bench_app:create_bench_app()'``), so
    importing this module for its constants needs no configuration."""
    app = create_app()
    app.add_url_rule(UNPROTECTED_PATH, "unprotected_mcp", unprotected_mcp, methods=["POST"])
    return app
