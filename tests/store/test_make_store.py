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


def test_a_redis_cache_and_store_on_one_url_share_one_client(tmp_path: Path) -> None:
    """One client (and connection pool) per Redis URL per process, whoever asked first."""
    from flask import Flask

    from flask_clerk_mcp import ClerkMCP

    url = "redis://127.0.0.1:1/7"  # never connected to: clients connect lazily
    apps = []
    for name in ("first", "second"):
        app = Flask(name, instance_path=str(tmp_path))
        app.config.update(
            SECRET_KEY="k" * 32,
            CLERK_DOMAIN="example.clerk.accounts.dev",
            CLERK_CLIENT_ID="c",
            CLERK_CLIENT_SECRET="s",
            CLERK_BASE_URL="https://mcp.example.com",
            CLERK_CACHE=url,
            CLERK_STORE=url,
        )
        ClerkMCP(app)
        apps.append(app)
    clients = set()
    for app in apps:
        state = app.extensions["clerk_mcp"]
        clients.add(id(state.store.client))
        clients.add(id(state.verifier.cache._backend._write_client))
    assert len(clients) == 1
    assert isinstance(make_store(url, key_material=KEY, default_dir="/unused"), RedisStore)
