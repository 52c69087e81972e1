"""``ClerkMCP``: reads the settings once per app and wires the pieces into it.

The only module that wires. Per-app state lives in ``app.extensions["clerk_mcp"]`` (a
``state.ClerkState``), never on the extension object, so one ``ClerkMCP`` can serve many apps
(application factories, tests) without one app's state leaking into another's.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .cache import VerificationCache, make_cache_backend
from .errors import ClerkAuthError, ConfigurationError
from .login import login_enabled, register_login
from .mcp.metadata import register_metadata_routes
from .mcp.proxy import resolve_mode
from .mcp.routes import register_proxy
from .protect import render_auth_error
from .settings import Settings, load_settings
from .state import EXTENSION_KEY, ClerkState, get_state
from .store import derive_store_key, make_store
from .verifier import ClerkVerifier


def _key_material(settings: Settings, app: Flask) -> str | bytes | None:
    """``CLERK_STORE_KEY`` (checked by ``settings``), else ``SECRET_KEY``, else None.

    ``SECRET_KEY`` is Flask's, so only its type is checked here: ``True`` or ``1`` (what
    ``from_prefixed_env`` makes of ``FLASK_SECRET_KEY=true``) would be a key everyone knows.
    """
    if settings.store_key:
        return settings.store_key
    secret_key = app.secret_key
    if secret_key is None or secret_key == "":
        return None
    if not isinstance(secret_key, (str, bytes)):
        raise ConfigurationError(
            "SECRET_KEY",
            f"must be text or bytes to serve as key material, not {type(secret_key).__name__}",
        )
    return secret_key


def _cache_secret(material: str | bytes | None) -> bytes:
    """Key for sealing cache entries, from the store key material.

    Without any, a random per-process key: safe, but workers sharing a Redis cache then
    cannot use each other's entries.
    """
    if not material:
        return os.urandom(32)
    return derive_store_key(material)


class ClerkMCP:
    """Clerk OAuth for a Flask app: ``ClerkMCP(app)`` or ``ClerkMCP(); init_app(app)``.

    Keyword options override the ``CLERK_*`` keys of the same name (lower case, no prefix),
    e.g. ``ClerkMCP(app, client_id="...")``.
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **options: Any) -> None:
        """Read and check the settings (a ``ConfigurationError`` names a wrong key), build the
        app's state and wire the routes: metadata, the login when ``CLERK_LOGIN`` says so, and
        the MCP authorization proxy in proxy mode (``mcp.proxy.resolve_mode``).
        ``options`` override the constructor's, which override ``CLERK_*`` config keys."""
        settings = load_settings(app.config, {**self._options, **options})
        settings = resolve_mode(app, settings)  # proxy unless it cannot be (then: why)
        material = _key_material(settings, app)
        cache = VerificationCache(
            make_cache_backend(settings.cache) if settings.cache_ttl > 0 else None,
            ttl=settings.cache_ttl,
            issuer=settings.issuer,
            accepted_client_ids=settings.accepted_client_ids,
            secret=_cache_secret(material),
        )
        state = ClerkState(settings=settings, verifier=ClerkVerifier(settings, cache))
        app.extensions[EXTENSION_KEY] = state
        register_metadata_routes(app, settings)
        proxy = settings.mcp_mode == "proxy"
        login = login_enabled(app, settings)
        if proxy or login:
            state.store = make_store(
                settings.store,
                key_material=material or "",
                default_dir=os.path.join(app.instance_path, "clerk_mcp_store"),
            )
        if login:
            register_login(app, state)
        if proxy:
            register_proxy(app, state)
        app.register_error_handler(ClerkAuthError, render_auth_error)

    @staticmethod
    def state(app: Flask | None = None) -> ClerkState:
        """The ``ClerkState`` of ``app`` (default: the current app); see ``state.get_state``."""
        return get_state(app)
