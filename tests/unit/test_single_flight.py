"""Concurrent requests for one cold token share one verification."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import responses

from flask_clerk_mcp.errors import InvalidToken, UpstreamUnavailable

from .conftest import INTROSPECT, TOKEN, USERINFO, active, answer_userinfo, calls_to

THREADS = 8


def slow_introspection(clerk: responses.RequestsMock, body: Any, status: int = 200) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(0.2)  # long enough for every thread to arrive while it is in flight
        return status, {}, json.dumps(body)

    clerk.add_callback(responses.POST, INTROSPECT, callback=answer)


def verify_concurrently(app: Any, token: str = TOKEN) -> list[Any]:
    verifier = app.extensions["clerk_mcp"].verifier
    start = threading.Barrier(THREADS)
    outcomes: list[Any] = [None] * THREADS

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = verifier.verify(token)
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_burst_on_a_cold_token_costs_two_upstream_calls(app, clerk):
    slow_introspection(clerk, active())
    answer_userinfo(clerk)
    outcomes = verify_concurrently(app)
    assert {o.subject for o in outcomes} == {"user_alice"}
    assert calls_to(clerk, INTROSPECT) == 1
    assert calls_to(clerk, USERINFO) == 1


def test_a_rejection_is_shared_and_each_request_gets_its_own_exception(app, clerk):
    slow_introspection(clerk, {"active": False})
    outcomes = verify_concurrently(app)
    assert all(isinstance(o, InvalidToken) for o in outcomes)
    assert len({id(o) for o in outcomes}) == THREADS
    assert calls_to(clerk, INTROSPECT) == 1


def test_an_outage_is_shared_not_retried_by_every_waiter(app, clerk):
    slow_introspection(clerk, {"error": "down"}, status=502)
    outcomes = verify_concurrently(app)
    assert all(isinstance(o, UpstreamUnavailable) for o in outcomes)
    assert calls_to(clerk, INTROSPECT) == 1


def test_different_tokens_do_not_wait_for_each_other(app, clerk):
    slow_introspection(clerk, active())
    answer_userinfo(clerk)
    verifier = app.extensions["clerk_mcp"].verifier
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda t=t: results.append(verifier.verify(t)))
        for t in ("oat_one", "oat_two", "oat_three")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert calls_to(clerk, INTROSPECT) == 3


def test_without_a_cache_each_request_verifies_for_itself(make_app, clerk):
    app = make_app({"CLERK_CACHE_TTL": 0})
    slow_introspection(clerk, active())
    answer_userinfo(clerk)
    verify_concurrently(app)
    assert calls_to(clerk, INTROSPECT) == THREADS
