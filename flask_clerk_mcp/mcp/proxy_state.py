"""``ProxyState``: what the proxy's endpoints need per app, kept in ``ClerkState.proxy``.

Built once at ``init_app`` (``build_proxy_state``): the redirect-URI rules
(``CLERK_ALLOWED_REDIRECT_URIS`` compiled, so a bad pattern fails ``init_app`` naming the
key), the client registry over the app's store, and the CIMD fetcher with one SSRF-guarded
session per thread (loopback only with ``CLERK_CIMD_ALLOW_LOOPBACK``). Imports nothing that
knows the app's state, so ``state`` can name the type.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from ..settings import Settings
from ..store import Store
from .cimd import CIMDFetcher
from .clients import ClientRegistry
from .redirects import RedirectRules
from .ssrf import AddressPolicy, guarded_session


class GuardedSessions:
    """One SSRF-guarded ``requests`` session per thread (requests promises no thread safety)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._local = threading.local()

    def __call__(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = guarded_session(self.policy)
            self._local.session = session
        return session


@dataclass
class ProxyState:
    """What the proxy's endpoints need per app (``ClerkState.proxy``)."""

    rules: RedirectRules
    registry: ClientRegistry


def redirect_rules(settings: Settings) -> RedirectRules:
    """``CLERK_ALLOWED_REDIRECT_URIS`` compiled (``ConfigurationError`` naming the key)."""
    return RedirectRules(settings.allowed_redirect_uris)


def build_proxy_state(settings: Settings, store: Store) -> ProxyState:
    """The registry over ``store``, with the CIMD fetcher when ``CLERK_CIMD`` is on."""
    cimd = None
    if settings.cimd:
        policy = AddressPolicy(allow_loopback=settings.cimd_allow_loopback)
        cimd = CIMDFetcher(GuardedSessions(policy), cache=store)
    rules = redirect_rules(settings)
    return ProxyState(rules=rules, registry=ClientRegistry(store, rules=rules, cimd=cimd))
