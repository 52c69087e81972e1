"""The login's clock: one place for tests to move the time that session expiry and refresh see.

Only our own view of time moves: Clerk (or the emulator) keeps its own, which is how tests
make a token look nearly expired to us while Clerk still honours it.
"""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch."""
    return time.time()
