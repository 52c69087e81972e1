"""RedisStore specifics, against a real redis-server: names, expiry, tampering, failures."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable

import pytest
import redis

from flask_clerk_mcp.store import RedisStore, StoreCipher, StoreError, derive_store_key

pytestmark = pytest.mark.integration

SECRET_KEY_NAME = "code:s3cr3t-one-time-code"
SECRET_VALUE = "refresh-token-do-not-leak"


def names(store: RedisStore) -> list[str]:
    return sorted(name.decode() for name in store.client.keys(store.name_for("x")[:-64] + "*"))


def test_names_are_prefix_plus_sha256_and_values_are_encrypted(redis_store: RedisStore) -> None:
    redis_store.put(SECRET_KEY_NAME, {"token": SECRET_VALUE}, 60)
    (name,) = names(redis_store)
    prefix = redis_store.name_for("x")[:-64]
    assert name.startswith(prefix) and "s3cr3t" not in name
    digest = name[len(prefix) :]
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    raw = redis_store.client.get(name)
    assert SECRET_VALUE.encode() not in raw and SECRET_VALUE.encode() not in base64.b64decode(raw)


def test_put_and_add_set_a_redis_expiry(redis_store: RedisStore) -> None:
    redis_store.put("k", 1, 100)
    redis_store.add("lock", 1, 7)
    assert 99_000 < redis_store.client.pttl(redis_store.name_for("k")) <= 100_000
    assert 6_000 < redis_store.client.pttl(redis_store.name_for("lock")) <= 7_000


def test_expired_entries_read_as_absent_and_free_the_lock(redis_store: RedisStore) -> None:
    redis_store.put("k", 1, 100)
    redis_store.add("lock", 1, 100)
    redis_store.client.pexpire(redis_store.name_for("k"), 1)
    redis_store.client.pexpire(redis_store.name_for("lock"), 1)
    time.sleep(0.01)
    assert redis_store.get("k") is None
    assert redis_store.pop("k") is None
    assert redis_store.add("lock", 2, 100)


def test_a_tampered_value_reads_as_absent_and_is_logged_once(
    redis_store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    redis_store.put(SECRET_KEY_NAME, SECRET_VALUE, 60)
    name = redis_store.name_for(SECRET_KEY_NAME)
    blob = bytearray(base64.b64decode(redis_store.client.get(name)))
    blob[-1] ^= 0x01
    redis_store.client.set(name, base64.b64encode(bytes(blob)))
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp.store"):
        assert redis_store.get(SECRET_KEY_NAME) is None
        assert redis_store.get(SECRET_KEY_NAME) is None
    assert len([r for r in caplog.records if r.name == "flask_clerk_mcp.store"]) == 1
    assert SECRET_VALUE not in caplog.text and "s3cr3t" not in caplog.text


def test_garbage_reads_as_absent(redis_store: RedisStore) -> None:
    redis_store.client.set(redis_store.name_for("k"), b"\xff not base64 \x00")
    assert redis_store.get("k") is None
    assert redis_store.pop("k") is None


def test_a_value_copied_under_another_key_fails(redis_store: RedisStore) -> None:
    redis_store.put("session:alice", {"user": "alice"}, 60)
    stolen = redis_store.client.get(redis_store.name_for("session:alice"))
    redis_store.client.set(redis_store.name_for("session:mallory"), stolen)
    assert redis_store.get("session:mallory") is None
    assert redis_store.get("session:alice") == {"user": "alice"}


def test_another_key_material_reads_nothing(redis_store: RedisStore, redis_url: str) -> None:
    redis_store.put("k", "v", 60)
    prefix = redis_store.name_for("x")[:-64]
    rotated = RedisStore(redis_url, StoreCipher(derive_store_key("rotated")), prefix=prefix)
    assert rotated.get("k") is None


def test_works_with_a_given_client_even_one_that_decodes_responses(
    redis_url: str, cipher: StoreCipher
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(client, cipher, prefix="test:decoded:")
    store.put("k", {"a": 1}, 60)
    assert store.get("k") == {"a": 1}
    assert store.pop("k") == {"a": 1}
    assert store.client is client
    client.close()


class _OldRedis:
    """A client whose server predates GETDEL (Redis < 6.2)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def getdel(self, name: str) -> None:
        raise redis.exceptions.ResponseError("ERR unknown command 'GETDEL', with args ...")

    def __getattr__(self, attribute: str) -> object:
        return getattr(self._client, attribute)


def test_pop_falls_back_to_a_transaction_without_getdel(
    redis_url: str, cipher: StoreCipher
) -> None:
    real = redis.Redis.from_url(redis_url)
    store = RedisStore(_OldRedis(real), cipher, prefix="test:old:")
    store.put("k", 1, 60)
    assert store.pop("k") == 1
    assert store.pop("k") is None
    real.close()


def test_an_unreachable_server_raises_store_error(cipher: StoreCipher) -> None:
    store = RedisStore("redis://:hunter2@127.0.0.1:1/0", cipher)
    calls: list[Callable[[], object]] = [
        lambda: store.put(SECRET_KEY_NAME, SECRET_VALUE, 60),
        lambda: store.add(SECRET_KEY_NAME, SECRET_VALUE, 60),
        lambda: store.get(SECRET_KEY_NAME),
        lambda: store.pop(SECRET_KEY_NAME),
        lambda: store.delete(SECRET_KEY_NAME),
    ]
    for call in calls:
        with pytest.raises(StoreError) as caught:
            call()
        message = str(caught.value)
        assert "hunter2" not in message and SECRET_VALUE not in message and "s3cr3t" not in message
        assert "ConnectionError" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache.internal:6379/0", "redis://***@cache.internal:6379/0"),
        ("rediss://user:hunter2@cache.internal/1", "rediss://***@cache.internal/1"),
        ("redis://cache.internal:6379/0?password=hunter2", "redis://cache.internal:6379/0?***"),
        ("unix://:hunter2@/run/redis.sock?db=2", "unix://***@/run/redis.sock?***"),
        ("redis://localhost:6379", "redis://localhost:6379"),
    ],
)
def test_repr_hides_any_password(url: str, shown: str, cipher: StoreCipher) -> None:
    store = RedisStore(url, cipher)
    assert repr(store) == f"RedisStore({shown!r}, prefix='flask_clerk_mcp:')"
    assert "hunter2" not in repr(store)
