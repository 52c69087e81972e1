"""Small shared pieces of the login package: the store of the current app, and the clock."""

from __future__ import annotations

import time

from ..protect import get_state
from ..store import Store


def require_store() -> Store:
    """The current app's store; login is never registered without one."""
    store = get_state().store
    if store is None:  # pragma: no cover - register_login always sets it
        raise RuntimeError("the Clerk login flow needs ClerkState.store")
    return store


def now() -> float:
    """Seconds since the epoch; one place for tests to move the clock of session expiry."""
    return time.time()
