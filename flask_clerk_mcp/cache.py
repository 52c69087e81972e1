"""Verification cache over cachelib: spares Clerk two calls per request for a known token.

Only verdicts are cached: successes for ``CLERK_CACHE_TTL`` (never past ``exp``) and inactive
tokens for a few seconds. Upstream failures never are. Userinfo profiles of JWT access tokens
are kept here too, per subject and scopes, under the same sealing and TTL. The key binds the
issuer and the accepted client ids to the token's hash, so two apps sharing one Redis never
answer for each other, and the raw token is neither in the key nor in the value.

Entries are sealed with an HMAC (key derived from ``CLERK_STORE_KEY`` or ``SECRET_KEY``): the
key is computable by anyone who holds a token, so whoever can write to a shared Redis could
otherwise plant a "verified" entry for a token of their choosing. Backends built here from a
URL store text, never pickle, so a planted value cannot run code either. A broken backend, or
one that answers garbage, degrades to no cache: a cache never turns into an error or a pass.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from cachelib import BaseCache, FileSystemCache, RedisCache, SimpleCache
from cachelib.serializers import FileSystemSerializer, RedisSerializer, SimpleSerializer

from .backends import parse_cache_spec
from .errors import ConfigurationError
from .redis_clients import shared_client

log = logging.getLogger("flask_clerk_mcp")

NEGATIVE_TTL = 5
_INACTIVE = "inactive"
_KEY_PREFIX = "flask_clerk_mcp:v1:"
_MAC_LABEL = b"flask_clerk_mcp verification cache v1"


def make_cache_backend(spec: Any) -> BaseCache | None:
    """Build the backend ``CLERK_CACHE`` names (parsed and checked by ``settings``).

    Default: a per-app ``SimpleCache``. Raw values are accepted too, and parsed here.
    """
    spec = parse_cache_spec(spec)
    if spec.kind == "object":
        backend: BaseCache = spec.target
        return backend
    if spec.kind == "redis":
        try:
            client = shared_client(spec.target)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError("CLERK_CACHE", str(exc)) from None
        redis_cache = RedisCache(host=client, key_prefix=_KEY_PREFIX)
        redis_cache.serializer = _RedisText()
        return redis_cache
    if spec.kind == "filesystem":
        file_cache = FileSystemCache(spec.target, threshold=10_000, mode=0o600)
        file_cache.serializer = _FileText()
        return file_cache
    return _PerWorkerCache(threshold=10_000)


class _PerWorkerCache(SimpleCache):
    """``SimpleCache`` with pruning fit for a cold-heavy load, holding our text as is.

    cachelib's own ``_prune`` runs on every ``set`` once the cache is full, scanning and
    sorting every entry to drop one: with 10 000 entries that is milliseconds of CPU per cold
    token. Here a full cache drops its expired entries, then the soonest-expiring tenth, so
    the sort is paid once per thousand inserts. Values are our sealed strings, kept as they are
    (no pickle round trip: nothing but this process reads them).
    """

    def __init__(self, threshold: int) -> None:
        super().__init__(threshold=threshold)
        self.serializer = _AsIs()

    def _prune(self) -> None:
        if not self._over_threshold():
            return
        self._remove_expired(time.time())
        excess = len(self._cache) - int(self._threshold * 0.9)
        if excess > 0:
            oldest = heapq.nsmallest(excess, self._cache.items(), key=lambda item: item[1][0])
            for key, _ in oldest:
                self._cache.pop(key, None)


class _AsIs(SimpleSerializer):
    """Values stored as given (our entries are immutable strings)."""

    def dumps(self, value: Any, protocol: int = 0) -> Any:
        return value

    def loads(self, value: Any) -> Any:
        return value


class _RedisText(RedisSerializer):
    """Our entries are text; anything else read back is a miss, never unpickled."""

    def dumps(self, value: Any, protocol: int = 0) -> bytes:
        return str(value).encode("utf-8")

    def loads(self, value: bytes | None) -> Any:
        try:
            return None if value is None else value.decode("utf-8")
        except (UnicodeDecodeError, AttributeError):
            return None


class _FileText(FileSystemSerializer):
    """The same for ``FileSystemCache``, which streams to and from files."""

    def dump(self, value: Any, f: IO[bytes], protocol: int = 0) -> None:
        f.write(str(value).encode("utf-8"))

    def load(self, f: IO[bytes]) -> Any:
        try:
            return f.read().decode("utf-8")
        except UnicodeDecodeError:
            return None


class VerificationCache:
    """Cached verdicts for one app (one issuer and set of accepted clients).

    ``secret`` keys the HMAC that seals entries; workers that share a backend must share it
    (it comes from ``CLERK_STORE_KEY`` or ``SECRET_KEY``), or they just miss each other's.
    """

    def __init__(
        self,
        backend: BaseCache | None,
        *,
        ttl: int,
        issuer: str,
        accepted_client_ids: tuple[str, ...],
        secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend if ttl > 0 else None
        self._ttl = ttl
        self._mac_key = hmac.new(secret, _MAC_LABEL, "sha256").digest()
        self._namespace = f"{issuer}|{' '.join(sorted(accepted_client_ids))}|"
        self._clock = clock
        self._warned_at = 0.0
        self._warn_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a backend is in use (``CLERK_CACHE_TTL`` > 0)."""
        return self._backend is not None

    def key(self, token: str) -> str:
        """The cache key for ``token``: a hash bound to the issuer and accepted clients."""
        return hashlib.sha256((self._namespace + token).encode()).hexdigest()

    def lookup(self, token: str) -> dict[str, Any] | str | None:
        """The cached record, ``"inactive"`` for a cached rejection, or None."""
        return self.lookup_key(self.key(token))[0]

    def lookup_key(self, key: str) -> tuple[dict[str, Any] | str | None, float]:
        """``lookup`` by a key already computed, with the entry's ``until`` (epoch seconds)."""
        entry = self._read(key)
        if entry is None:
            return None, 0.0
        until = entry["until"]
        if entry.get("kind") == _INACTIVE:
            return _INACTIVE, until
        record = entry.get("record")
        return (record if isinstance(record, dict) else None), until

    def remember(
        self, token: str, record: dict[str, Any], expires_at: int | None, *, key: str | None = None
    ) -> float:
        """Cache a verified token's record until the TTL or its ``exp``, whichever is first;
        returns that moment (epoch seconds), for the first-level cache to stop at too."""
        now = self._clock()
        until = now + self._ttl
        if expires_at is not None:
            until = min(until, expires_at)
        entry = {"kind": "verified", "record": record, "until": until}
        self._write(key or self.key(token), entry, until - now)
        return until

    def profile(self, subject: str, scopes: tuple[str, ...]) -> dict[str, Any] | None:
        """A userinfo profile cached for this subject and this set of scopes, or None."""
        entry = self._read(self._profile_key(subject, scopes)) or {}
        record = entry.get("record")
        return record if isinstance(record, dict) and entry.get("kind") == "profile" else None

    def remember_profile(
        self, subject: str, scopes: tuple[str, ...], profile: dict[str, Any]
    ) -> None:
        """Cache a userinfo profile for ``CLERK_CACHE_TTL``.

        Keyed by subject *and* scopes: userinfo answers by the token's scopes (``email`` adds
        the address), so a token granted fewer scopes never reads what a broader one was told.
        """
        until = self._clock() + self._ttl
        entry = {"kind": "profile", "record": profile, "until": until}
        self._write(self._profile_key(subject, scopes), entry, self._ttl)

    def forget_profile(self, subject: str, scopes: tuple[str, ...]) -> None:
        """Drop the cached profile of ``subject`` for ``scopes`` (the user's profile changed)."""
        if self._backend is None:
            return
        try:
            self._backend.delete(self._profile_key(subject, scopes))
        except Exception as exc:
            self._backend_failed("delete", exc)

    def _profile_key(self, subject: str, scopes: tuple[str, ...]) -> str:
        material = f"{self._namespace}profile|{subject}|{' '.join(sorted(set(scopes)))}"
        return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()

    def _read(self, key: str) -> dict[str, Any] | None:
        """The sealed entry under ``key`` while its ``until`` has not passed, else None."""
        if self._backend is None:
            return None
        try:
            raw = self._backend.get(key)
        except Exception as exc:
            self._backend_failed("read", exc)
            return None
        entry = self._open(key, raw)
        if entry is None:
            return None
        # Expiry is rechecked here: cachelib rounds timeouts to whole seconds.
        until = entry.get("until")
        if not isinstance(until, (int, float)) or not until > self._clock():
            return None
        return entry

    def remember_inactive(self, token: str) -> None:
        """Cache a rejection for a few seconds (``NEGATIVE_TTL``), sparing Clerk a retry storm."""
        ttl = min(NEGATIVE_TTL, self._ttl)
        self._write(self.key(token), {"kind": _INACTIVE, "until": self._clock() + ttl}, ttl)

    def _write(self, key: str, entry: dict[str, Any], seconds: float) -> None:
        if self._backend is None or not 1 <= seconds < math.inf:
            return  # cachelib reads a timeout of 0 as "forever"
        try:
            self._backend.set(key, self._seal(key, entry), timeout=int(seconds))
        except Exception as exc:
            self._backend_failed("write", exc)

    def _seal(self, key: str, entry: dict[str, Any]) -> str:
        body = json.dumps(entry, allow_nan=False, separators=(",", ":"))
        return self._mac(key, body) + "." + body

    def _open(self, key: str, raw: Any) -> dict[str, Any] | None:
        """The entry if it is ours and intact; anything else is a miss."""
        if not isinstance(raw, str):
            return None
        mac, _, body = raw.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(key, body).encode()):
            return None
        try:
            entry = json.loads(body)
        except (ValueError, RecursionError):
            return None
        return entry if isinstance(entry, dict) else None

    def _mac(self, key: str, body: str) -> str:
        message = key.encode() + b"\n" + body.encode("utf-8", "surrogatepass")
        return hmac.new(self._mac_key, message, "sha256").hexdigest()

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
