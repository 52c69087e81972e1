"""Login sessions after the callback: refresh (once, even in parallel), rejection, logout,
the store failing, and the logs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.controls import Fault
from flask_clerk_mcp.login import clock, oauth, sessions
from flask_clerk_mcp.login.sessions import SESSION_KEY
from flask_clerk_mcp.login.transactions import transaction_key
from flask_clerk_mcp.store import StoreError
from tests.support.redis_server import redis_url  # noqa: F401 - a fixture

from .conftest import (
    BASE_URL,
    HTML,
    Recorded,
    at_clerk,
    callback,
    counters,
    handle_of,
    introspect,
    query_of,
    record_of,
    sign_in,
    start_login,
    store_of,
)

DAY = 86400


def session_record(app: Flask, client: FlaskClient) -> dict[str, Any]:
    handle = handle_of(client)
    assert handle is not None
    record = record_of(app, handle)
    assert record is not None
    return record


def move_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Our app's clock only: the emulator still thinks the token is young."""
    start = time.time()
    monkeypatch.setattr(clock, "now", lambda: start + seconds)


def revoke_at_clerk(emulator: EmulatorServer, token: str, hint: str) -> None:
    answer = requests.post(
        emulator.issuer + "/oauth/token/revoke",
        data={"token": token, "token_type_hint": hint},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200


# -- refresh -------------------------------------------------------------------------------
def test_a_token_near_expiry_is_refreshed(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    recorded: Recorded,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client)
    before = session_record(app, client)
    assert before["expires_at"] >= int(time.time()) + DAY - 5
    assert client.get("/account", headers=HTML).status_code == 200
    assert recorded.token_refreshed == []  # far from expiry: nothing to do

    move_clock(monkeypatch, DAY - 30)
    calls = counters(emulator).get("token", 0)
    page = client.get("/account", headers=HTML)
    assert page.status_code == 200 and b"alice@example.com" in page.data
    assert counters(emulator).get("token", 0) == calls + 1
    after = session_record(app, client)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # the emulator rotates them
    assert after["expires_at"] > before["expires_at"]
    assert len(recorded.token_refreshed) == 1
    assert recorded.token_refreshed[0]["token"].subject == "user_2alice000000000000000000000"
    # the rotated-away refresh token is dead at Clerk
    assert introspect(emulator, before["refresh_token"], "refresh_token")["active"] is False

    # the fresh token is good for a day: no refresh on the next request
    assert client.get("/account", headers=HTML).status_code == 200
    assert counters(emulator).get("token", 0) == calls + 1


@pytest.mark.parametrize("backend", ["memory", "file", "redis"])
def test_parallel_requests_refresh_once(
    backend: str,
    make_app: Callable[..., Flask],
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    request: pytest.FixtureRequest,
) -> None:
    config: dict[str, Any] = {}
    if backend == "file":
        config["CLERK_STORE"] = f"file:{tmp_path / 'store'}"
    elif backend == "redis":
        config["CLERK_STORE"] = request.getfixturevalue("redis_url")
    app = make_app(**config)
    refreshed: list[Any] = []
    from flask_clerk_mcp import signals

    def on_refresh(sender: Any, **extra: Any) -> None:
        refreshed.append(extra["token"])

    signals.token_refreshed.connect(on_refresh, app)
    try:
        first = app.test_client()
        sign_in(first)
        cookie = first.get_cookie("session")
        assert cookie is not None
        move_clock(monkeypatch, DAY - 30)
        emulator.emulator.controls.set_latency(150)  # every request sees the old token
        calls = counters(emulator).get("token", 0)

        threads = 8
        barrier = threading.Barrier(threads)
        results: list[tuple[int, bytes]] = []
        lock = threading.Lock()

        def browse() -> None:
            browser = app.test_client()
            browser.set_cookie("session", cookie.value)
            barrier.wait()
            answer = browser.get("/account", headers=HTML)
            with lock:
                results.append((answer.status_code, answer.data))

        workers = [threading.Thread(target=browse) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        emulator.emulator.controls.set_latency(0)
        assert len(results) == threads
        assert all(status == 200 and b"alice@example.com" in body for status, body in results)
        assert counters(emulator).get("token", 0) == calls + 1
        assert len(refreshed) == 1
    finally:
        signals.token_refreshed.disconnect(on_refresh, app)


def test_a_refused_refresh_sends_the_browser_to_login(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client)
    record = session_record(app, client)
    handle = handle_of(client)
    revoke_at_clerk(emulator, record["refresh_token"], "refresh_token")
    move_clock(monkeypatch, DAY - 30)
    answer = client.get("/account", headers=HTML)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/account"
    assert handle is not None and record_of(app, handle) is None
    assert handle_of(client) is None
    # an API-style request gets the RFC 6750 answer instead of a redirect
    assert client.get("/account", headers={"Accept": "application/json"}).status_code == 401


def test_clerk_down_during_refresh_keeps_the_still_valid_token(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client)
    before = session_record(app, client)
    move_clock(monkeypatch, DAY - 30)
    emulator.emulator.controls.add_fault("token", Fault("500"), 1)
    assert client.get("/account", headers=HTML).status_code == 200
    assert session_record(app, client)["access_token"] == before["access_token"]
    # Clerk is back: the next request refreshes
    assert client.get("/account", headers=HTML).status_code == 200
    assert session_record(app, client)["access_token"] != before["access_token"]


def test_clerk_down_when_the_token_has_expired_is_a_503(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client)
    move_clock(monkeypatch, DAY + 5)
    emulator.emulator.controls.add_fault("token", Fault("500"), 1)
    answer = client.get("/account", headers=HTML)
    assert answer.status_code == 503
    assert handle_of(client) is not None  # not a verdict: the session survives


def test_a_token_clerk_revoked_ends_the_session(
    app: Flask, client: FlaskClient, emulator: EmulatorServer
) -> None:
    sign_in(client)
    record = session_record(app, client)
    handle = handle_of(client)
    revoke_at_clerk(emulator, record["access_token"], "access_token")
    answer = client.get("/account", headers=HTML)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/account"
    assert handle is not None and record_of(app, handle) is None


# -- logout --------------------------------------------------------------------------------
def test_get_logout_only_shows_a_form(app: Flask, client: FlaskClient) -> None:
    sign_in(client)
    page = client.get("/logout", headers=HTML)
    assert page.status_code == 200
    assert b'method="post"' in page.data and b'action="/logout"' in page.data
    assert client.get("/account", headers=HTML).status_code == 200  # still signed in


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {},
    ],
    ids=[
        "evil-origin",
        "evil-origin-claims-same",
        "null",
        "null-cross-site",
        "cross-site",
        "same-site",
        "none",
    ],
)
def test_cross_site_logout_is_refused(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    recorded: Recorded,
    headers: dict[str, str],
) -> None:
    sign_in(client)
    record = session_record(app, client)
    revocations = counters(emulator).get("revoke", 0)
    answer = client.post("/logout", headers={**HTML, **headers})
    assert answer.status_code == 403
    assert client.get("/account", headers=HTML).status_code == 200
    assert session_record(app, client) == record
    assert counters(emulator).get("revoke", 0) == revocations
    assert recorded.logged_out == []


