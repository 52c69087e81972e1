"""Verification cache over cachelib: spares Clerk two calls per request for a known token.

Only verdicts are cached: successes for ``CLERK_CACHE_TTL`` (never past ``exp``) and inactive
tokens for a few seconds. Upstream failures never are. The key binds the issuer and the
accepted client ids to the token's hash, so two apps sharing one Redis never answer for each
other, and the raw token is neither in the key nor in the value. A broken backend degrades to
no cache: a cache must never turn into an error or a pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cachelib import BaseCache, FileSystemCache, RedisCache, SimpleCache

from .errors import ConfigurationError

log = logging.getLogger("flask_clerk_mcp")

NEGATIVE_TTL = 5
_INACTIVE = "inactive"
_KEY_PREFIX = "flask_clerk_mcp:v1:"


def make_cache_backend(spec: Any) -> BaseCache | None:
    """Turn ``CLERK_CACHE`` into a cachelib backend (``None`` default: a per-app SimpleCache)."""
    if spec is None:
        return SimpleCache(threshold=10_000)
    if isinstance(spec, BaseCache):
        return spec
    if isinstance(spec, str):
        if spec.startswith(("redis://", "rediss://", "unix://")):
            try:
                import redis
            except ImportError:  # pragma: no cover - depends on the environment
                raise ConfigurationError(
                    "CLERK_CACHE", "a redis:// cache needs: pip install 'flask-clerk-mcp[redis]'"
                ) from None
            # Short socket timeouts: a dead Redis must cost milliseconds, not the request.
            client = redis.Redis.from_url(
                spec, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30
            )
            return RedisCache(host=client, key_prefix=_KEY_PREFIX)
        if spec.startswith("filesystem:") and len(spec) > len("filesystem:"):
            return FileSystemCache(spec[len("filesystem:") :], threshold=10_000, mode=0o600)
    # Name only the kind of value: a URL may hold a password.
    kind = spec.split(":", 1)[0] + ":..." if isinstance(spec, str) else type(spec).__name__
    raise ConfigurationError(
        "CLERK_CACHE", f"must be a cachelib cache, 'redis://...' or 'filesystem:PATH', not {kind!r}"
    )


class VerificationCache:
    """Cached verdicts for one app (one issuer and set of accepted clients)."""

    def __init__(
        self,
        backend: BaseCache | None,
        *,
        ttl: int,
        issuer: str,
        accepted_client_ids: tuple[str, ...],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend if ttl > 0 else None
        self._ttl = ttl
        self._namespace = f"{issuer}|{' '.join(sorted(accepted_client_ids))}|"
        self._clock = clock
        self._warned_at = 0.0
        self._warn_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._backend is not None

    def key(self, token: str) -> str:
        return hashlib.sha256((self._namespace + token).encode()).hexdigest()

    def lookup(self, token: str) -> dict[str, Any] | str | None:
        """The cached record, ``"inactive"`` for a cached rejection, or None."""
        if self._backend is None:
            return None
        try:
            raw = self._backend.get(self.key(token))
        except Exception as exc:
            self._backend_failed("read", exc)
            return None
        if not isinstance(raw, str):
            return None
        try:
            entry = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(entry, dict):
            return None
        # Expiry is rechecked here: cachelib rounds timeouts to whole seconds.
        if entry.get("until", 0) <= self._clock():
            return None
        if entry.get("kind") == _INACTIVE:
            return _INACTIVE
        record = entry.get("record")
        return record if isinstance(record, dict) else None

    def remember(self, token: str, record: dict[str, Any], expires_at: int | None) -> None:
        now = self._clock()
        until = now + self._ttl
        if expires_at is not None:
            until = min(until, float(expires_at))
        self._write(token, {"kind": "verified", "record": record, "until": until}, until - now)

    def remember_inactive(self, token: str) -> None:
        ttl = min(NEGATIVE_TTL, self._ttl)
        self._write(token, {"kind": _INACTIVE, "until": self._clock() + ttl}, ttl)

    def _write(self, token: str, entry: dict[str, Any], seconds: float) -> None:
        if self._backend is None or seconds < 1:
            return  # cachelib reads a timeout of 0 as "forever"
        try:
            self._backend.set(self.key(token), json.dumps(entry), timeout=int(seconds))
        except Exception as exc:
            self._backend_failed("write", exc)

    def _backend_failed(self, action: str, exc: Exception) -> None:
        # One line per minute at most: an outage must not flood the log.
        with self._warn_lock:
            now = time.monotonic()
            if now - self._warned_at < 60 and self._warned_at:
                return
            self._warned_at = now
        log.warning(
            "verification cache %s failed (%s); continuing without the cache",
            action,
            type(exc).__name__,
        )
