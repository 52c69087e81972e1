"""Server-side state: login sessions, login transactions, one-time codes (proxy clients later).

One small store with five operations (``put``, ``add``, ``get``, ``pop``, ``delete``; see
``Store``), three backends, and nothing else: it knows no Flask, no login and no proxy flow,
so those flows can be reasoned about (and tested) against one contract:

- ``pop`` is an atomic consume-once across threads, processes and hosts, which is what makes
  an authorization code or a login transaction usable exactly once;
- ``add`` sets only if absent, which is what makes a lock (one refresh at a time);
- values are JSON, never pickle (a writable store must not become code execution), and at rest
  they are encrypted and authenticated with a key bound to the entry's key name;
- names on disk and in Redis are SHA-256 hashes of the keys, because keys may derive from
  secrets.

``make_store`` turns the ``CLERK_STORE`` setting into a backend.
"""

from __future__ import annotations

from ..backends import BackendSpec, parse_store_spec
from .base import JSONValue, Store, StoreError
from .cipher import StoreCipher, TamperedValue, derive_store_key
from .file import FileStore
from .memory import MemoryStore
from .redis_store import RedisStore

__all__ = [
    "FileStore",
    "JSONValue",
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreCipher",
    "StoreError",
    "TamperedValue",
    "derive_store_key",
    "make_store",
]


def make_store(
    spec: BackendSpec | str | Store | None, *, key_material: str | bytes, default_dir: str
) -> Store:
    """Build the store ``CLERK_STORE`` names (parsed and checked by ``settings``).

    Default: a file store in ``default_dir`` (the app's instance folder, in practice);
    ``"file:PATH"``: a file store in PATH; ``"redis://..."``, ``"rediss://..."``,
    ``"unix://..."``: a Redis store (its client shared with a Redis cache on the same URL);
    ``"memory:"``: an in-process store, for tests only; a ``Store`` object: itself.
    ``key_material`` (``CLERK_STORE_KEY``, else ``SECRET_KEY``) is stretched into the
    encryption key by ``derive_store_key``. Anything else is a ``ConfigurationError`` (a
    ``ValueError``) naming ``CLERK_STORE``; it shows only the scheme, since a URL may hold a
    password.
    """
    parsed = parse_store_spec(spec)
    if parsed.kind == "object":
        store: Store = parsed.target
        return store
    if parsed.kind == "memory":
        return MemoryStore()
    cipher = StoreCipher(derive_store_key(key_material))
    if parsed.kind == "redis":
        return RedisStore(parsed.target, cipher)
    if parsed.kind == "file":
        return FileStore(parsed.target, cipher)
    return FileStore(default_dir, cipher)
