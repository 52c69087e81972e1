"""The browser side of the authorization-code flow: authorize → sign in → consent → redirect.

Each step's state stays on the server under a random, single-use id that the page carries in
a hidden field; the id is also bound to a cookie of the browser that started the flow. A form
replayed, posted twice, or posted from another browser (CSRF) finds nothing to complete. The
pages are plain HTML with stable names and ids so a person, the ``driver`` module and
Playwright all click the same buttons.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, render_template, request

from .authorize_request import (
    AuthorizeRequest,
    RedirectError,
    ShowErrorPage,
    parse_authorize_request,
)
from .config import DemoUser, OAuthClient
from .http_responses import error_page, no_store
from .instance import Emulator, current, issuer
from .state import AuthorizationCode, PendingAuthorization

bp = Blueprint("emulator_authorize", __name__)

BROWSER_COOKIE = "__clerk_emulator_browser"

SCOPE_DESCRIPTIONS = {
    "openid": "Confirm your identity (OpenID Connect)",
    "profile": "Your name, profile picture and username",
    "email": "Your primary email address",
    "public_metadata": "Your public and unsafe metadata",
    "private_metadata": "Your private metadata",
    "offline_access": "Stay connected while you are not using the app",
    "user:org:read": "Your active organization",
}


@bp.after_request
def _page_headers(response: Response) -> Response:
    """Pages that grant access must never be framed (clickjacking) or leak via Referer."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "no-referrer"
    return no_store(response)


def send_to_client(redirect_uri: str, response_mode: str, params: dict[str, str]) -> Response:
    """Deliver an authorization response: 302 with a query, or an auto-posting form."""
    if current().config.authorization_response_iss:
        params = {**params, "iss": issuer()}  # RFC 9207
    if response_mode == "form_post":
        page = render_template("form_post.html", action=redirect_uri, params=params)
        return Response(page, mimetype="text/html")
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return Response(status=302, headers={"Location": location})


def _send_error(error: RedirectError) -> Response:
    params = {"error": error.error, "error_description": error.description}
    if error.state is not None:
        params["state"] = error.state
    return send_to_client(error.redirect_uri, error.response_mode, params)


def _browser_id() -> str:
    value = request.cookies.get(BROWSER_COOKIE, "")
    return value if len(value) >= 32 else ""


def _pending_from(emulator: Emulator, req: AuthorizeRequest, browser: str) -> PendingAuthorization:
    return PendingAuthorization(
        client_id=req.client.client_id,
        redirect_uri=req.redirect_uri,
        scopes=req.scopes,
        state=req.state,
        code_challenge=req.code_challenge,
        nonce=req.nonce,
        response_mode=req.response_mode,
        force_consent=req.force_consent,
        resource=req.resource,
        browser=browser,
        expires_at=emulator.config.clock() + emulator.config.pending_authorization_ttl,
    )


def _sign_in_page(
    emulator: Emulator, pending: PendingAuthorization, error: str = "", status: int = 200
) -> Response:
    client = emulator.state.get_client(pending.client_id)
    pending_id = emulator.state.start_pending(pending)
    page = render_template(
        "sign_in.html",
        authorization_id=pending_id,
        client_name=client.client_name if client else pending.client_id,
        users=list(emulator.config.users.values()),
        error=error,
    )
    return Response(page, status=status, mimetype="text/html")


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    emulator = current()
    params = request.form if request.method == "POST" else request.args
    outcome = parse_authorize_request(
        params.to_dict(flat=False), emulator.state.get_client, emulator.config.known_scopes
    )
    if isinstance(outcome, ShowErrorPage):
        return error_page(outcome.title, outcome.detail, 400)
    if isinstance(outcome, RedirectError):
        return _send_error(outcome)
    browser = _browser_id() or secrets.token_urlsafe(32)
    response = _sign_in_page(emulator, _pending_from(emulator, outcome, browser))
    response.set_cookie(BROWSER_COOKIE, browser, httponly=True, samesite="Lax", path="/")
    return response


def _take_pending(emulator: Emulator) -> PendingAuthorization | None:
    pending_id = request.form.get("authorization_id", "")
    if not pending_id:
        return None
    return emulator.state.take_pending(pending_id, _browser_id())


def _find_user(emulator: Emulator) -> DemoUser | None:
    handle = request.form.get("user", "")
    email = request.form.get("email", "").strip().lower()
    for user in emulator.config.users.values():
        if (handle and hmac.compare_digest(user.handle.encode(), handle.encode())) or (
            email and user.email.lower() == email
        ):
            return user
    return None


def _needs_consent(emulator: Emulator, pending: PendingAuthorization, client: OAuthClient) -> bool:
    """Clerk: consent is on by default, and forced whenever DCR is enabled on the instance."""
    cfg = emulator.config
    return cfg.consent_required or cfg.dcr_enabled or client.dynamic or pending.force_consent


EXPIRED = (
    "Sign-in expired",
    "This sign-in step has expired, was already used, or was started in another browser. "
    "Start again from the application.",
)


@bp.post("/sign-in")
def sign_in() -> Response:
    emulator = current()
    pending = _take_pending(emulator)
    if pending is None:
        return error_page(*EXPIRED, status=400)
    client = emulator.state.get_client(pending.client_id)
    if client is None:
        return error_page("Unknown application", "The application no longer exists.", 400)
    user = _find_user(emulator)
    if user is None:
        return _sign_in_page(emulator, pending, "No demo user has that email address.", 400)
    pending.user_handle = user.handle
    if not _needs_consent(emulator, pending, client):
        return _grant(emulator, pending, user)
    pending_id = emulator.state.start_pending(pending)
    page = render_template(
        "consent.html",
        authorization_id=pending_id,
        client_name=client.client_name,
        user=user,
        scopes=[(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in pending.scopes],
    )
    return Response(page, mimetype="text/html")


@bp.post("/consent")
def consent() -> Response:
    emulator = current()
    decision = request.form.get("decision", "")
    if decision not in ("allow", "deny"):
        return error_page("Invalid request", "decision must be allow or deny.", 400)
    pending = _take_pending(emulator)
    if pending is None or pending.user_handle is None:
        return error_page(*EXPIRED, status=400)
    user = emulator.config.users.get(pending.user_handle)
    if user is None or emulator.state.get_client(pending.client_id) is None:
        return error_page(*EXPIRED, status=400)
    if decision == "deny":
        params = {"error": "access_denied", "error_description": "the user denied access"}
        if pending.state is not None:
            params["state"] = pending.state
        return send_to_client(pending.redirect_uri, pending.response_mode, params)
    return _grant(emulator, pending, user)


def _grant(emulator: Emulator, pending: PendingAuthorization, user: DemoUser) -> Response:
    """Issue the authorization code and send the browser back to the client."""
    code = emulator.state.issue_code(
        AuthorizationCode(
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            user_id=user.user_id,
            scopes=pending.scopes,
            code_challenge=pending.code_challenge,
            nonce=pending.nonce,
            expires_at=emulator.config.clock() + emulator.config.authorization_code_ttl,
            grant_id=secrets.token_hex(16),
            resource=pending.resource,
        )
    )
    params = {"code": code}
    if pending.state is not None:
        params["state"] = pending.state
    return send_to_client(pending.redirect_uri, pending.response_mode, params)
