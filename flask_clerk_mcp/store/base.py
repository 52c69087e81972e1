"""What every backend shares: the ``Store`` protocol, JSON rules, key naming, tamper reports.

Kept free of Flask and of any login or proxy flow: the store is a small, dumb, safe box that
the flows build on. Everything here is about making the backends behave identically, so that
a test run on the memory store says something true about the file and Redis stores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from typing import Any, Protocol, TypeAlias, runtime_checkable

log = logging.getLogger("flask_clerk_mcp.store")

JSONValue: TypeAlias = dict[str, Any] | list[Any] | str | int | float | bool | None


class StoreError(Exception):
    """The backend cannot answer (unreachable, full, refusing): callers answer 503.

    Messages name the backend and the kind of failure, never a key or a value.
    """


@runtime_checkable
class Store(Protocol):
    """Server-side state with four operations (plus ``add``, a lock primitive).

    Keys are caller-chosen strings; values are JSON. Every entry has a lifetime in whole
    seconds (``ttl >= 1``) and an expired entry reads as absent.
    """

    def put(self, key: str, value: JSONValue, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""
        ...

    def add(self, key: str, value: JSONValue, ttl: int) -> bool:
        """Store only if ``key`` is absent or expired; True if this call set it (a lock)."""
        ...

    def get(self, key: str) -> JSONValue | None:
        """The live value under ``key``, or None."""
        ...

    def pop(self, key: str) -> JSONValue | None:
        """Remove and return the value: of concurrent pops exactly one gets it."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is fine."""
        ...


def check_key(key: str) -> None:
    """Refuse what is not a usable key early, before it becomes a confusing miss."""
    if not isinstance(key, str):
        raise TypeError(f"store keys are str, not {type(key).__name__}")
    if not key:
        raise ValueError("store keys must not be empty")


def check_ttl(ttl: int) -> None:
    """Lifetimes are whole seconds >= 1, because that is what Redis ``EX`` can express."""
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise TypeError(f"ttl is a whole number of seconds, not {type(ttl).__name__}")
    if ttl < 1:
        raise ValueError("ttl must be at least 1 second")


def _check_json(value: object, depth: int = 0) -> None:
    # Strict on purpose: json.dumps would quietly turn a tuple into a list and an int dict key
    # into a string, so a value would come back different from what was stored.
    if depth > 100:
        raise TypeError("store values nest at most 100 levels deep")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("store values are JSON: NaN and infinities are not allowed")
        return
    if isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError(
                    f"store values are JSON: object keys are str, not {type(name).__name__}"
                )
            _check_json(item, depth + 1)
        return
    raise TypeError(f"store values are JSON, not {type(value).__name__}")


def dumps(value: JSONValue) -> bytes:
    """Encode a value as compact UTF-8 JSON, refusing anything that would not round-trip.

    Raises TypeError naming the offending type (never the value, which may be a secret).
    """
    _check_json(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def loads(data: bytes) -> JSONValue:
    """Decode what ``dumps`` wrote; every call returns fresh objects the caller may mutate."""
    value: JSONValue = json.loads(data)
    return value


def entry_name(key: str) -> str:
    """The name an entry lives under on disk and in Redis: SHA-256 of the key, in hex.

    Keys may be derived from secrets (a session id, a one-time code), so the raw key is never
    written anywhere an operator or another user could list.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class TamperReporter:
    """Logs each unreadable entry once at WARNING, so a bad entry cannot flood the log.

    An entry that fails authentication was tampered with or written with another key (say,
    after ``SECRET_KEY`` rotated). Either way it reads as absent; the operator should hear of
    it, but once per entry, not once per request. The log names only a prefix of the hashed
    entry name, never the key or the value.
    """

    _LIMIT = 4096

    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def report(self, name: str) -> None:
        """Log the unreadable entry ``name``, once."""
        with self._lock:
            if name in self._seen:
                return
            if len(self._seen) >= self._LIMIT:
                self._seen.clear()
            self._seen.add(name)
        log.warning(
            "%s store: entry %s... failed authentication (tampered with, or written with "
            "another key); treated as absent",
            self._backend,
            name[:12],
        )
