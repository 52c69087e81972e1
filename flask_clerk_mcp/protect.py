"""The Flask face of verification: ``require_clerk``, ``current_token`` and RFC 6750 answers.

Thin on purpose: it finds the credential, asks the app's ``ClerkVerifier`` and turns the
outcome into ``g.access_token`` or an answer. All rules about tokens live in ``verifier``; the
header parsing and the answers' shape live in ``bearer``, shared with the WSGI middleware.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast, overload

from flask import current_app, g, jsonify, redirect, request, url_for
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from . import signals
from .bearer import auth_answer, log_rejection, needed_scopes, parse_bearer
from .errors import ClerkAuthError, InvalidToken, MissingToken
from .mcp.documents import resource_metadata_url
from .origins import is_from_own_pages
from .scopes import check_scopes, split_scopes
from .state import ClerkState, get_state
from .tokens import AccessToken

log = logging.getLogger("flask_clerk_mcp")

F = TypeVar("F", bound=Callable[..., Any])

#: The ``g`` attribute holding what the route needs (required + route scopes), for
#: ``require_scopes`` to add a tool's scopes to.
_ROUTE_SCOPES = "clerk_mcp_route_scopes"
EXEMPT_METHODS = frozenset({"OPTIONS"})
#: Methods that must not change state (RFC 9110 §9.2.1): the session cookie alone suffices.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _current_token() -> AccessToken | None:
    return cast("AccessToken | None", g.get("access_token"))


#: The request's verified token (the same object as ``g.access_token``), or None.
current_token: AccessToken = cast(AccessToken, LocalProxy(_current_token))


@overload
def require_clerk(scopes: F) -> F: ...
@overload
def require_clerk(
    scopes: Iterable[str] | str | None = None, *, browser: bool = False
) -> Callable[[F], F]: ...
def require_clerk(
    scopes: Iterable[str] | str | Callable[..., Any] | None = None, *, browser: bool = False
) -> Any:
    """Protect a view with a Clerk access token, with or without parentheses.

    ``scopes`` are needed on top of ``CLERK_REQUIRED_SCOPES``. Bearer tokens only by default:
    an MCP or API endpoint never accepts a cookie. ``browser=True`` also accepts the login
    session, and sends an HTML GET without credentials to the login page.
    """
    if callable(scopes):
        return require_clerk()(scopes)
    route_scopes = split_scopes(scopes)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method in EXEMPT_METHODS:
                # A CORS preflight carries no credentials; answer it without running the
                # view, which must never run unauthenticated (CORS extensions add headers).
                return current_app.make_default_options_response()
            outcome = authenticate(route_scopes, browser=browser)
            if isinstance(outcome, Response):
                return outcome
            return current_app.ensure_sync(view)(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def authenticate(route_scopes: tuple[str, ...] = (), *, browser: bool = False) -> Response | None:
    """Put the verified token on ``g`` or raise ``ClerkAuthError``; a Response means redirect."""
    state = get_state()
    needed = needed_scopes(state.settings, route_scopes)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        token = parse_bearer(request.headers.getlist("Authorization"))
        from_session = False
        if token is None and browser and state.session_credentials is not None:
            if _session_usable(state):
                token = state.session_credentials()
                from_session = token is not None
            else:
                raise MissingToken(
                    "The session cookie is accepted on this method only from this site's own"
                    " pages: send a Bearer access token"
                )
        if token is None:
            if browser and state.login_endpoint and _prefers_html():
                return _to_login(state)
            raise MissingToken("Authentication required: send a Bearer access token")
        try:
            access_token = state.verifier.verify(token)
        except InvalidToken:
            if not from_session:
                raise
            # The session's token died (revoked, refresh failed): forget it, log in again.
            if state.on_session_rejected is not None:
                state.on_session_rejected()
            if state.login_endpoint and _prefers_html():
                return _to_login(state)
            raise
        check_scopes(access_token, needed, state.settings.scope_implies)
    except ClerkAuthError as exc:
        exc.challenge_scopes = needed
        _note_rejection(app, exc)
        raise
    g.access_token = access_token
    setattr(g, _ROUTE_SCOPES, needed)
    signals.token_verified.send(app, token=access_token)
    return None


def require_scopes(*scopes: str) -> AccessToken:
    """Demand ``scopes`` of the request's token from inside a ``@require_clerk`` view.

    For operations that share one URL, as every MCP tool does: the tool calls
    ``require_scopes("notes:write")`` before it acts. A missing scope raises the decorator's
    own 403 ``insufficient_scope`` answer, whose challenge names every scope the operation
    needs (``CLERK_REQUIRED_SCOPES``, the route's and these) so that one step-up
    re-authorization gets them all. ``CLERK_SCOPE_IMPLIES`` applies. Each argument may hold
    several space-separated scopes. Returns the token, whose scopes suffice.

    Raises ``RuntimeError`` outside a view that ``require_clerk`` let through: a programming
    error, never an answer to a client.
    """
    token = _current_token()
    route_needed: tuple[str, ...] | None = g.get(_ROUTE_SCOPES)
    if token is None or route_needed is None:
        raise RuntimeError(
            "require_scopes() needs a verified token: call it inside a @require_clerk view"
        )
    needed = tuple(dict.fromkeys(route_needed + split_scopes(scopes)))
    try:
        check_scopes(token, needed, get_state().settings.scope_implies)
    except ClerkAuthError as exc:
        exc.challenge_scopes = needed
        _note_rejection(current_app._get_current_object(), exc)  # type: ignore[attr-defined]
        raise
    return token


def render_auth_error(exc: ClerkAuthError) -> Response:
    """The JSON answer with the RFC 6750 / RFC 9728 challenge for ``exc`` (``bearer``)."""
    settings = get_state().settings
    answer = auth_answer(exc, settings, resource_metadata_url(settings, request.path))
    response = jsonify(answer.body)
    response.status_code = answer.status
    for name, value in answer.headers:
        response.headers[name] = value
    return response


def _note_rejection(app: Any, exc: ClerkAuthError) -> None:
    """One INFO line per refusal (``bearer.log_rejection``) and the ``token_rejected`` signal."""
    log_rejection(request.method, request.path, exc)
    signals.token_rejected.send(
        app, reason=exc.description, status=exc.status, client_id=exc.client_id
    )


def _session_usable(state: ClerkState) -> bool:
    """Whether this request may be authenticated by the session cookie.

    The cookie is ambient: a hostile page can make the browser send it. Safe methods change
    nothing, so they may use it from anywhere; an unsafe one must come from our own pages
    (the same rule as ``POST /logout``), else the cookie is ignored and no session is read.
    """
    if request.method in SAFE_METHODS:
        return True
    if is_from_own_pages(request.headers, state.settings.base_url):
        return True
    log.info("ignored the session cookie on a cross-origin %s", request.method)
    return False


def _prefers_html() -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def _to_login(state: ClerkState) -> Response:
    if state.prepare_login is not None:
        state.prepare_login()
    return redirect(url_for(state.login_endpoint or "", next=_next_target()))


def _next_target() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")
