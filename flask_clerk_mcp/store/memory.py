"""An in-process store for tests and single-process development servers.

It keeps each value as its JSON text rather than the object itself, so every read returns
fresh objects (a caller mutating what it got cannot change what is stored) and a value that
the file or Redis store would refuse is refused here too. Nothing is encrypted: nothing
leaves the process. Not shared between workers, so never the production default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .base import JSONValue, check_key, check_ttl, dumps, loads

_SWEEP_EVERY = 256


class MemoryStore:
    """A dict behind a lock; expiry by an injectable ``clock`` so tests need not sleep."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def put(self, key: str, value: JSONValue, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""
        check_key(key)
        check_ttl(ttl)
        data = dumps(value)
        with self._lock:
            self._entries[key] = (self._clock() + ttl, data)
            self._maybe_sweep()

    def add(self, key: str, value: JSONValue, ttl: int) -> bool:
        """Store only if ``key`` is absent or expired; True if this call set it (a lock)."""
        check_key(key)
        check_ttl(ttl)
        data = dumps(value)
        with self._lock:
            if self._live(key) is not None:
                return False
            self._entries[key] = (self._clock() + ttl, data)
            self._maybe_sweep()
            return True

    def get(self, key: str) -> JSONValue | None:
        """The live value under ``key``, or None."""
        check_key(key)
        with self._lock:
            data = self._live(key)
        return None if data is None else loads(data)

    def pop(self, key: str) -> JSONValue | None:
        """Remove and return the value under ``key``: of concurrent pops exactly one gets it."""
        check_key(key)
        with self._lock:
            data = self._live(key)
            self._entries.pop(key, None)
        return None if data is None else loads(data)

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is fine."""
        check_key(key)
        with self._lock:
            self._entries.pop(key, None)

    def sweep(self) -> int:
        """Drop every expired entry; returns how many went."""
        with self._lock:
            return self._sweep()

    def __len__(self) -> int:
        """Live entries, for tests."""
        with self._lock:
            now = self._clock()
            return sum(1 for expires, _ in self._entries.values() if expires > now)

    def __repr__(self) -> str:
        return "MemoryStore()"

    # -- under self._lock ------------------------------------------------------------------

    def _live(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def _maybe_sweep(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> int:
        now = self._clock()
        expired = [key for key, (expires, _) in self._entries.items() if expires <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)
