"""Fixtures for the store tests: a controllable clock, a cipher, and each backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_clerk_mcp.store import (
    FileStore,
    MemoryStore,
    RedisStore,
    Store,
    StoreCipher,
    derive_store_key,
)
from tests.support.clock import FakeClock
from tests.support.redis_server import redis_url  # noqa: F401

KEY_MATERIAL = "store-test-key-material-not-a-real-secret"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cipher() -> StoreCipher:
    return StoreCipher(derive_store_key(KEY_MATERIAL))


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def file_store(store_dir: Path, cipher: StoreCipher, clock: FakeClock) -> FileStore:
    return FileStore(store_dir, cipher, clock=clock)


@pytest.fixture
def memory_store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def redis_store(redis_url: str, cipher: StoreCipher) -> Iterator[RedisStore]:  # noqa: F811
    # One server for the session; a fresh prefix keeps tests from seeing each other's entries.
    store = RedisStore(redis_url, cipher, prefix=f"test:{uuid.uuid4().hex}:")
    yield store
    store.client.close()


@pytest.fixture(params=["memory", "file", "redis"])
def store(request: pytest.FixtureRequest) -> Store:
    """Each backend in turn, for the behaviour all of them promise alike."""
    if request.param == "redis":
        request.applymarker(pytest.mark.integration)
    backend: Store = request.getfixturevalue(f"{request.param}_store")
    return backend
