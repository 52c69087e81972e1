"""Single flight: concurrent requests for one cold token share one verification.

The first request for a key leads and does the work; the others wait for its outcome (its
token, or a copy of its error) instead of each asking Clerk. A follower waits at most
``wait`` seconds, then gets ``UpstreamUnavailable`` (503), never a pass. Per process: two
workers cold on the same token at once each verify it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

from .errors import ClerkAuthError, UpstreamUnavailable
from .tokens import AccessToken


class _Flight:
    """One verification in progress, whose outcome concurrent requests for the token share."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: AccessToken | None = None
        self.error: ClerkAuthError | None = None

    def outcome(self, wait: float) -> AccessToken:
        if not self.done.wait(wait):
            raise UpstreamUnavailable("The authorization server is slow; try again shortly")
        if self.error is not None:
            # A copy: the Flask face annotates the exception with the route's scopes.
            raise copy.copy(self.error)
        if self.result is None:  # the leader died of something that is no ClerkAuthError
            raise UpstreamUnavailable("The verification failed; try again shortly")
        return self.result


class SingleFlight:
    """Runs ``work`` once per key at a time; thread-safe."""

    def __init__(self, wait: float) -> None:
        self._wait = wait
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    def run(self, key: str, work: Callable[[], AccessToken]) -> AccessToken:
        """``work()``'s outcome, shared with every concurrent caller for ``key``."""
        with self._lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leading:
            return flight.outcome(self._wait)
        try:
            flight.result = work()
            return flight.result
        except ClerkAuthError as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
