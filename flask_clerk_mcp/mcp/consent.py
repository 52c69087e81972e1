"""The consent page (``GET /oauth/authorize`` renders it) and its answer (``POST /oauth/consent``).

Why a page at all: every MCP client reaches Clerk through this server's one Clerk
application, so Clerk's own consent names *this server*, never the client. Without ours, a
malicious client could have a signed-in user's browser mint tokens for it silently (the
confused deputy; the MCP specification's MUST for such a proxy). It shows the client's name
and id, the host the code will be sent to (prominently, as the spec requires), a warning when
that is only this machine (``localhost``), and the scopes asked for.

How the form is protected:

- **Nothing is stored on GET.** The checked request travels in the form as ``request``,
  signed with ``SECRET_KEY`` (itsdangerous, timed: ``CONSENT_TTL``), so an anonymous GET
  writes nothing to the store, and a tampered request is refused.
- **CSRF: a signed double-submit token** (OWASP's variant). ``csrf_token`` is an HMAC over
  the browser's binding nonce (kept in the signed Flask session cookie) and the ``request``
  value of this render. Each render has its own token, yet none invalidates another: the
  cookie is set once and never rotated by a render, so a repeated GET (a prefetch, a second
  tab, a browser extension) leaves every form already shown valid (FastMCP #4814). A form
  posted from another browser, or without the cookie, fails.
- **Once**: an answered form is marked used in the store (``add``: one winner), so a double
  submit does not start two authorizations.
- **Framing and caching**: ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY``) against
  clickjacking the Approve button, ``no-store``, ``Referrer-Policy: same-origin``.

Approve starts a transaction of kind ``"mcp_proxy"`` bound to this browser
(``login.transactions.begin_transaction``: the binding cookie the shared callback checks) and
sends the browser to Clerk with the proxy's own PKCE pair and the transaction id as
``state``, forwarding ``resource``. Deny redirects to the client with ``access_denied``,
``state`` and ``iss``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from flask import current_app, redirect, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import RequestEntityTooLarge

from ..login import oauth
from ..login.pages import error_page, page, secure
from ..login.transactions import begin_transaction, browser_binding
from ..state import get_state, require_store
from .authorization_request import AuthorizationRequest
from .client_metadata import ClientRecord
from .grants import digest
from .inbound import FORM_LIMIT, too_large
from .oauth_errors import OAuthError, authorization_error_redirect
from .proxy import PROXY_KIND, recheck_client
from .redirects import parse_redirect_uri

log = logging.getLogger("flask_clerk_mcp")

#: Seconds a rendered consent form stays answerable.
CONSENT_TTL = 600
_SALT = "flask-clerk-mcp.consent"
_CSRF_CONTEXT = b"flask-clerk-mcp consent csrf\x00"
#: The page's policy: no scripts at all, inline styles (the shared layout), no framing.
CONSENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

#: What each scope lets the client do, in words for the consent page.
SCOPE_TEXT = {
    "openid": "Know who you are (your Clerk user id)",
    "email": "See your email address",
    "profile": "See your name, username and profile picture",
    "offline_access": "Stay connected without asking you again (refresh tokens)",
    "public_metadata": "Read your public metadata",
    "private_metadata": "Read your private metadata",
    "user:org:read": "See your organizations",
}


def _serializer() -> URLSafeTimedSerializer:
    app = current_app
    keys = [*(app.config.get("SECRET_KEY_FALLBACKS") or ()), app.secret_key]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def _secret_bytes() -> bytes:
    key = current_app.secret_key
    return key if isinstance(key, bytes) else str(key).encode("utf-8")


def csrf_token(binding: str, signed_request: str) -> str:
    """The token that binds one rendered form to the browser holding ``binding``."""
    message = _CSRF_CONTEXT + binding.encode("ascii") + b"\x00" + signed_request.encode("ascii")
    return hmac.new(_secret_bytes(), message, hashlib.sha256).hexdigest()


def render_consent(req: AuthorizationRequest, client: ClientRecord) -> ResponseReturnValue:
    """The page for ``req``: a fresh signed request and CSRF token, the client described."""
    binding = browser_binding(create=True)
    assert binding is not None  # created above
    # "n" makes every render's form (and so its CSRF token) its own.
    signed = _serializer().dumps({**req.to_json(), "n": secrets.token_urlsafe(12)})
    target = parse_redirect_uri(req.redirect_uri)
    response = page(
        "clerk_mcp/consent.html",
        client=client,
        client_name=client.client_name or "An unnamed application",
        redirect_host=target.host or f"{target.scheme}:",
        loopback=target.loopback,
        via_url=client.kind == "cimd",
        scopes=[(s, SCOPE_TEXT.get(s, f"Use the scope {s}")) for s in req.scopes],
        server=get_state().settings.base_url,
        signed_request=signed,
        csrf_token=csrf_token(binding, signed),
    )
    response.headers["Content-Security-Policy"] = CONSENT_CSP
    return response


def consent() -> ResponseReturnValue:
    """``POST /oauth/consent``: check the form, then approve (to Clerk) or deny (to the client)."""
    if request.content_length is not None and request.content_length > FORM_LIMIT:
        return _refused(too_large().description, 413)
    request.max_content_length = FORM_LIMIT
    try:
        form = request.form
    except RequestEntityTooLarge:
        return _refused(too_large().description, 413)
    signed = form.get("request", "")
    try:
        data = _serializer().loads(signed, max_age=CONSENT_TTL)
    except BadSignature:  # includes SignatureExpired
        return _refused("This consent form has expired or was altered; start again.")
    req = AuthorizationRequest.from_json(
        {k: v for k, v in data.items() if k != "n"} if isinstance(data, dict) else None
    )
    if req is None:
        return _refused("This consent form is not valid; start again.")
    binding = browser_binding(create=False)
    token = form.get("csrf_token", "")
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a 500).
    expected = csrf_token(binding, signed).encode() if binding is not None else b""
    if binding is None or not hmac.compare_digest(token.encode(), expected):
        log.info("refused a consent answer: CSRF token missing or wrong")
        return _refused("This consent form was not sent from this browser's page.", 403)
    client = recheck_client(req.client_id, req.redirect_uri)
    if client is None:
        return _refused("The client or its redirect URI is no longer accepted.")
    action = form.get("action")
    if action not in ("approve", "deny"):
        return _refused("Choose Approve or Deny.")
    if not require_store().add("mcp:consent:" + digest(signed), 1, CONSENT_TTL):
        return _refused("This consent form was already answered.")
    issuer = get_state().settings.base_url
    if action == "deny":
        log.info("consent denied for MCP client %s", req.client_id)
        error = OAuthError("access_denied", "the user denied the request")
        return authorization_error_redirect(req.redirect_uri, error, state=req.state, issuer=issuer)
    return _to_clerk(req)


def _to_clerk(req: AuthorizationRequest) -> ResponseReturnValue:
    settings = get_state().settings
    verifier, challenge = oauth.pkce_pair()
    state = begin_transaction(PROXY_KIND, {"request": req.to_json(), "verifier": verifier})
    url = oauth.authorization_url(
        settings,
        redirect_uri=settings.base_url + settings.redirect_path,
        scopes=req.scopes,
        state=state,
        challenge=challenge,
        resource=req.resource,
    )
    log.info("consent given for MCP client %s; on to Clerk", req.client_id)
    return secure(redirect(url, code=303))


def _refused(detail: str, status: int = 400) -> ResponseReturnValue:
    return error_page(status, "Authorization could not continue", detail, retry=False)