@pytest.mark.parametrize(
    "headers",
    [{"Origin": BASE_URL}, {"Sec-Fetch-Site": "same-origin"}],
    ids=["origin", "sec-fetch-site"],
)
def test_logout_revokes_at_clerk_and_ends_the_session(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    recorded: Recorded,
    headers: dict[str, str],
) -> None:
    sign_in(client)
    record = session_record(app, client)
    handle = handle_of(client)
    assert introspect(emulator, record["access_token"])["active"] is True
    revocations = counters(emulator).get("revoke", 0)

    answer = client.post("/logout", headers={**HTML, **headers})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/logged-out"
    assert "session=;" in answer.headers["Set-Cookie"]  # the cookie is cleared
    assert client.get_cookie("session") is None
    assert handle is not None and record_of(app, handle) is None
    assert counters(emulator).get("revoke", 0) == revocations + 2
    assert introspect(emulator, record["access_token"])["active"] is False
    assert introspect(emulator, record["refresh_token"], "refresh_token")["active"] is False
    assert [event["subject"] for event in recorded.logged_out] == [
        "user_2alice000000000000000000000"
    ]

    page = client.get("/logged-out", headers=HTML)
    assert page.status_code == 200 and b'href="/login"' in page.data
    back = client.get("/account", headers=HTML)
    assert back.status_code == 302 and back.headers["Location"] == "/login?next=/account"


