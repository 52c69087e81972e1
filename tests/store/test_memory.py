"""MemoryStore specifics: expiry by the injected clock, sweeping, a harmless repr."""

from __future__ import annotations

from flask_clerk_mcp.store import MemoryStore

from .conftest import FakeClock


def test_expired_entries_read_as_absent(memory_store: MemoryStore, clock: FakeClock) -> None:
    memory_store.put("k", "v", 10)
    clock.advance(9.9)
    assert memory_store.get("k") == "v"
    clock.advance(0.1)
    assert memory_store.get("k") is None
    assert memory_store.pop("k") is None


def test_add_replaces_an_expired_entry(memory_store: MemoryStore, clock: FakeClock) -> None:
    assert memory_store.add("lock", "old", 5)
    assert not memory_store.add("lock", "new", 5)
    clock.advance(5)
    assert memory_store.add("lock", "new", 5)
    assert memory_store.get("lock") == "new"


def test_sweep_drops_expired_entries(memory_store: MemoryStore, clock: FakeClock) -> None:
    for index in range(10):
        memory_store.put(f"k{index}", index, 5)
    memory_store.put("long", 1, 100)
    clock.advance(6)
    assert memory_store.sweep() == 10
    assert len(memory_store) == 1


def test_repr(memory_store: MemoryStore) -> None:
    memory_store.put("secret-key", "secret-value", 60)
    assert repr(memory_store) == "MemoryStore()"
