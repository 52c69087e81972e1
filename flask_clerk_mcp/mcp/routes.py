"""Wiring of proxy mode: ``register_proxy(app, state)``, the one call ``extension`` makes.

Routes (paths inside the app; the metadata names them under ``CLERK_BASE_URL``):

| path | methods | room |
| --- | --- | --- |
| AS metadata (``as_metadata.metadata_paths``) | GET, OPTIONS | ``as_metadata`` |
| ``/oauth/register`` | POST, OPTIONS | ``register`` |
| ``/oauth/authorize`` | GET | ``authorize`` (then ``consent``'s page) |
| ``/oauth/consent`` | POST | ``consent`` |
| ``CLERK_REDIRECT_PATH`` (shared with the login) | GET | ``callback`` (kind ``mcp_proxy``) |
| ``/oauth/token`` | POST, OPTIONS | ``token``, ``refresh_grace`` |
| ``/oauth/revoke`` | POST, OPTIONS | ``revoke`` |

The JSON endpoints also take GET only to answer it with an RFC 6749 JSON error (405) rather
than Flask's HTML page.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from ..login import harden_session_cookie, install_callback, store_unavailable
from ..state import ClerkState
from ..store import StoreError
from . import as_metadata as paths
from .authorize import authorize
from .callback import complete_authorization
from .consent import consent
from .proxy import PROXY_KIND
from .proxy_state import build_proxy_state
from .register import register_endpoint
from .revoke import revoke_endpoint
from .token import token_endpoint

BLUEPRINT = "clerk_mcp_proxy"
_JSON_METHODS = ["GET", "POST", "OPTIONS"]


def make_blueprint() -> Blueprint:
    """A fresh blueprint per app, so registering on many apps shares nothing."""
    blueprint = Blueprint(BLUEPRINT, __name__, template_folder="../templates")
    blueprint.add_url_rule(paths.AUTHORIZE_PATH, "authorize", authorize, methods=["GET"])
    blueprint.add_url_rule(paths.CONSENT_PATH, "consent", consent, methods=["POST"])
    blueprint.add_url_rule(
        paths.REGISTER_PATH, "register", register_endpoint, methods=_JSON_METHODS
    )
    blueprint.add_url_rule(paths.TOKEN_PATH, "token", token_endpoint, methods=_JSON_METHODS)
    blueprint.add_url_rule(paths.REVOKE_PATH, "revoke", revoke_endpoint, methods=_JSON_METHODS)
    return blueprint


def register_proxy(app: Flask, state: ClerkState) -> None:
    """Wire the proxy into ``app``; ``state.store`` must already be set."""
    if state.store is None:  # pragma: no cover - extension sets it first
        raise RuntimeError("the proxy needs the app's store")
    state.proxy = build_proxy_state(state.settings, state.store)
    harden_session_cookie(app, state.settings)
    install_callback(app)
    state.callback_handlers[PROXY_KIND] = complete_authorization
    paths.register_metadata(app, state.settings)
    app.register_blueprint(make_blueprint())
    app.register_error_handler(StoreError, store_unavailable)
