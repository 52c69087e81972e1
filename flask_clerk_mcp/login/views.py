"""The ``clerk_login`` blueprint: ``/login``, the ``"login"`` callback kind, ``/logout``.

Per-request state never lives on the blueprint (Flask-Dance leaked one user's login into
another's that way): everything a login must remember goes into the store, keyed by
``state``, and everything per app is read from ``ClerkState``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from .. import signals
from ..errors import InsufficientScope, InvalidToken, UpstreamUnavailable
from ..origins import is_from_own_pages
from ..scopes import check_scopes
from ..state import get_state
from . import clock, oauth, sessions
from .navigation import safe_next
from .pages import error_page, oauth_error_page, page, secure, unavailable_page
from .transactions import begin_transaction, browser_binding

log = logging.getLogger("flask_clerk_mcp")

BLUEPRINT = "clerk_login"
LOGIN_KIND = "login"
#: Query flag of ``/login``'s redirect to itself: the browser was just given its cookie.
COOKIE_CHECK = "cookie_check"


def prepare_browser() -> None:
    """Give this browser its binding nonce (in the signed session cookie) ahead of ``/login``.

    The core calls this (``ClerkState.prepare_login``) before sending a browser from a
    ``browser=True`` route to the login page, so the usual path needs no extra hop.
    """
    browser_binding(create=True)


def make_blueprint() -> Blueprint:
    """A fresh blueprint per app, so registering on many apps shares nothing."""
    blueprint = Blueprint(BLUEPRINT, __name__, template_folder="../templates")
    blueprint.add_url_rule("/login", "login", login, methods=["GET"])
    blueprint.add_url_rule("/logout", "logout_form", logout_form, methods=["GET"])
    blueprint.add_url_rule("/logout", "logout", logout, methods=["POST"])
    blueprint.add_url_rule("/logged-out", "logged_out", logged_out, methods=["GET"])
    return blueprint


def redirect_uri() -> str:
    """The callback URL, built from ``CLERK_BASE_URL`` (never from the request's Host, which a
    TLS-terminating proxy rewrites)."""
    settings = get_state().settings
    return settings.base_url + settings.redirect_path


def login_scopes() -> tuple[str, ...]:
    """The scopes a login asks for: the required ones, plus ``offline_access`` when enabled."""
    settings = get_state().settings
    scopes = settings.required_scopes
    if settings.offline_access and "offline_access" not in scopes:
        scopes = (*scopes, "offline_access")
    return scopes


def login() -> ResponseReturnValue:
    """Start a login: a transaction bound to this browser, then off to Clerk.

    A client without the browser nonce is first given one and sent back here: a client that
    does not keep cookies (a script, a crawler, a link preview) never writes to the store.
    """
    settings = get_state().settings
    target = safe_next(request.args.get("next"))
    if browser_binding(create=False) is None:
        # Nothing is stored for a client that does not keep our cookie: it gets one, and
        # the transaction is written when it comes back with it (browsers do at once).
        if request.args.get(COOKIE_CHECK):
            return error_page(
                400,
                "Sign-in needs cookies",
                "Allow cookies for this site, then sign in again.",
                retry=False,
            )
        prepare_browser()
        back = url_for(".login") + "?" + urlencode({"next": target, COOKIE_CHECK: "1"}, safe="/")
        return secure(redirect(back, code=302))
    verifier, challenge = oauth.pkce_pair()
    state = begin_transaction(LOGIN_KIND, {"verifier": verifier, "next": target})
    url = oauth.authorization_url(
        settings,
        redirect_uri=redirect_uri(),
        scopes=login_scopes(),
        state=state,
        challenge=challenge,
    )
    return secure(redirect(url, code=302))


def complete_login(transaction: dict[str, Any], args: Mapping[str, str]) -> ResponseReturnValue:
    """The ``"login"`` callback kind: exchange the code, verify, start the session."""
    state = get_state()
    if "error" in args:
        return oauth_error_page(args.get("error", ""))
    code = args.get("code")
    verifier = transaction.get("verifier")
    if not code:
        return error_page(400, "Sign-in could not be completed", "Clerk sent no code.")
    if not isinstance(verifier, str) or not verifier:
        return error_page(400, "Sign-in could not be completed", "The sign-in lost its key.")
    try:
        tokens = oauth.exchange_code(
            state.settings,
            state.upstream,
            code=code,
            redirect_uri=redirect_uri(),
            verifier=verifier,
            clock=clock.now,
        )
    except oauth.TokenRefused:
        return error_page(
            400, "Sign-in could not be completed", "Clerk refused the sign-in (expired or used)."
        )
    except oauth.TokenEndpointUnavailable:
        return unavailable_page("Clerk is unavailable; try signing in again shortly.")
    try:
        token = state.verifier.verify(tokens.access_token)
        check_scopes(token, state.settings.required_scopes, state.settings.scope_implies)
    except InsufficientScope:
        return error_page(
            403, "Sign-in could not be completed", "Clerk did not grant the access this app needs."
        )
    except InvalidToken:
        return error_page(400, "Sign-in could not be completed", "Clerk's token was not usable.")
    except UpstreamUnavailable:
        return unavailable_page("Clerk is unavailable; try signing in again shortly.")
    sessions.start_session(tokens, token)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.login_completed.send(app, token=token)
    target = safe_next(str(transaction.get("next") or ""))
    return secure(redirect(request.script_root + target, code=303))


def logout_form() -> ResponseReturnValue:
    """GET /logout changes nothing: it shows a form that POSTs (a link or an image tag on a
    hostile page must not be able to sign anyone out)."""
    signed_in = sessions.current_handle() is not None
    return page("clerk_mcp/logout.html", signed_in=signed_in, logout_url=url_for(".logout"))


def logout() -> ResponseReturnValue:
    """Revoke at Clerk, delete the server-side session, clear the cookie.

    Accepted only from our own pages (``Origin`` or ``Sec-Fetch-Site``): a cross-site form
    must not be able to sign users out.
    """
    state = get_state()
    if not is_from_own_pages(request.headers, state.settings.base_url):
        log.info("refused a cross-site or unattributable POST /logout")
        return error_page(
            403, "Sign-out refused", "Sign out from this site's own sign-out page.", retry=False
        )
    handle = sessions.current_handle()
    record = sessions.end_session(handle, revoke=True) if handle is not None else None
    session.clear()
    if record is not None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        subject = record.get("subject")
        signals.logged_out.send(app, subject=subject if isinstance(subject, str) else None)
    return secure(redirect(url_for(".logged_out"), code=303))


def logged_out() -> ResponseReturnValue:
    """Where logout lands. Not straight back to ``/login``: Clerk keeps its own session, so
    that would sign the user silently back in."""
    return page("clerk_mcp/logged_out.html", login_url=url_for(".login"))
