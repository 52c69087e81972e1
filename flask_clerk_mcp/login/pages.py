"""The few HTML pages the login flow shows, and the headers every one of them carries.

Templates live in ``flask_clerk_mcp/templates/clerk_mcp/``; an app overrides any of them by
shipping a template of the same name in its own ``templates/clerk_mcp/`` folder (Flask looks
in the app's folder first).

Every page is ``no-store`` (it may sit at a URL carrying a code or state), refuses framing
(the logout form must not be clickjacked), and sends ``Referer`` only to this site (the
callback URL holds a one-time code that must not leak to whatever else the page links to).
"""

from __future__ import annotations

import re

from flask import current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    # Not "no-referrer": with it, browsers send "Origin: null" on our own logout form's POST.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

#: OAuth ``error`` codes (RFC 6749 §4.1.2.1) and what to tell the user about each.
_OAUTH_ERRORS = {
    "access_denied": "You declined to sign in, or Clerk did not let you. Nothing was shared.",
    "login_required": "Clerk needs you to sign in first.",
    "consent_required": "Clerk needs your consent before signing you in.",
    "invalid_scope": "Clerk refused the permissions this application asks for.",
    "temporarily_unavailable": "Clerk is temporarily unavailable. Try again in a moment.",
    "server_error": "Clerk ran into an error. Try again in a moment.",
}
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


def secure(response: Response) -> Response:
    """Add the pages' security headers where the response has not set its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(template: str, status: int = 200, **context: object) -> Response:
    """Render ``template`` as an HTML page with the security headers."""
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    return secure(response)


def error_page(status: int, title: str, detail: str, *, retry: bool = True) -> Response:
    """A plain page explaining what went wrong, with a way to start over."""
    return page(
        "clerk_mcp/error.html",
        status,
        title=title,
        detail=detail,
        login_url=_login_url() if retry else None,
    )


def oauth_error_page(error: str) -> ResponseReturnValue:
    """Clerk sent ``error=…`` back. Shown, never acted on; ``error_description`` is never
    echoed (it is attacker-controllable text on our domain), only a known code's message."""
    code = error if _ERROR_CODE.match(error or "") else "invalid_request"
    detail = _OAUTH_ERRORS.get(code, "Clerk could not complete the sign-in.")
    status = 403 if code == "access_denied" else 400
    return page(
        "clerk_mcp/error.html",
        status,
        title="Sign-in was not completed",
        detail=detail,
        code=code,
        login_url=_login_url(),
    )


def _login_url() -> str | None:
    """Where "sign in again" goes; None when the callback serves a flow without login."""
    if "clerk_login" in current_app.blueprints:
        return url_for("clerk_login.login")
    return None


def unavailable_page(detail: str, retry_after: int = 5) -> Response:
    """503 for the store or Clerk being down: HTML for browsers, JSON for everyone else."""
    accept = request.accept_mimetypes
    if accept["text/html"] > accept["application/json"]:
        response = page(
            "clerk_mcp/error.html",
            503,
            title="Temporarily unavailable",
            detail=detail,
            login_url=None,
        )
    else:
        response = secure(
            jsonify({"error": "temporarily_unavailable", "error_description": detail})
        )
        response.status_code = 503
    response.headers["Retry-After"] = str(retry_after)
    return response
