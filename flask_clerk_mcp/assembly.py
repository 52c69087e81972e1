"""The one recipe for a ``ClerkVerifier`` from ``Settings``, with no Flask app around it.

The WSGI middleware builds its verifier here; the Flask extension builds the same thing from
the same settings (its ``init_app`` adds only the app's ``SECRET_KEY`` as key material).
"""

from __future__ import annotations

import os

from .cache import VerificationCache, make_cache_backend
from .settings import Settings
from .store.cipher import derive_store_key
from .verifier import ClerkVerifier


def cache_secret(material: str | bytes | None) -> bytes:
    """Key for sealing cache entries, from the store key material.

    Without any, a random per-process key: safe, but workers sharing a Redis cache then
    cannot use each other's entries.
    """
    if not material:
        return os.urandom(32)
    return derive_store_key(material)


def build_verifier(settings: Settings, key_material: str | bytes | None) -> ClerkVerifier:
    """A verifier with the cache ``CLERK_CACHE``/``CLERK_CACHE_TTL`` ask for, its entries
    sealed with a key derived from ``key_material`` (``CLERK_STORE_KEY`` or ``SECRET_KEY``)."""
    cache = VerificationCache(
        make_cache_backend(settings.cache) if settings.cache_ttl > 0 else None,
        ttl=settings.cache_ttl,
        issuer=settings.issuer,
        accepted_client_ids=settings.accepted_client_ids,
        secret=cache_secret(key_material),
    )
    return ClerkVerifier(settings, cache)
