"""WSGI apps for the middleware's gunicorn tests: a bare callable and a Bottle app.

Neither may create a Flask app: the guard below makes creating one raise, in every gunicorn
worker, before ``flask_clerk_mcp.wsgi`` is imported. Settings come from ``CLERK_*`` variables
(``config=os.environ``), as a Django or Bottle deployment would pass them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import flask.sansio.app


def _no_flask_app(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a Flask app was created in the middleware's process")


flask.sansio.app.App.__init__ = _no_flask_app  # type: ignore[assignment,method-assign]

import bottle  # noqa: E402

from flask_clerk_mcp.wsgi import ENVIRON_KEY, ClerkMiddleware  # noqa: E402

PROTECT = {"/mcp": None, "/admin": ["public_metadata"]}


def _who(environ: dict[str, Any]) -> dict[str, Any]:
    token = environ.get(ENVIRON_KEY)
    if token is None:
        return {"subject": None, "flask_apps_forbidden": True}
    return {
        "subject": token.subject,
        "email": token.claims.get("email"),
        "scopes": list(token.scopes),
        "client_id": token.client_id,
    }


def _bare(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path not in ("/mcp", "/admin", "/public"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"bare: not found"]
    body = json.dumps({"framework": "bare", "path": path, **_who(environ)}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


bare_app = ClerkMiddleware(_bare, protect=PROTECT, config=os.environ)

_bottle = bottle.Bottle()


@_bottle.route("/mcp", method=["GET", "POST"])
@_bottle.route("/admin")
@_bottle.route("/public")
def _bottle_view() -> dict[str, Any]:
    return {"framework": "bottle", "path": bottle.request.path, **_who(bottle.request.environ)}


bottle_app = ClerkMiddleware(_bottle, protect=PROTECT, config=os.environ)
