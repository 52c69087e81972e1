"""Browser login with Clerk: authorization code + PKCE (S256), server-side sessions.

``ClerkMCP`` registers this per ``CLERK_LOGIN``: ``"auto"`` when ``CLERK_CLIENT_SECRET``,
``CLERK_BASE_URL`` and ``SECRET_KEY`` are all set (so resource-server-only apps keep working
untouched), ``True`` to require them (a ``ConfigurationError`` names what is missing),
``False`` never.

Routes: ``GET /login?next=…``, ``GET {CLERK_REDIRECT_PATH}`` (one callback for every kind of
transaction), ``GET /logout`` (a confirmation form), ``POST /logout``, ``GET /logged-out``.

Choices, and why:

- **Transactions** (``transactions``): ``state`` is 32 random bytes; the PKCE verifier is ours
  (86 characters, S256), kept server-side in the store with the ``next`` target for 10
  minutes, consumed once by an atomic ``pop``, and bound to the browser by the SHA-256 of a
  random nonce in the signed session cookie, compared in constant time. The state is the
  store key, so the lookup itself is the state check; a wrong, replayed or foreign state finds
  nothing.
- **Identity**: this server is a confidential client, so the access token is verified exactly
  like a bearer token (introspection, then userinfo). The ``id_token`` is not used and no
  ``nonce`` is claimed; the token must carry ``CLERK_REQUIRED_SCOPES``.
- **Token endpoint** (``oauth``): oauthlib's ``WebApplicationClient`` builds and parses the
  requests, sent over the verifier's per-thread pooled ``requests`` session with
  ``client_secret_basic``; ``OAuth2Session`` itself is avoided (see ``oauth`` for why).
- **Sessions** (``sessions``): the cookie holds only a random handle; tokens are in the store.
  The handle and the whole Flask session are replaced at login (no fixation). Refresh happens
  when less than 60 s (or a quarter of a shorter lifetime) is left, once per session under a
  store lock; others wait for the new record. A refused refresh ends the session (the core
  then redirects to ``/login``); Clerk being down keeps the old token while it is valid.
  A token Clerk refuses later ends the session unless a parallel refresh already replaced it.
- **Cookie**: ``HttpOnly``, ``SameSite=Lax`` (the callback is a top-level GET from Clerk, which
  Lax allows), ``Secure`` when ``CLERK_BASE_URL`` is https — each only where the app left
  Flask's default in place.
- **next**: same-origin relative paths only (``navigation.safe_next``), else ``/``; it is a
  path inside this app, so the app's script root is prefixed.
- **Logout**: POST only, same-origin by ``Origin`` (against ``CLERK_BASE_URL``'s origin) or,
  without it or with ``Origin: null``, by ``Sec-Fetch-Site: same-origin``; neither → refused.
  No CSRF token: both headers are set by the browser itself and cannot be forged by a page.
  It revokes both tokens at Clerk (best effort, short timeout), deletes the server-side
  session, clears the cookie, and lands on a signed-out page rather than ``/login``: Clerk
  keeps its own session and would sign the user straight back in.
- **Pages** send ``Referrer-Policy: same-origin`` (not ``no-referrer``, under which browsers
  post our own logout form with ``Origin: null``), ``no-store`` and no framing.
- **Failures**: the store failing (``StoreError``) is a 503 page (JSON for non-HTML clients),
  never a 500; Clerk failing is a 503 too. Tokens, codes, verifiers and secrets are never
  logged; ``error_description`` from Clerk is never echoed.
"""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.wrappers import Response

from ..requirements import missing_error, missing_for_sign_in
from ..settings import Settings
from ..state import CallbackHandler, ClerkState
from ..store import StoreError
from .pages import unavailable_page
from .sessions import forget_rejected_session, session_credentials
from .transactions import begin_transaction, install_callback
from .views import BLUEPRINT, LOGIN_KIND, complete_login, make_blueprint, prepare_browser

__all__ = [
    "BLUEPRINT",
    "CallbackHandler",
    "begin_transaction",
    "harden_session_cookie",
    "install_callback",
    "login_enabled",
    "register_login",
    "store_unavailable",
]

log = logging.getLogger("flask_clerk_mcp")


def login_enabled(app: Flask, settings: Settings) -> bool:
    """Whether ``CLERK_LOGIN`` turns the login on for ``app``; raises when it is required but
    cannot work."""
    if settings.login is False:
        return False
    missing = missing_for_sign_in(app, settings)
    if not missing:
        return True
    if settings.login is True:
        raise missing_error(missing, "for the browser login (CLERK_LOGIN is true)")
    log.debug("browser login not registered: %s not set", ", ".join(missing))
    return False


def register_login(app: Flask, state: ClerkState) -> None:
    """Wire the login into ``app``; ``state.store`` must already be set."""
    harden_session_cookie(app, state.settings)
    install_callback(app)
    state.callback_handlers[LOGIN_KIND] = complete_login
    app.register_blueprint(make_blueprint())
    app.register_error_handler(StoreError, store_unavailable)
    state.session_credentials = session_credentials
    state.on_session_rejected = forget_rejected_session
    state.login_endpoint = f"{BLUEPRINT}.login"
    state.prepare_login = prepare_browser


def harden_session_cookie(app: Flask, settings: Settings) -> None:
    """Harden the session cookie where the app kept Flask's defaults (its own choice wins).

    Shared with the MCP proxy, whose consent form and browser binding ride on it."""
    defaults = Flask.default_config
    if app.config.get("SESSION_COOKIE_SAMESITE") == defaults["SESSION_COOKIE_SAMESITE"]:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    secure = settings.base_url.startswith("https://")
    if secure and app.config.get("SESSION_COOKIE_SECURE") == defaults["SESSION_COOKIE_SECURE"]:
        app.config["SESSION_COOKIE_SECURE"] = True
    if not app.config.get("SESSION_COOKIE_HTTPONLY", True):
        log.warning("SESSION_COOKIE_HTTPONLY is off: scripts can read the login session cookie")


def store_unavailable(exc: StoreError) -> Response:
    """503 when the store fails: a page for browsers, JSON for everyone else."""
    log.warning("Clerk store unavailable: %s", exc)
    return unavailable_page("Sign-in is temporarily unavailable; try again shortly.")
