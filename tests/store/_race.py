"""Worker side of the multi-process races (imported by spawned interpreters, not collected).

Each worker builds its own store from plain arguments, exactly as a gunicorn worker would
build its own from the app config. Then, key after key, all workers meet at the barrier and
go for that key at the same moment (a single barrier at the start is not enough: the first
worker scheduled would run through every key before the others woke up), and each reports
which keys it won.
"""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from flask_clerk_mcp.store import FileStore, RedisStore, Store, StoreCipher


def build(backend: str, location: str, key: bytes, prefix: str) -> Store:
    cipher = StoreCipher(key)
    if backend == "file":
        return FileStore(location, cipher)
    return RedisStore(location, cipher, prefix=prefix)


def pop_worker(
    backend: str,
    location: str,
    key: bytes,
    prefix: str,
    keys: list[str],
    barrier: Barrier,
    results: Queue[tuple[int, list[tuple[str, object]]]],
    slot: int,
) -> None:
    store = build(backend, location, key, prefix)
    won: list[tuple[str, object]] = []
    for name in keys:
        barrier.wait(timeout=30)
        value = store.pop(name)
        if value is not None:
            won.append((name, value))
    results.put((slot, won))


def add_worker(
    backend: str,
    location: str,
    key: bytes,
    prefix: str,
    keys: list[str],
    barrier: Barrier,
    results: Queue[tuple[int, list[tuple[str, object]]]],
    slot: int,
) -> None:
    store = build(backend, location, key, prefix)
    won: list[tuple[str, object]] = []
    for name in keys:
        barrier.wait(timeout=30)
        if store.add(name, {"slot": slot, "t": time.time()}, 60):
            won.append((name, slot))
    results.put((slot, won))
