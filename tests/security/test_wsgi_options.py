"""Probes of ``ClerkMiddleware``'s one exemption: ``OPTIONS`` on a protected path.

The middleware lets a CORS preflight through to the app unauthenticated (a preflight carries
no credentials; the app answers it). But the wrapped app may not dispatch on the method — a
bare WSGI callable, a Django function view — and would then run the protected handler for an
``OPTIONS`` request. A preflight never has a body, so one with a body is no preflight: it must
be authenticated like any other request, and a preflight reaches the app with no body at all.
"""

from __future__ import annotations

import io
import json
from typing import Any

from werkzeug.test import Client

from flask_clerk_mcp.wsgi import ClerkMiddleware
from tests.login.conftest import BASE_URL

CALL = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}).encode()


class MethodBlindApp:
    """An MCP handler that never looks at the method: it runs whatever body it gets."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length) if length else b"")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"result": "the tool ran"}']


def _client() -> tuple[MethodBlindApp, Client]:
    app = MethodBlindApp()
    middleware = ClerkMiddleware(
        app, issuer_url="http://127.0.0.1:9", client_id="c", client_secret="s", base_url=BASE_URL
    )
    return app, Client(middleware)


def test_an_options_request_with_a_body_is_authenticated():
    app, client = _client()
    answer = client.options("/mcp", data=CALL, content_type="application/json")
    assert answer.status_code == 401
    assert app.bodies == []


def test_a_chunked_options_request_is_authenticated():
    app, client = _client()
    answer = client.options(
        "/mcp",
        input_stream=io.BytesIO(CALL),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 401
    assert app.bodies == []


def test_a_preflight_still_reaches_the_app_without_credentials():
    app, client = _client()
    answer = client.options(
        "/mcp",
        headers={
            "Origin": "https://inspector.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert answer.status_code == 200
    assert app.bodies == [b""]
