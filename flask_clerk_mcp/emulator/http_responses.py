"""How the emulator answers over HTTP: JSON with the no-store rule, and Clerk's refusals.

Clerk says no in three shapes:

- OAuth endpoints (token, revocation, registration) answer RFC 6749 §5.2 bodies:
  ``{"error": …, "error_description": …}``.
- Clerk's own FAPI shape, used by userinfo, introspection's client check and disabled
  features: ``{"errors": [{"message", "long_message", "code"}], "clerk_trace_id"}``.
- The browser-facing authorize flow shows a plain HTML error page when it must not redirect
  (unknown client, unregistered redirect URI): redirecting there would make the emulator an
  open redirector.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify, render_template


def no_store(response: Response) -> Response:
    """Credentials and verdicts must never be cached (RFC 6749 §5.1, RFC 7662 §4)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def json_answer(payload: Mapping[str, Any], status: int = 200) -> Response:
    response = jsonify(dict(payload))
    response.status_code = status
    return no_store(response)


def oauth_error(
    error: str,
    description: str,
    status: int = 400,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = json_answer({"error": error, "error_description": description}, status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def invalid_client(description: str) -> Response:
    """RFC 6749 §5.2: 401 and a ``Basic`` challenge."""
    return oauth_error(
        "invalid_client",
        description,
        401,
        {"WWW-Authenticate": 'Basic realm="clerk-emulator", charset="UTF-8"'},
    )


def clerk_error(
    status: int,
    code: str,
    message: str,
    long_message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = json_answer(
        {
            "errors": [{"message": message, "long_message": long_message, "code": code}],
            "clerk_trace_id": secrets.token_hex(16),
        },
        status,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_page(title: str, detail: str, status: int = 400) -> Response:
    response = Response(
        render_template("error.html", title=title, detail=detail),
        status=status,
        mimetype="text/html",
    )
    return no_store(response)
