"""The first-level cache: verified tokens this process has already built, in front of the shared
cache, so a hot token costs one hash and one dict lookup (no JSON, no HMAC, no Redis).

Bounded (``max_entries``; the oldest entry goes first) and never serving an entry past its
``until``, which the verifier sets to what the shared cache would allow: the TTL counted from
Clerk's verdict, never past the token's ``exp``. Keyed by the verification cache's hash of the
token (bound to issuer and clients), never by the token. Per process and per app: nothing
here is shared, so nothing here needs sealing.

With a cache shared between workers (``CLERK_CACHE`` Redis, a directory, an object), an entry
lives at most ``SHARED_MAX_AGE`` seconds here, so what the shared cache learns later (this
server's own ``/oauth/revoke`` writes a rejection there) reaches every worker that quickly,
at the price of one shared-cache read per hot token per worker every ``SHARED_MAX_AGE``.

Reads take no lock (one ``OrderedDict.get`` is atomic in CPython); writes and evictions do.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .tokens import AccessToken

#: Entries kept at most: a few MB of ``AccessToken`` objects, whatever the traffic.
DEFAULT_MAX_ENTRIES = 4096
#: Seconds an entry lives here when the cache behind is shared by other workers.
SHARED_MAX_AGE = 2.0


class HotTokens:
    """``key → (AccessToken, until)`` with a size bound and expiry on read."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
        enabled: bool = True,
        max_age: float | None = None,
    ) -> None:
        self._max_age = max_age
        self._entries: OrderedDict[str, tuple[AccessToken, float]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self.enabled = enabled and max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"HotTokens(entries={len(self._entries)}, max_entries={self._max_entries})"

    def get(self, key: str) -> AccessToken | None:
        """The token stored under ``key`` while its ``until`` has not passed."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] > self._clock():
            return entry[0]
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
        return None

    def put(self, key: str, token: AccessToken, until: float) -> None:
        """Keep ``token`` until ``until`` (epoch seconds on the clock); no-op if already past."""
        now = self._clock()
        if self._max_age is not None:
            until = min(until, now + self._max_age)
        if not self.enabled or not until > now:
            return
        with self._lock:
            self._entries.pop(key, None)  # re-inserted last: the newest is evicted last
            while len(self._entries) >= self._max_entries:
                self._entries.popitem(last=False)
            self._entries[key] = (token, until)

    def discard(self, key: str) -> None:
        """Forget the token under ``key`` (this server revoked it)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (tests; an operator reacting to a leaked token)."""
        with self._lock:
            self._entries.clear()
