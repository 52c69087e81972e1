"""The first-level cache on its own: bounded, never past ``until``, keyed as it is told."""

from __future__ import annotations

import threading

from flask_clerk_mcp.hot_cache import HotTokens
from flask_clerk_mcp.tokens import AccessToken
from tests.support.clock import FakeClock


def token(n: int) -> AccessToken:
    return AccessToken(f"tok{n}", "client", ("email",), None, f"user_{n}")


def test_serves_until_its_until_and_not_after() -> None:
    clock = FakeClock(1000.0)
    hot = HotTokens(clock=clock)
    hot.put("k", token(1), until=1010.0)
    assert hot.get("k") == token(1)
    clock.advance(10)
    assert hot.get("k") is None
    assert len(hot) == 0  # an expired entry is dropped on read


def test_an_entry_already_past_is_not_stored() -> None:
    hot = HotTokens(clock=FakeClock(1000.0))
    hot.put("k", token(1), until=1000.0)
    assert len(hot) == 0


def test_bounded_the_oldest_goes_first() -> None:
    hot = HotTokens(max_entries=3, clock=FakeClock(0.0))
    for n in range(5):
        hot.put(f"k{n}", token(n), until=100.0)
    assert len(hot) == 3
    assert [hot.get(f"k{n}") for n in range(5)] == [None, None, token(2), token(3), token(4)]
    hot.put("k2", token(2), until=100.0)  # refreshed: now the newest
    hot.put("k5", token(5), until=100.0)
    assert hot.get("k3") is None and hot.get("k2") == token(2)


def test_disabled_stores_nothing() -> None:
    hot = HotTokens(clock=FakeClock(0.0), enabled=False)
    hot.put("k", token(1), until=100.0)
    assert hot.get("k") is None and len(hot) == 0


def test_concurrent_puts_and_expiring_gets_keep_the_bound() -> None:
    clock = FakeClock(0.0)
    hot = HotTokens(max_entries=50, clock=clock)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(2000):
                hot.put(f"k{offset}-{n}", token(n), until=0.5 if n % 2 else 100.0)
                hot.get(f"k{offset}-{n - 1}")
        except BaseException as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    clock.advance(1)
    for thread in threads:
        thread.join()
    assert not errors
    assert len(hot) <= 50


def test_max_age_caps_how_long_an_entry_lives() -> None:
    clock = FakeClock(1000.0)
    hot = HotTokens(clock=clock, max_age=2.0)
    hot.put("k", token(1), until=1060.0)  # the shared cache would allow a minute
    clock.advance(1.9)
    assert hot.get("k") == token(1)
    clock.advance(0.2)
    assert hot.get("k") is None


def test_discard_forgets_one_entry() -> None:
    hot = HotTokens(clock=FakeClock(0.0))
    hot.put("a", token(1), until=100.0)
    hot.put("b", token(2), until=100.0)
    hot.discard("a")
    hot.discard("missing")  # no error
    assert hot.get("a") is None and hot.get("b") == token(2)
