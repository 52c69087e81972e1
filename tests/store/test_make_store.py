"""make_store: how CLERK_STORE is read, and that a bad value is an error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_clerk_mcp.errors import ConfigurationError
from flask_clerk_mcp.store import (
    FileStore,
    JSONValue,
    MemoryStore,
    RedisStore,
    Store,
    StoreCipher,
    derive_store_key,
    make_store,
)

KEY = "key material"


def test_none_is_a_file_store_in_the_default_directory(tmp_path: Path) -> None:
    store = make_store(None, key_material=KEY, default_dir=str(tmp_path / "default"))
    assert isinstance(store, FileStore)
    assert store.directory == str(tmp_path / "default")


def test_file_spec_names_the_directory(tmp_path: Path) -> None:
    store = make_store(f"file:{tmp_path}/elsewhere", key_material=KEY, default_dir="/unused")
    assert isinstance(store, FileStore)
    assert store.directory == f"{tmp_path}/elsewhere"


def test_the_key_material_is_what_encrypts(tmp_path: Path) -> None:
    spec = f"file:{tmp_path}"
    make_store(spec, key_material=KEY, default_dir="/unused").put("k", "v", 60)
    same = FileStore(tmp_path, StoreCipher(derive_store_key(KEY.encode())))
    assert same.get("k") == "v"
    assert make_store(spec, key_material="other", default_dir="/unused").get("k") is None


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://:pw@cache:6380/1", "unix:///run/redis.sock"]
)
def test_redis_urls_are_redis_stores(url: str) -> None:
    store = make_store(url, key_material=KEY, default_dir="/unused")
    assert isinstance(store, RedisStore)  # no connection is made until the first operation


def test_memory_spec_is_a_memory_store() -> None:
    assert isinstance(make_store("memory:", key_material=KEY, default_dir="/unused"), MemoryStore)


def test_a_store_object_is_used_as_is() -> None:
    store = MemoryStore()
    assert make_store(store, key_material="", default_dir="/unused") is store

    class Custom:  # anything with the five operations will do
        def put(self, key: str, value: JSONValue, ttl: int) -> None:
            pass

        def add(self, key: str, value: JSONValue, ttl: int) -> bool:
            return True

        def get(self, key: str) -> JSONValue | None:
            return None

        def pop(self, key: str) -> JSONValue | None:
            return None

        def delete(self, key: str) -> None:
            pass

    custom: Store = Custom()
    assert make_store(custom, key_material=KEY, default_dir="/unused") is custom


@pytest.mark.parametrize(
    "spec",
    [
        "filesystem:/tmp/x",
        "file:",
        "memory",
        "memcached://:hunter2@host",
        "/var/lib/store",
        "",
        42,
        object(),
    ],
)
def test_anything_else_is_a_value_error_naming_clerk_store(spec: object) -> None:
    with pytest.raises(ValueError, match="CLERK_STORE") as caught:
        make_store(spec, key_material=KEY, default_dir="/unused")  # type: ignore[arg-type]
    assert isinstance(caught.value, ConfigurationError)
    assert "hunter2" not in str(caught.value)


def test_empty_key_material_is_refused_for_encrypted_backends(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        make_store(None, key_material="", default_dir=str(tmp_path))
