"""A token this server revoked (the proxy's ``/oauth/revoke``) stops at once in this process and,
through a shared cache, in every other worker within the first-level cache's short window."""

from __future__ import annotations

import time

import pytest
import responses
from cachelib import SimpleCache

from flask_clerk_mcp.cache import VerificationCache
from flask_clerk_mcp.errors import InvalidToken
from flask_clerk_mcp.hot_cache import SHARED_MAX_AGE
from flask_clerk_mcp.settings import load_settings
from flask_clerk_mcp.verifier import ClerkVerifier
from tests.support.clock import FakeClock

from .conftest import BASE_CONFIG, INTROSPECT, answer_introspection, answer_userinfo, calls_to

TOKEN = "oat_revoked_here_0123456789"


def worker(clock: FakeClock, shared: SimpleCache, cache_spec: object) -> ClerkVerifier:
    """One worker's verifier over ``shared`` (the backend every worker reads)."""
    settings = load_settings({**BASE_CONFIG, "CLERK_CACHE": cache_spec, "CLERK_CACHE_TTL": 60})
    cache = VerificationCache(
        shared,
        ttl=60,
        issuer=settings.issuer,
        accepted_client_ids=settings.accepted_client_ids,
        secret=b"k" * 32,
        clock=clock,
    )
    return ClerkVerifier(settings, cache, clock=clock)


def test_revoked_is_refused_at_once_here_without_asking_clerk(
    clerk: responses.RequestsMock,
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    clock = FakeClock(time.time())
    here = worker(clock, SimpleCache(), None)
    here.verify(TOKEN)
    here.revoked(TOKEN)
    with pytest.raises(InvalidToken):
        here.verify(TOKEN)
    assert calls_to(clerk, INTROSPECT) == 1


def test_with_a_shared_cache_another_worker_stops_within_the_window(
    clerk: responses.RequestsMock,
) -> None:
    answer_introspection(clerk)
    answer_userinfo(clerk)
    clock = FakeClock(time.time())
    shared = SimpleCache()
    here, there = worker(clock, shared, shared), worker(clock, shared, shared)
    here.verify(TOKEN)
    there.verify(TOKEN)  # hot in both workers now
    here.revoked(TOKEN)
    assert there.verify(TOKEN).subject  # still hot there, for at most the window
    clock.advance(SHARED_MAX_AGE + 0.1)
    with pytest.raises(InvalidToken):
        there.verify(TOKEN)
    assert calls_to(clerk, INTROSPECT) == 1  # the shared cache said so, not Clerk


def test_a_per_worker_cache_keeps_entries_for_the_whole_ttl() -> None:
    clock = FakeClock(0.0)
    assert worker(clock, SimpleCache(), None).hot._max_age is None
    shared = SimpleCache()
    assert worker(clock, shared, shared).hot._max_age == SHARED_MAX_AGE
