"""The consume-once and single-winner claims, with real concurrent processes.

Threads share one interpreter and one store object; gunicorn workers share neither. So the
shared backends (file, Redis) are raced by 8 separate spawned processes, each with its own
store object built from the same settings, released together by a barrier onto the same 50
keys in the same order, key by key.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from flask_clerk_mcp.store import FileStore, RedisStore, Store, StoreCipher, derive_store_key

from . import _race
from .conftest import KEY_MATERIAL

pytestmark = pytest.mark.integration

WORKERS = 8
KEYS = [f"code:{index}" for index in range(50)]


def race(
    worker: Callable[..., None], backend: str, location: str, prefix: str
) -> dict[int, list[tuple[str, object]]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    key = derive_store_key(KEY_MATERIAL)
    processes = [
        context.Process(
            target=worker, args=(backend, location, key, prefix, KEYS, barrier, results, slot)
        )
        for slot in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        outcome = dict(results.get(timeout=60) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():  # pragma: no cover - only when the test already failed
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    return outcome


def check_pops(outcome: dict[int, list[tuple[str, object]]]) -> None:
    popped = Counter(name for won in outcome.values() for name, _ in won)
    assert popped == Counter(KEYS), "every key popped exactly once in total"
    assert all(value == {"value": name} for won in outcome.values() for name, value in won)


def check_adds(outcome: dict[int, list[tuple[str, object]]], store: Store) -> None:
    winners = Counter(name for won in outcome.values() for name, _ in won)
    assert winners == Counter(KEYS), "exactly one winner per key"
    for slot, won in outcome.items():
        for name, _ in won:
            value = store.get(name)
            assert isinstance(value, dict) and value["slot"] == slot


@pytest.fixture
def cipher_for_race() -> StoreCipher:
    return StoreCipher(derive_store_key(KEY_MATERIAL))


def test_file_pop_is_consume_once_across_processes(
    tmp_path: Path, cipher_for_race: StoreCipher
) -> None:
    store = FileStore(tmp_path / "store", cipher_for_race)
    for name in KEYS:
        store.put(name, {"value": name}, 60)
    check_pops(race(_race.pop_worker, "file", str(tmp_path / "store"), ""))
    assert [p for p in (tmp_path / "store").iterdir() if not p.name.startswith(".lock-")] == []


def test_file_add_has_one_winner_across_processes_even_over_expired_entries(
    tmp_path: Path, cipher_for_race: StoreCipher
) -> None:
    # Half the keys hold an expired entry, so the race also runs through the replace path.
    past = FileStore(tmp_path / "store", cipher_for_race, clock=lambda: time.time() - 3600)
    for name in KEYS[::2]:
        past.put(name, "expired", 60)
    check_adds(
        race(_race.add_worker, "file", str(tmp_path / "store"), ""),
        FileStore(tmp_path / "store", cipher_for_race),
    )


def test_redis_pop_is_consume_once_across_processes(
    redis_url: str, cipher_for_race: StoreCipher
) -> None:
    prefix = f"race:{uuid.uuid4().hex}:"
    store = RedisStore(redis_url, cipher_for_race, prefix=prefix)
    for name in KEYS:
        store.put(name, {"value": name}, 60)
    check_pops(race(_race.pop_worker, "redis", redis_url, prefix))


def test_redis_add_has_one_winner_across_processes(
    redis_url: str, cipher_for_race: StoreCipher
) -> None:
    prefix = f"race:{uuid.uuid4().hex}:"
    check_adds(
        race(_race.add_worker, "redis", redis_url, prefix),
        RedisStore(redis_url, cipher_for_race, prefix=prefix),
    )
