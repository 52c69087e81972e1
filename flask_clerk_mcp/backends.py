"""``CLERK_CACHE`` and ``CLERK_STORE``: what to build, parsed and checked at ``init_app``.

Apart from ``settings`` so that the cache and the store read their specs from one small room;
``settings`` re-exports these names. Knows nothing of Flask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError
from .redis_clients import check_redis_url, is_redis_url, mask_url

_STORE_OPERATIONS = ("put", "add", "get", "pop", "delete")


@dataclass(frozen=True)
class BackendSpec:
    """A parsed ``CLERK_CACHE`` or ``CLERK_STORE``: what to build, checked but not yet built.

    ``kind`` is ``"default"``, ``"object"`` (``target`` is the ready object), ``"redis"``
    (``target`` is the URL), ``"filesystem"`` / ``"file"`` (``target`` is the directory) or
    ``"memory"``.
    """

    kind: str
    target: Any = None

    def __repr__(self) -> str:  # a Redis URL may carry a password
        shown = mask_url(self.target) if self.kind == "redis" else self.target
        return f"BackendSpec({self.kind!r}, {shown!r})"


def parse_cache_spec(value: Any) -> BackendSpec:
    """``CLERK_CACHE``: None, a cachelib cache, ``"redis://..."`` or ``"filesystem:PATH"``."""
    from cachelib import BaseCache

    if value is None:
        return BackendSpec("default")
    if isinstance(value, BackendSpec):
        return value
    if isinstance(value, BaseCache):
        return BackendSpec("object", value)
    if is_redis_url(value):
        return BackendSpec("redis", check_redis_url(value, "CLERK_CACHE"))
    if isinstance(value, str) and value.startswith("filesystem:") and value[11:].strip():
        return BackendSpec("filesystem", os.path.expanduser(value[11:]))
    kind = value.split(":", 1)[0] + ":..." if isinstance(value, str) else type(value).__name__
    raise ConfigurationError(
        "CLERK_CACHE",
        f"must be a cachelib cache, 'redis://...' or 'filesystem:PATH', not {kind!r}",
    )


def parse_store_spec(value: Any) -> BackendSpec:
    """``CLERK_STORE``: None, ``"redis://..."``, ``"file:PATH"``, ``"memory:"`` or an object
    with the store's five operations."""
    if value is None:
        return BackendSpec("default")
    if isinstance(value, BackendSpec):
        return value
    if isinstance(value, str):
        if is_redis_url(value):
            return BackendSpec("redis", check_redis_url(value, "CLERK_STORE"))
        if value.startswith("file:") and value[5:].strip():
            return BackendSpec("file", os.path.expanduser(value[5:]))
        if value == "memory:":
            return BackendSpec("memory")
        kind = value.split(":", 1)[0] + ":..." if ":" in value else "a plain string"
        raise ConfigurationError(
            "CLERK_STORE",
            "must be 'redis://...', 'rediss://...', 'unix://...', 'file:PATH', 'memory:' "
            f"or a store object, not {kind!r}",
        )
    if all(callable(getattr(value, name, None)) for name in _STORE_OPERATIONS):
        return BackendSpec("object", value)
    raise ConfigurationError(
        "CLERK_STORE",
        "must be a URL, 'file:PATH' or an object with put/add/get/pop/delete, "
        f"not {type(value).__name__}",
    )
