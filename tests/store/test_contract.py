"""What every backend promises alike: the Store protocol, run on memory, file and Redis."""

from __future__ import annotations

import threading

import pytest

from flask_clerk_mcp.store import Store

VALUE = {"sub": "user_1", "scopes": ["openid", "email"], "n": 3, "ok": True, "x": None, "f": 1.5}


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


def test_put_then_get_returns_the_value(store: Store) -> None:
    store.put("session:abc", VALUE, 60)
    assert store.get("session:abc") == VALUE


def test_get_of_a_missing_key_is_none(store: Store) -> None:
    assert store.get("nope") is None


def test_put_overwrites(store: Store) -> None:
    store.put("k", "first", 60)
    store.put("k", "second", 60)
    assert store.get("k") == "second"


@pytest.mark.parametrize(
    "value", [None, True, 0, -7, 2.5, "", "héllo ✓", [], {}, [1, [2, {"a": [None]}]]]
)
def test_every_json_value_round_trips(store: Store, value: object) -> None:
    store.put("k", value, 60)  # type: ignore[arg-type]
    assert store.get("k") == value
    assert type(store.get("k")) is type(value)


def test_keys_may_hold_any_characters(store: Store) -> None:
    keys = ["a:b:c", "a/b", "../../etc/passwd", "spaces and\nnewlines", "ключ", "*", "x" * 2000]
    for index, key in enumerate(keys):
        store.put(key, index, 60)
    assert [store.get(key) for key in keys] == list(range(len(keys)))


def test_reads_return_copies_the_caller_may_mutate(store: Store) -> None:
    value = {"list": [1, 2]}
    store.put("k", value, 60)
    value["list"].append(3)  # the caller's object is not the stored one
    first = store.get("k")
    assert first == {"list": [1, 2]}
    assert isinstance(first, dict)
    first["list"].append(99)
    assert store.get("k") == {"list": [1, 2]}


def test_add_sets_only_when_absent(store: Store) -> None:
    assert store.add("lock", "me", 60) is True
    assert store.add("lock", "you", 60) is False
    assert store.get("lock") == "me"


def test_add_succeeds_again_after_delete_or_pop(store: Store) -> None:
    assert store.add("lock", 1, 60)
    store.delete("lock")
    assert store.add("lock", 2, 60)
    assert store.pop("lock") == 2
    assert store.add("lock", 3, 60)


def test_pop_returns_the_value_once(store: Store) -> None:
    store.put("code", VALUE, 60)
    assert store.pop("code") == VALUE
    assert store.pop("code") is None
    assert store.get("code") is None


def test_pop_of_a_missing_key_is_none(store: Store) -> None:
    assert store.pop("nope") is None


def test_delete_removes_and_tolerates_missing(store: Store) -> None:
    store.put("k", 1, 60)
    store.delete("k")
    assert store.get("k") is None
    store.delete("k")  # missing: no error


def test_keys_are_independent(store: Store) -> None:
    store.put("a", 1, 60)
    store.put("b", 2, 60)
    store.delete("a")
    assert store.get("b") == 2


@pytest.mark.parametrize(
    "value",
    [
        object(),
        b"bytes",
        (1, 2),
        {1: "int key"},
        {"nested": {"set"}},
        float("nan"),
        float("inf"),
        [1, object()],
    ],
    ids=["object", "bytes", "tuple", "int-key", "set", "nan", "inf", "nested-object"],
)
def test_non_json_values_are_refused_with_type_error(store: Store, value: object) -> None:
    with pytest.raises(TypeError):
        store.put("k", value, 60)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.add("k", value, 60)  # type: ignore[arg-type]
    assert store.get("k") is None  # nothing half-written


@pytest.mark.parametrize("ttl", [0, -1])
def test_ttl_below_one_second_is_refused(store: Store, ttl: int) -> None:
    with pytest.raises(ValueError):
        store.put("k", 1, ttl)
    with pytest.raises(ValueError):
        store.add("k", 1, ttl)


@pytest.mark.parametrize("ttl", [1.5, "60", True, None])
def test_ttl_must_be_whole_seconds(store: Store, ttl: object) -> None:
    with pytest.raises(TypeError):
        store.put("k", 1, ttl)  # type: ignore[arg-type]


def test_keys_must_be_non_empty_strings(store: Store) -> None:
    with pytest.raises(TypeError):
        store.get(b"k")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.put("", 1, 60)


def test_pop_is_consume_once_across_threads(store: Store) -> None:
    keys = [f"code:{index}" for index in range(50)]
    for key in keys:
        store.put(key, key, 60)
    barrier = threading.Barrier(8)
    won: list[list[str]] = [[] for _ in range(8)]

    def race(slot: int) -> None:
        barrier.wait()
        for key in keys:
            if store.pop(key) == key:
                won[slot].append(key)

    threads = [threading.Thread(target=race, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(key for slot in won for key in slot) == sorted(keys)


def test_add_has_one_winner_across_threads(store: Store) -> None:
    keys = [f"lock:{index}" for index in range(50)]
    barrier = threading.Barrier(8)
    won: list[list[str]] = [[] for _ in range(8)]

    def race(slot: int) -> None:
        barrier.wait()
        for key in keys:
            if store.add(key, slot, 60):
                won[slot].append(key)

    threads = [threading.Thread(target=race, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(key for slot in won for key in slot) == sorted(keys)
    for slot, keys_won in enumerate(won):
        assert all(store.get(key) == slot for key in keys_won)
