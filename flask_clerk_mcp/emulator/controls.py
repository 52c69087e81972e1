"""Operator knobs: call counters, added latency, and injected faults.

These let a test or a benchmark ask "how many introspection calls did that cost?" and make
Clerk slow, broken or silent on demand. Kept apart from ``state.py`` because they are about
the emulator, not about the Clerk instance it plays; they have their own lock so counting never
waits behind token work.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

FAULT_MODES: tuple[str, ...] = ("500", "html", "hang", "drop", "truncated", "not_object", "gone")

#: Endpoint names used by counters and faults (Flask endpoint names without the blueprint).
ENDPOINTS: tuple[str, ...] = (
    "openid_configuration",
    "oauth_authorization_server",
    "jwks",
    "authorize",
    "sign_in",
    "consent",
    "token",
    "token_info",
    "userinfo",
    "revoke",
    "register",
)


@dataclass(frozen=True)
class Fault:
    mode: str
    hang_seconds: float = 5.0


class Controls:
    """Thread-safe counters, latency and fault queue for one emulator app."""

    def __init__(self, latency_ms: int = 0) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        #: Per endpoint, a queue of ``[fault, remaining calls]`` entries, oldest first.
        self._faults: dict[str, list[list[Any]]] = {}
        self._latency_ms = max(0, int(latency_ms))
        #: Set when the server stops, so sleeping requests wake up instead of holding it.
        self.stopping = threading.Event()

    def count(self, endpoint: str) -> None:
        with self._lock:
            self._counts[endpoint] += 1

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()

    @property
    def latency_ms(self) -> int:
        with self._lock:
            return self._latency_ms

    def set_latency(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("latency must be >= 0 ms")
        with self._lock:
            self._latency_ms = ms

    def add_fault(self, endpoint: str, fault: Fault, count: int) -> None:
        """The next ``count`` calls to ``endpoint`` fail with ``fault``."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if fault.mode not in FAULT_MODES:
            raise ValueError(f"unknown mode {fault.mode!r}; one of {', '.join(FAULT_MODES)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        if fault.hang_seconds < 0:
            raise ValueError("hang_seconds must be >= 0")
        with self._lock:
            self._faults.setdefault(endpoint, []).append([fault, count])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> dict[str, int]:
        with self._lock:
            counts = {
                name: sum(entry[1] for entry in queue) for name, queue in self._faults.items()
            }
        return {name: n for name, n in counts.items() if n}

    def next_fault(self, endpoint: str) -> Fault | None:
        """Take the next queued fault for ``endpoint``, if any."""
        with self._lock:
            queue = self._faults.get(endpoint)
            if not queue:
                return None
            fault: Fault = queue[0][0]
            queue[0][1] -= 1
            if queue[0][1] <= 0:
                queue.pop(0)
            return fault

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the server is stopping."""
        if seconds > 0:
            self.stopping.wait(seconds)