def test_logout_when_clerk_is_down_still_ends_the_session(
    app: Flask, client: FlaskClient, emulator: EmulatorServer
) -> None:
    sign_in(client)
    handle = handle_of(client)
    emulator.emulator.controls.add_fault("revoke", Fault("drop"), 2)
    answer = client.post("/logout", headers={"Origin": BASE_URL})
    assert answer.status_code == 303
    assert handle is not None and record_of(app, handle) is None
    assert client.get("/account", headers=HTML).status_code == 302


def test_logout_without_a_session_is_harmless(client: FlaskClient, recorded: Recorded) -> None:
    answer = client.post("/logout", headers={"Origin": BASE_URL})
    assert answer.status_code == 303
    assert recorded.logged_out == []


# -- logout racing a refresh ---------------------------------------------------------------
def _race_logout_with_refresh(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    during_refresh: Callable[[Callable[[], None]], None],
) -> tuple[str, Any, list[oauth.TokenSet], list[int]]:
    """Sign in, move the clock near expiry, and run ``during_refresh(logout)`` inside the
    refreshing request, after Clerk has answered and before the answer is stored.

    Returns the handle, a copy of the pre-logout cookie, the tokens the refresh got, and the
    status codes of the logouts.
    """
    sign_in(client)
    handle = handle_of(client)
    assert handle is not None
    cookie = client.get_cookie("session")
    assert cookie is not None
    issued: list[oauth.TokenSet] = []
    logouts: list[int] = []
    real_refresh = oauth.refresh

    def logout() -> None:
        other = app.test_client()
        other.set_cookie("session", cookie.value)
        logouts.append(other.post("/logout", headers={"Origin": BASE_URL}).status_code)

    def refresh(*args: Any, **kwargs: Any) -> oauth.TokenSet:
        tokens = real_refresh(*args, **kwargs)
        issued.append(tokens)
        during_refresh(logout)
        return tokens

    monkeypatch.setattr(oauth, "refresh", refresh)
    move_clock(monkeypatch, DAY - 30)
    client.get("/account", headers=HTML)
    monkeypatch.setattr(oauth, "refresh", real_refresh)
    return handle, cookie, issued, logouts


def _assert_logged_out_for_good(
    app: Flask, emulator: EmulatorServer, handle: str, cookie: Any, issued: list[Any]
) -> None:
    assert record_of(app, handle) is None
    stale = app.test_client()
    stale.set_cookie("session", cookie.value)  # a copy of the pre-logout cookie
    answer = stale.get("/account", headers=HTML)
    assert answer.status_code == 302 and answer.headers["Location"] == "/login?next=/account"
    assert record_of(app, handle) is None
    assert len(issued) == 1
    # the tokens the racing refresh obtained are dead at Clerk too
    assert introspect(emulator, issued[0].access_token)["active"] is False
    refresh_token = issued[0].refresh_token
    assert refresh_token is not None
    assert introspect(emulator, refresh_token, "refresh_token")["active"] is False


