"""The verification cache: verdicts only, bounded by exp, isolated per app, never fatal."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import responses
from cachelib import BaseCache, SimpleCache

from flask_clerk_mcp.cache import VerificationCache, make_cache_backend
from flask_clerk_mcp.errors import ConfigurationError
from tests.support.clock import FakeClock

from .conftest import (
    INTROSPECT,
    TOKEN,
    USERINFO,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
    calls_to,
)


def test_second_request_is_served_from_the_cache(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    client = app.test_client()
    first = client.post("/mcp", headers=bearer())
    second = client.post("/mcp", headers=bearer())
    assert first.get_json() == second.get_json()
    assert calls_to(clerk, INTROSPECT) == 1
    assert calls_to(clerk, USERINFO) == 1


def test_cold_token_costs_exactly_two_upstream_calls(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app.test_client().post("/mcp", headers=bearer())
    assert len(clerk.calls) == 2


def test_cache_ttl_zero_disables_the_cache(make_app, clerk):
    app = make_app({"CLERK_CACHE_TTL": 0})
    answer_introspection(clerk)
    answer_userinfo(clerk)
    client = app.test_client()
    client.post("/mcp", headers=bearer())
    client.post("/mcp", headers=bearer())
    assert calls_to(clerk, INTROSPECT) == 2


KEY = b"k" * 32


def test_ttl_is_bounded_by_exp():
    clock = FakeClock()
    backend = SimpleCache()
    cache = VerificationCache(
        backend, ttl=60, issuer="i", accepted_client_ids=("c",), secret=KEY, clock=clock
    )
    record = {"client_id": "c", "scopes": [], "expires_at": None, "subject": "u", "claims": {}}

    cache.remember("tok", record, expires_at=int(clock.now) + 20)
    assert cache.lookup("tok") == record
    clock.now += 21
    assert cache.lookup("tok") is None

    cache.remember("tok2", record, expires_at=None)
    clock.now += 59
    assert cache.lookup("tok2") == record
    clock.now += 2
    assert cache.lookup("tok2") is None


def test_an_already_expired_token_is_not_cached():
    clock = FakeClock()
    backend = SimpleCache()
    cache = VerificationCache(
        backend, ttl=60, issuer="i", accepted_client_ids=("c",), secret=KEY, clock=clock
    )
    cache.remember("tok", {"x": 1}, expires_at=int(clock.now))
    assert backend.get(cache.key("tok")) is None


def test_ttl_bounded_by_exp_through_the_app(make_app, clerk):
    backend = SimpleCache()
    app = make_app({"CLERK_CACHE": backend})
    answer_introspection(clerk, active(exp=int(time.time()) + 5))
    answer_userinfo(clerk)
    app.test_client().post("/mcp", headers=bearer())
    key = app.extensions["clerk_mcp"].verifier.cache.key(TOKEN)
    expires = backend._cache[key][0]  # cachelib keeps (expiry, value)
    assert expires <= time.time() + 6


def test_inactive_tokens_are_negatively_cached_briefly(app, clerk):
    answer_introspection(clerk, {"active": False})
    client = app.test_client()
    assert client.post("/mcp", headers=bearer()).status_code == 401
    assert client.post("/mcp", headers=bearer()).status_code == 401
    assert calls_to(clerk, INTROSPECT) == 1


def test_negative_cache_expires_within_seconds():
    clock = FakeClock()
    cache = VerificationCache(
        SimpleCache(), ttl=60, issuer="i", accepted_client_ids=("c",), secret=KEY, clock=clock
    )
    cache.remember_inactive("tok")
    assert cache.lookup("tok") == "inactive"
    clock.now += 6
    assert cache.lookup("tok") is None


def test_failures_are_never_cached(app, clerk):
    clerk.add(responses.POST, INTROSPECT, body=requests.ConnectionError("down"))
    client = app.test_client()
    assert client.post("/mcp", headers=bearer()).status_code == 503
    assert client.post("/mcp", headers=bearer()).status_code == 503
    assert calls_to(clerk, INTROSPECT) == 2


def test_cache_key_and_value_never_hold_the_raw_token(make_app, clerk):
    backend = SimpleCache()
    app = make_app({"CLERK_CACHE": backend})
    answer_introspection(clerk)
    answer_userinfo(clerk)
    app.test_client().post("/mcp", headers=bearer())
    assert backend._cache, "something was cached"
    for key, (_, value) in backend._cache.items():
        assert TOKEN not in key
        assert TOKEN.encode() not in value


def test_two_apps_sharing_one_cache_never_answer_for_each_other(make_app, clerk):
    shared = SimpleCache()
    app_a = make_app({"CLERK_CACHE": shared, "CLERK_CLIENT_ID": "client_a"})
    app_b = make_app({"CLERK_CACHE": shared, "CLERK_CLIENT_ID": "client_b"})
    answer_introspection(clerk, active(client_id="client_a"))
    answer_userinfo(clerk)

    assert app_a.test_client().post("/mcp", headers=bearer()).status_code == 200
    assert app_b.test_client().post("/mcp", headers=bearer()).status_code == 401  # asked Clerk
    assert calls_to(clerk, INTROSPECT) == 2
    assert app_a.test_client().post("/mcp", headers=bearer()).status_code == 200
    assert calls_to(clerk, INTROSPECT) == 2


class BrokenCache(BaseCache):
    def get(self, key: str) -> Any:
        raise ConnectionError("cache is down")

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        raise ConnectionError("cache is down")


def test_broken_backend_degrades_to_no_shared_cache(make_app, clerk, caplog):
    """Nothing is shared through a broken backend: a second worker (another app on the same
    backend) asks Clerk again. Each process still keeps its own first-level cache."""
    broken = BrokenCache()
    worker_1, worker_2 = make_app({"CLERK_CACHE": broken}), make_app({"CLERK_CACHE": broken})
    answer_introspection(clerk)
    answer_userinfo(clerk)
    with caplog.at_level("WARNING", logger="flask_clerk_mcp"):
        assert worker_1.test_client().post("/mcp", headers=bearer()).status_code == 200
        assert worker_2.test_client().post("/mcp", headers=bearer()).status_code == 200
        assert calls_to(clerk, INTROSPECT) == 2
        assert worker_1.test_client().post("/mcp", headers=bearer()).status_code == 200
    assert calls_to(clerk, INTROSPECT) == 2
    # one line per worker, however many failed reads and writes
    assert sum("verification cache" in r.getMessage() for r in caplog.records) == 2


def test_broken_backend_never_lets_a_bad_token_in(make_app, clerk):
    app = make_app({"CLERK_CACHE": BrokenCache()})
    answer_introspection(clerk, {"active": False})
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


@pytest.mark.parametrize(
    "planted",
    [
        '{"kind": "verified", "until": 9e99, "record": {"subject": 1}}',
        '{"until": "soon"}',
        "not json at all",
        12345,
        b"\x80\x81",
        None,
    ],
)
def test_garbage_in_the_cache_is_a_miss(make_app, clerk, planted):
    backend = SimpleCache()
    app = make_app({"CLERK_CACHE": backend})
    key = app.extensions["clerk_mcp"].verifier.cache.key(TOKEN)
    backend.set(key, planted)
    answer_introspection(clerk, {"active": False})
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401
    assert calls_to(clerk, INTROSPECT) == 1


def test_a_forged_verified_entry_lets_nobody_in(make_app, clerk):
    # Whoever can write to a shared cache can compute the key (it needs only the token).
    backend = SimpleCache()
    app = make_app({"CLERK_CACHE": backend})
    cache = app.extensions["clerk_mcp"].verifier.cache
    record = {
        "client_id": "client_abc",
        "scopes": ["openid", "email", "profile"],
        "expires_at": None,
        "subject": "user_admin",
        "claims": {"sub": "user_admin"},
    }
    entry = json.dumps({"kind": "verified", "record": record, "until": 9e15})
    forger = VerificationCache(
        backend, ttl=60, issuer="x", accepted_client_ids=("x",), secret=b"guess" * 8
    )
    for planted in (
        entry,
        "0" * 64 + "." + entry,
        forger._seal(cache.key("forged"), json.loads(entry)),
    ):
        backend.set(cache.key("forged"), planted)
        answer_introspection(clerk, {"active": False})
        response = app.test_client().post("/mcp", headers=bearer("forged"))
        assert response.status_code == 401
    assert calls_to(clerk, INTROSPECT) == 3


def test_apps_with_the_same_secret_share_entries_others_do_not(make_app, clerk):
    shared = SimpleCache()
    first = make_app({"CLERK_CACHE": shared, "SECRET_KEY": "one"})
    same = make_app({"CLERK_CACHE": shared, "SECRET_KEY": "one"})
    other = make_app({"CLERK_CACHE": shared, "SECRET_KEY": "two"})
    answer_introspection(clerk)
    answer_userinfo(clerk)
    assert first.test_client().post("/mcp", headers=bearer()).status_code == 200
    assert same.test_client().post("/mcp", headers=bearer()).status_code == 200
    assert calls_to(clerk, INTROSPECT) == 1
    assert other.test_client().post("/mcp", headers=bearer()).status_code == 200
    assert calls_to(clerk, INTROSPECT) == 2


def test_url_built_backends_never_unpickle(tmp_path):
    import io
    import pickle

    class Boom:
        def __reduce__(self):  # would run on unpickling
            return (pytest.fail, ("a cached value was unpickled",))

    planted = b"!" + pickle.dumps(Boom())
    file_cache = make_cache_backend(f"filesystem:{tmp_path}")
    file_cache.set("k", "text value")
    assert file_cache.get("k") == "text value"
    from_file = file_cache.serializer.load(io.BytesIO(planted[1:]))
    assert from_file is None or isinstance(from_file, str)  # text or a miss, never unpickled
    redis_cache = make_cache_backend("redis://127.0.0.1:1/0")
    assert redis_cache.serializer.loads(planted) is None  # not UTF-8 text: a miss
    assert redis_cache.serializer.loads(b"!plain") == "!plain"  # text, never unpickled


def test_cache_specs(tmp_path):
    assert isinstance(make_cache_backend(None), SimpleCache)
    backend = SimpleCache()
    assert make_cache_backend(backend) is backend
    assert type(make_cache_backend(f"filesystem:{tmp_path}")).__name__ == "FileSystemCache"
    assert type(make_cache_backend("redis://127.0.0.1:1/0")).__name__ == "RedisCache"
    with pytest.raises(ConfigurationError, match="CLERK_CACHE") as info:
        make_cache_backend("memcached://user:hunter2@host")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigurationError, match="CLERK_CACHE"):
        make_cache_backend(42)


def test_unreachable_redis_cache_degrades(make_app, clerk):
    app = make_app({"CLERK_CACHE": "redis://127.0.0.1:1/0"})
    answer_introspection(clerk)
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 200
