"""Per-app state: what one app needs at request time, and the one way to reach it.

It lives in ``app.extensions["clerk_mcp"]``, never on the ``ClerkMCP`` object or a blueprint,
so one extension can serve many apps (factories, tests) and nothing of one request can leak
into another's (Flask-Dance leaked a login that way). ``extension`` builds it; the core, the
login and the proxy read it through ``get_state`` and fill in their hooks at wiring time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask, current_app
from flask.typing import ResponseReturnValue

from .mcp.proxy_state import ProxyState
from .settings import Settings
from .store import Store
from .upstream import Upstream
from .verifier import ClerkVerifier

#: The key of ``app.extensions`` that holds the ``ClerkState``.
EXTENSION_KEY = "clerk_mcp"

#: ``handler(transaction, query_args)``: finish a callback transaction of one kind.
CallbackHandler = Callable[[dict[str, Any], Mapping[str, str]], ResponseReturnValue]


@dataclass
class ClerkState:
    """Everything one app needs at request time."""

    settings: Settings
    verifier: ClerkVerifier
    #: Set by the login blueprint: the session's access token on ``browser=True`` routes.
    session_credentials: Callable[[], str | None] | None = None
    #: Set by the login blueprint: forget a session whose token was refused.
    on_session_rejected: Callable[[], None] | None = None
    #: Endpoint of the login page, for redirecting browsers; None without login.
    login_endpoint: str | None = None
    #: Set by the login blueprint: ready the browser (its cookie) before it is sent to login.
    prepare_login: Callable[[], None] | None = None
    #: Server-side state (login sessions and transactions); None when nothing needs it.
    store: Store | None = None
    #: The callback's handlers, by transaction kind ("login"; the proxy adds its own).
    callback_handlers: dict[str, CallbackHandler] = field(default_factory=dict)
    #: Set by ``mcp.proxy.register_proxy`` in proxy mode: clients, redirect rules, signing.
    proxy: ProxyState | None = None

    @property
    def upstream(self) -> Upstream:
        """Outbound HTTP to Clerk (per-thread sessions, client credentials)."""
        return self.verifier.upstream


def get_state(app: Flask | None = None) -> ClerkState:
    """The ``ClerkState`` of ``app`` (default: the current app).

    Raises ``RuntimeError`` naming the fix when ``ClerkMCP`` was never set up on the app.
    """
    target = app if app is not None else current_app
    try:
        return cast(ClerkState, target.extensions[EXTENSION_KEY])
    except KeyError:
        raise RuntimeError(
            "this app has no ClerkMCP (require_clerk or the login used without it): "
            "call ClerkMCP(app) or clerk.init_app(app)"
        ) from None


def require_store(app: Flask | None = None) -> Store:
    """The app's store; the login (and the proxy) are never registered without one."""
    store = get_state(app).store
    if store is None:  # pragma: no cover - register_login always sets it
        raise RuntimeError("this flow needs a store (ClerkState.store is not set)")
    return store