def test_logout_during_a_refresh_waits_for_it_and_ends_the_fresh_session(
    app: Flask, client: FlaskClient, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_of(app)
    real_add = store.add
    logout_waits = threading.Event()

    def add(key: str, value: Any, ttl: int) -> bool:
        taken = real_add(key, value, ttl)
        if not taken and threading.current_thread() is not threading.main_thread():
            logout_waits.set()  # the logout found the refresher's lock
        return taken

    monkeypatch.setattr(store, "add", add)
    workers: list[threading.Thread] = []

    def during_refresh(logout: Callable[[], None]) -> None:
        def run() -> None:
            try:
                logout()
            finally:
                logout_waits.set()

        worker = threading.Thread(target=run)
        workers.append(worker)
        worker.start()
        assert logout_waits.wait(10)  # the logout has finished, or waits for the lock

    handle, cookie, issued, logouts = _race_logout_with_refresh(
        app, client, monkeypatch, during_refresh
    )
    for worker in workers:
        worker.join(30)
    assert logouts == [303]
    _assert_logged_out_for_good(app, emulator, handle, cookie, issued)


def test_a_logout_that_cannot_get_the_lock_still_stops_the_refresh(
    app: Flask, client: FlaskClient, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refresher holds the lock for longer than logout waits (a slow Clerk): logout goes
    # ahead without it, and its tombstone tells the refresher not to store what it got.
    monkeypatch.setattr(sessions, "WAIT_SECONDS", 0.2)
    handle, cookie, issued, logouts = _race_logout_with_refresh(
        app, client, monkeypatch, lambda logout: logout()
    )
    assert logouts == [303]
    _assert_logged_out_for_good(app, emulator, handle, cookie, issued)


def test_a_logout_between_the_refreshers_check_and_its_write_is_undone(
    app: Flask, client: FlaskClient, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The narrowest window: the logout lands after the refresher looked for a tombstone and
    # before it stored the fresh record. The refresher looks again after writing.
    monkeypatch.setattr(sessions, "WAIT_SECONDS", 0.2)
    store = store_of(app)
    real_put = store.put
    pending: list[Callable[[], None]] = []

    def put(key: str, value: Any, ttl: int) -> None:
        if pending and key.startswith("clerk:session:"):
            pending.pop()()
        real_put(key, value, ttl)

    monkeypatch.setattr(store, "put", put)
    handle, cookie, issued, logouts = _race_logout_with_refresh(
        app, client, monkeypatch, pending.append
    )
    assert logouts == [303]
    _assert_logged_out_for_good(app, emulator, handle, cookie, issued)


# -- the store failing ---------------------------------------------------------------------
class BrokenStore:
    """A backend that is down: every call raises ``StoreError``."""

    def _fail(self, *args: Any) -> Any:
        raise StoreError("memory store: backend unavailable (test)")

    put = add = get = pop = delete = _fail


def test_store_failure_is_a_503_page_never_a_500(make_app: Callable[..., Flask]) -> None:
    app = make_app(CLERK_STORE=BrokenStore())
    client = app.test_client()
    page = client.get("/login", headers=HTML, follow_redirects=True)
    assert page.status_code == 503
    assert page.mimetype == "text/html" and page.headers["Retry-After"]
    assert b"temporarily unavailable" in page.data.lower()

    api = client.get("/login", headers={"Accept": "application/json"})
    assert api.status_code == 503
    assert api.json == {
        "error": "temporarily_unavailable",
        "error_description": "Sign-in is temporarily unavailable; try again shortly.",
    }

    cb = client.get("/auth/callback", query_string={"state": "s" * 43, "code": "c"})
    assert cb.status_code == 503

    with client.session_transaction() as session:
        session[SESSION_KEY] = "some-handle"
    assert client.get("/account", headers=HTML).status_code == 503
    assert client.post("/logout", headers={"Origin": BASE_URL}).status_code == 503


def test_store_failure_mid_flow(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = at_clerk(start_login(client))
    store = store_of(app)

    def down(*args: Any) -> Any:
        raise StoreError("memory store: backend unavailable (test)")

    monkeypatch.setattr(store, "put", down)  # the callback cannot write the session
    answer = callback(client, url)
    assert answer.status_code == 503
    assert handle_of(client) is None


# -- logs ----------------------------------------------------------------------------------
def test_no_token_code_verifier_or_secret_reaches_the_logs(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = [DEMO_CLIENT_SECRET, app.config["SECRET_KEY"]]
    url = at_clerk(start_login(client))
    state = query_of(url)["state"]
    transaction = store_of(app).get(transaction_key(state))
    assert isinstance(transaction, dict)
    # (state is not secret: it travels in the authorize URL, which the driver's HTTP log shows)
    secrets_seen += [query_of(url)["code"], transaction["verifier"]]
    callback(client, url)
    first = session_record(app, client)
    secrets_seen += [first["access_token"], first["refresh_token"]]
    move_clock(monkeypatch, DAY - 30)
    client.get("/account", headers=HTML)
    second = session_record(app, client)
    secrets_seen += [second["access_token"], second["refresh_token"]]
    handle = handle_of(client)
    assert handle is not None
    secrets_seen.append(handle)
    client.post("/logout", headers={"Origin": BASE_URL})
    client.get("/auth/callback", query_string={"state": state, "code": "c", "error": "x"})
    text = caplog.text
    assert caplog.records  # something was logged, so the check means something
    for value in secrets_seen:
        assert value not in text
