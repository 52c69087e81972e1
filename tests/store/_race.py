"""Worker side of the multi-process races (imported by spawned interpreters, not collected).

Each worker builds its own store from plain arguments, exactly as a gunicorn worker would
build its own from the app config. Then, key after key, all workers meet at the barrier and
go for that key at the same moment (a single barrier at the start is not enough: the first
worker scheduled would run through every key before the others woke up), and each reports
which keys it won.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from flask_clerk_mcp.store import FileStore, RedisStore, Store, StoreCipher


def build(backend: str, location: str, key: bytes, prefix: str) -> Store:
    cipher = StoreCipher(key)
    if backend == "file":
        return FileStore(location, cipher)
    return RedisStore(location, cipher, prefix=prefix)


def _race(
    claim: Callable[[Store, str, int], object | None],
    backend: str,
    location: str,
    key: bytes,
    prefix: str,
    keys: list[str],
    barrier: Barrier,
    results: Queue[tuple[int, list[tuple[str, object]]]],
    slot: int,
) -> None:
    """Meet the others at the barrier before each key, then try to claim it."""
    store = build(backend, location, key, prefix)
    won: list[tuple[str, object]] = []
    for name in keys:
        barrier.wait(timeout=30)
        prize = claim(store, name, slot)
        if prize is not None:
            won.append((name, prize))
    results.put((slot, won))


def _pop(store: Store, name: str, slot: int) -> object | None:
    return store.pop(name)


def _add(store: Store, name: str, slot: int) -> object | None:
    return slot if store.add(name, {"slot": slot, "t": time.time()}, 60) else None


pop_worker = functools.partial(_race, _pop)
add_worker = functools.partial(_race, _add)
