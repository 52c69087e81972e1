"""``create_app``: one emulated Clerk instance as a Flask app.

Also home of the request hooks that are about the emulator rather than Clerk: counting calls,
adding latency and injecting faults, before any view runs. A dropped connection cannot be
produced from inside Flask (Flask turns every exception into a 500), so a small WSGI wrapper
around ``wsgi_app`` does it: it shuts the client's socket and raises a ``ConnectionError``,
which werkzeug's server treats as a client that went away, writing nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import authorize, metadata, operator_routes, register, resource, token
from .config import EmulatorConfig
from .controls import ENDPOINTS, Controls, Fault
from .http_responses import clerk_error
from .instance import EXTENSION_KEY, Emulator, current
from .keys import KeyRing
from .state import EmulatorState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DROP_KEY = "flask_clerk_mcp.emulator.drop"

BROKEN_HTML = (
    "<!doctype html><html><head><title>Bad gateway</title></head>"
    "<body><h1>Something went wrong</h1><p>Not JSON, on purpose.</p></body></html>"
)

#: Half of an introspection answer: valid JSON up to where the body stops.
TRUNCATED_JSON = '{"active": true, "sub": "user_'
#: Well-formed JSON that is not an object (a list holding a plausible answer).
NOT_AN_OBJECT = '[{"active": true, "sub": "user_injected", "keys": []}]'


class DropConnection:
    """WSGI wrapper: when a view marked the request, close the socket without answering."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        result = self.app(environ, start_response)
        if not environ.get(DROP_KEY):
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionAbortedError("connection dropped by an injected fault")


def emulator_of(app: Flask) -> Emulator:
    """The emulator behind an app made by ``create_app``."""
    emulator = app.extensions[EXTENSION_KEY]
    assert isinstance(emulator, Emulator)
    return emulator


def _apply_fault(emulator: Emulator, fault: Fault) -> Response | None:
    if fault.mode == "500":
        return clerk_error(
            500,
            "internal_clerk_error",
            "Oops, an unexpected error occurred",
            "Injected fault: internal server error.",
        )
    if fault.mode == "html":
        return Response(BROKEN_HTML, status=200, mimetype="text/html")
    if fault.mode == "truncated":
        # The first half of a JSON object, as a connection cut mid-body would leave it.
        return Response(TRUNCATED_JSON, status=200, mimetype="application/json")
    if fault.mode == "not_object":
        return Response(NOT_AN_OBJECT, status=200, mimetype="application/json")
    if fault.mode == "gone":
        return Response(status=404)
    if fault.mode == "hang":
        emulator.controls.sleep(fault.hang_seconds)
        return None
    request.environ[DROP_KEY] = True
    return Response(status=500)


def _before_request() -> Response | None:
    """Count, slow down and break OAuth endpoints; the operator endpoints stay untouched."""
    name = (request.endpoint or "").rpartition(".")[2]
    if request.blueprint == operator_routes.bp.name or name not in ENDPOINTS:
        return None
    emulator = current()
    emulator.controls.count(name)
    emulator.controls.sleep(emulator.controls.latency_ms / 1000)
    fault = emulator.controls.next_fault(name)
    return _apply_fault(emulator, fault) if fault is not None else None


def _http_error(error: HTTPException) -> Response:
    """Unknown paths and methods answer in Clerk's JSON error shape, not HTML."""
    code = error.code or 500
    return clerk_error(
        code,
        "resource_not_found" if code == 404 else "request_invalid",
        error.name,
        error.description or error.name,
    )


def create_app(config: EmulatorConfig | None = None) -> Flask:
    """A Flask app that answers like one Clerk instance's OAuth endpoints."""
    config = config or EmulatorConfig()
    app = Flask(__name__, template_folder="templates")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.config["TEMPLATES_AUTO_RELOAD"] = False
    Emulator(
        config=config,
        state=EmulatorState(config),
        controls=Controls(config.latency_ms),
        keys=KeyRing(),
    ).install(app)
    for module in (metadata, authorize, token, resource, register, operator_routes):
        app.register_blueprint(module.bp)
    app.before_request(_before_request)
    app.register_error_handler(HTTPException, _http_error)
    app.wsgi_app = DropConnection(app.wsgi_app)  # type: ignore[method-assign]
    return app
