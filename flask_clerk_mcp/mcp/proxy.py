"""Proxy mode: which mode an app serves, and the one call that wires the proxy into it.

**Mode** (``resolve_mode``). ``CLERK_MCP_MODE`` defaults to ``"proxy"``. The proxy needs
``CLERK_CLIENT_SECRET`` (Clerk's token endpoint wants it), ``CLERK_BASE_URL`` (its issuer) and
``SECRET_KEY`` (the consent form and the browser binding are signed with it). When the mode
was set to ``"proxy"`` explicitly and one of them is missing, ``init_app`` raises a
``ConfigurationError`` naming it. When the mode was left at its default, the app serves
direct mode instead and ``init_app`` logs one WARNING saying which key is missing: a
resource server that only verifies tokens (the smallest useful setup) keeps working
unchanged, and an operator who asked for the proxy is never silently given something else.

The per-app state is ``proxy_state.ProxyState``; ``routes.register_proxy`` wires it all.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import Flask

from ..requirements import missing_error, missing_for_sign_in
from ..settings import Settings
from ..state import get_state
from .cimd import CIMDError
from .client_metadata import ClientRecord
from .proxy_state import ProxyState, redirect_rules
from .redirects import RedirectURIError

log = logging.getLogger("flask_clerk_mcp")

#: The kind of the proxy's transactions at the shared callback.
PROXY_KIND = "mcp_proxy"


def resolve_mode(app: Flask, settings: Settings) -> Settings:
    """``settings`` with the mode the app will really serve (see the module docstring)."""
    redirect_rules(settings)  # checked in either mode: a misconfiguration is found at init
    if settings.mcp_mode != "proxy":
        return settings
    missing = missing_for_sign_in(app, settings)
    if not missing:
        return settings
    if settings.mcp_mode_explicit:
        raise missing_error(missing, "in proxy mode (CLERK_MCP_MODE is 'proxy')")
    log.warning(
        "serving CLERK_MCP_MODE='direct': the default proxy mode needs %s, which %s not set; "
        "set it, or set CLERK_MCP_MODE='direct' to silence this warning",
        " and ".join(missing),
        "is" if len(missing) == 1 else "are",
    )
    return replace(settings, mcp_mode="direct")


def proxy_state() -> ProxyState:
    """The current app's ``ProxyState``; the proxy's routes exist only where it is set."""
    proxy = get_state().proxy
    if proxy is None:  # pragma: no cover - the routes are registered with it
        raise RuntimeError("the MCP proxy is not enabled on this app")
    return proxy


def recheck_client(client_id: str, redirect_uri: str) -> ClientRecord | None:
    """The client again, if it is still known and ``redirect_uri`` still one of its (under
    the rules as configured now); None otherwise. Consent and callback re-check before every
    redirect to the client, since time passes between the steps."""
    proxy = proxy_state()
    try:
        client = proxy.registry.get(client_id)
        if client is None:
            return None
        client.match_redirect_uri(redirect_uri, proxy.rules)
    except (CIMDError, RedirectURIError):
        return None
    return client
