"""The store for more than one host: Redis, where each operation is one atomic command.

``put`` is ``SET name value EX ttl``, ``add`` is ``SET NX EX`` (a lock), ``pop`` is ``GETDEL``
(Redis >= 6.2; on an older server a ``MULTI``/``GET``/``DEL``/``EXEC`` transaction, just as
atomic), ``delete`` is ``DEL``. Redis enforces expiry itself. Values are the cipher's blob in
base64, so the store works with any client, ``decode_responses`` or not. Names are the prefix
plus the SHA-256 of the key: a key may be derived from a secret and ``KEYS *`` must not show it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..redis_clients import import_redis, mask_url, shared_client
from .base import (
    JSONValue,
    StoreError,
    TamperReporter,
    check_key,
    check_ttl,
    dumps,
    entry_name,
    loads,
)
from .cipher import StoreCipher, TamperedValue

DEFAULT_PREFIX = "flask_clerk_mcp:"


class RedisStore:
    """Encrypted entries in Redis under ``prefix`` + SHA-256(key).

    ``url_or_client``: a ``redis://``, ``rediss://`` or ``unix://`` URL (this process's shared
    client for it, with short timeouts, is used) or a ready ``redis.Redis`` client, used as is.
    """

    def __init__(
        self, url_or_client: str | Any, cipher: StoreCipher, prefix: str = DEFAULT_PREFIX
    ) -> None:
        if not isinstance(cipher, StoreCipher):
            raise TypeError("RedisStore needs a StoreCipher")
        try:
            redis = import_redis()
        except ImportError as exc:
            raise StoreError(str(exc)) from None
        self._errors: type[Exception] = redis.exceptions.RedisError
        self._response_error: type[Exception] = redis.exceptions.ResponseError
        if isinstance(url_or_client, str):
            self._where = mask_url(url_or_client)
            self._client: Any = shared_client(url_or_client)
        else:
            self._where = f"<{type(url_or_client).__name__}>"
            self._client = url_or_client
        self._cipher = cipher
        self._prefix = prefix
        self._getdel = True
        self._tamper = TamperReporter("redis")

    @property
    def client(self) -> Any:
        """The underlying Redis client (tests and the CLI use it)."""
        return self._client

    def name_for(self, key: str) -> str:
        """The Redis key an entry lives under."""
        check_key(key)
        return self._prefix + entry_name(key)

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self._prefix!r})"

    # -- the Store protocol ----------------------------------------------------------------

    def put(self, key: str, value: JSONValue, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""
        data = self._encode(key, value, ttl)
        with self._failures("put"):
            self._client.set(self.name_for(key), data, ex=ttl)

    def add(self, key: str, value: JSONValue, ttl: int) -> bool:
        """Store only if ``key`` is absent or expired; True if this call set it (a lock)."""
        data = self._encode(key, value, ttl)
        with self._failures("add"):
            return bool(self._client.set(self.name_for(key), data, ex=ttl, nx=True))

    def get(self, key: str) -> JSONValue | None:
        """The live value under ``key``, or None."""
        name = self.name_for(key)
        with self._failures("get"):
            raw = self._client.get(name)
        return self._decode(key, name, raw)

    def pop(self, key: str) -> JSONValue | None:
        """Remove and return the value under ``key``: of concurrent pops exactly one gets it."""
        name = self.name_for(key)
        with self._failures("pop"):
            raw = self._getdel_or_transaction(name)
        return self._decode(key, name, raw)

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is fine."""
        name = self.name_for(key)
        with self._failures("delete"):
            self._client.delete(name)

    # -- internals -------------------------------------------------------------------------

    def _getdel_or_transaction(self, name: str) -> Any:
        if self._getdel:
            try:
                return self._client.getdel(name)
            except self._response_error as exc:
                if "unknown command" not in str(exc).lower():
                    raise
                self._getdel = False  # Redis < 6.2: fall back for good
        pipe = self._client.pipeline(transaction=True)
        pipe.get(name)
        pipe.delete(name)
        raw, _ = pipe.execute()
        return raw

    def _encode(self, key: str, value: JSONValue, ttl: int) -> bytes:
        check_key(key)
        check_ttl(ttl)
        return base64.b64encode(self._cipher.encrypt(key, dumps(value)))

    def _decode(self, key: str, name: str, raw: Any) -> JSONValue | None:
        if raw is None:
            return None
        try:
            text = raw.encode("ascii") if isinstance(raw, str) else bytes(raw)
            return loads(self._cipher.decrypt(key, base64.b64decode(text, validate=True)))
        except (TamperedValue, binascii.Error, ValueError, TypeError):
            self._tamper.report(name[len(self._prefix) :])
            return None

    @contextmanager
    def _failures(self, operation: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StoreError(
                f"redis store {self._where}: {operation} failed ({type(exc).__name__})"
            ) from exc
