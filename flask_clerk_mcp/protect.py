"""The Flask face of verification: ``require_clerk``, ``current_token`` and RFC 6750 answers.

Thin on purpose: it finds the credential, asks the app's ``ClerkVerifier`` and turns the
outcome into ``g.access_token`` or an answer. All rules about tokens live in ``verifier``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast, overload
from urllib.parse import quote

from flask import current_app, g, jsonify, redirect, request, url_for
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response

from . import signals
from .errors import (
    ClerkAuthError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    UpstreamUnavailable,
)
from .mcp.metadata import resource_metadata_url
from .origins import is_from_own_pages
from .scopes import challenge_scopes, split_scopes
from .state import ClerkState, get_state
from .tokens import AccessToken
from .verifier import check_scopes

log = logging.getLogger("flask_clerk_mcp")

F = TypeVar("F", bound=Callable[..., Any])

MAX_HEADER_LENGTH = 4096
#: The ``g`` attribute holding what the route needs (required + route scopes), for
#: ``require_scopes`` to add a tool's scopes to.
_ROUTE_SCOPES = "clerk_mcp_route_scopes"
_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_UNSAFE_IN_QUOTES = re.compile(r'[^\x20-\x7e]|["\\]')
EXEMPT_METHODS = frozenset({"OPTIONS"})
#: Characters of a path logged as they are; everything else is percent-encoded.
_PATH_SAFE = "/-._~!$&'()*+,;=:@%"
#: Methods that must not change state (RFC 9110 §9.2.1): the session cookie alone suffices.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _current_token() -> AccessToken | None:
    return cast("AccessToken | None", g.get("access_token"))


#: The request's verified token (the same object as ``g.access_token``), or None.
current_token: AccessToken = cast(AccessToken, LocalProxy(_current_token))


def parse_bearer(values: list[str]) -> str | None:
    """The token of ``Authorization: Bearer <token68>``; None when there is no header.

    Anything else that claims to be credentials is ``InvalidRequest`` (RFC 6750 §3.1), decided
    before any upstream call.
    """
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("More than one Authorization header")
    value = values[0]
    if len(value) > MAX_HEADER_LENGTH:
        raise InvalidRequest("The Authorization header is too long")
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidRequest("The Authorization header must use the Bearer scheme")
    token = rest.strip(" ")
    if not token:
        raise InvalidRequest("The Bearer token is missing")
    if not _TOKEN68.match(token):
        raise InvalidRequest("The Bearer token is malformed")
    return token


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
    needed = state.settings.required_scopes + tuple(
        s for s in route_scopes if s not in state.settings.required_scopes
    )
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
    """The JSON answer with the RFC 6750 / RFC 9728 challenge for ``exc``."""
    body = {"error": exc.error or "unauthorized", "error_description": exc.description}
    response = jsonify(body)
    response.status_code = exc.status
    if isinstance(exc, UpstreamUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    settings = get_state().settings
    metadata = ("resource_metadata", resource_metadata_url(settings, request.path))
    # Only what the Clerk application can grant: a scope it refuses fails the whole login.
    scope = " ".join(
        challenge_scopes(
            exc.challenge_scopes or getattr(exc, "scopes", ()),
            settings.scopes_supported,
            settings.scope_implies,
        )
    )
    params: list[tuple[str, str]]
    if exc.error is None:  # no credentials: no error code (RFC 6750 §3.1)
        params = [metadata, ("scope", scope)]
    elif isinstance(exc, InsufficientScope):
        params = [
            ("error", exc.error),
            ("scope", scope),
            metadata,
            ("error_description", exc.description),
        ]
    else:
        params = [("error", exc.error), ("error_description", exc.description), metadata]
    params = [(name, value) for name, value in params if value]
    response.headers["WWW-Authenticate"] = "Bearer " + ", ".join(
        f'{name}="{_UNSAFE_IN_QUOTES.sub("", value)}"' for name, value in params
    )
    response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
    response.headers["Cache-Control"] = "no-store"
    return response


def _note_rejection(app: Any, exc: ClerkAuthError) -> None:
    """One INFO line per refusal: why, and the client the token was issued to where known.

    Never the token: only our own descriptions, the escaped path and the client id (quoted
    by ``%r``, so no value of Clerk's can forge a line). A 503 is not a verdict on the token;
    the verifier logs it at WARNING.
    """
    if not isinstance(exc, UpstreamUnavailable):
        # Escaped: a %0A in the path must not forge a second log line.
        path = quote(request.path, safe=_PATH_SAFE)
        log.info(
            "rejected %s %s (%d %s): %s; client_id=%r",
            request.method,
            path,
            exc.status,
            exc.error or "no_credentials",
            exc.description,
            exc.client_id,
        )
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
