"""The login flow against the emulator: the happy path and every refusal of the callback."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.login.sessions import SESSION_KEY
from flask_clerk_mcp.login.transactions import TRANSACTION_TTL, transaction_key
from flask_clerk_mcp.store import MemoryStore

from .conftest import (
    BASE_URL,
    HTML,
    Recorded,
    at_clerk,
    binding_of,
    callback,
    counters,
    flask_session,
    handle_of,
    query_of,
    record_of,
    sign_in,
    start_login,
    store_of,
    with_query,
)


# -- happy path ----------------------------------------------------------------------------
def test_login_signs_the_browser_in_and_shows_the_user(
    app: Flask, client: FlaskClient, recorded: Recorded
) -> None:
    answer = client.get("/account", headers=HTML)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/account"

    done = sign_in(client)
    assert done.status_code == 303
    assert done.headers["Location"] == "/account"

    page = client.get("/account", headers=HTML)
    assert page.status_code == 200
    assert b"alice@example.com" in page.data
    assert [event["token"].claims["email"] for event in recorded.login_completed] == [
        "alice@example.com"
    ]


def test_the_cookie_holds_only_an_opaque_handle(app: Flask, client: FlaskClient) -> None:
    done = sign_in(client)
    set_cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie  # CLERK_BASE_URL is plain http on loopback
    assert set(flask_session(client)) == {SESSION_KEY}
    handle = handle_of(client)
    assert handle is not None and len(handle) >= 43
    record = record_of(app, handle)
    assert record is not None
    # the emulator issues JWT access tokens by default, as Clerk's new OAuth apps do
    assert jwt.get_unverified_header(record["access_token"])["typ"] == "at+jwt"
    assert record["refresh_token"]
    cookie = client.get_cookie("session")
    assert cookie is not None
    payload = cookie.value.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert record["access_token"].encode() not in decoded
    assert record["refresh_token"].encode() not in decoded


def test_a_bearer_only_route_never_accepts_the_cookie(client: FlaskClient) -> None:
    sign_in(client)
    assert client.get("/account", headers=HTML).status_code == 200
    for headers in (HTML, {"Accept": "application/json"}):
        answer = client.get("/api/me", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert answer.json is not None


def test_the_session_token_also_works_as_a_bearer_token(app: Flask, client: FlaskClient) -> None:
    sign_in(client)
    handle = handle_of(client)
    assert handle is not None
    record = record_of(app, handle)
    assert record is not None
    fresh = app.test_client()
    answer = fresh.get("/api/me", headers={"Authorization": f"Bearer {record['access_token']}"})
    assert answer.status_code == 200
    assert answer.json == {"subject": "user_2alice000000000000000000000"}


def test_the_authorization_request(client: FlaskClient) -> None:
    url = start_login(client)
    params = query_of(url)
    assert url.startswith(f"{client.application.config['CLERK_ISSUER_URL']}/oauth/authorize?")
    assert params["response_type"] == "code"
    assert params["client_id"] == "emu_client_demo"
    assert params["redirect_uri"] == f"{BASE_URL}/auth/callback"
    assert params["scope"].split() == ["openid", "email", "profile", "offline_access"]
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 43
    assert len(base64.urlsafe_b64decode(params["code_challenge"] + "=")) == 32
    assert "nonce" not in params  # identity comes from introspection + userinfo


def test_the_verifier_is_ours_and_matches_the_challenge(app: Flask, client: FlaskClient) -> None:
    params = query_of(start_login(client))
    transaction = store_of(app).get(transaction_key(params["state"]))
    assert isinstance(transaction, dict)
    assert transaction["kind"] == "login"
    assert transaction["binding"] == binding_of(client)
    digest = hashlib.sha256(transaction["verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]


def test_without_offline_access_no_refresh_token_is_asked_for(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(CLERK_OFFLINE_ACCESS=False)
    client = app.test_client()
    assert query_of(start_login(client))["scope"].split() == ["openid", "email", "profile"]
    assert sign_in(client).status_code == 303
    handle = handle_of(client)
    assert handle is not None
    record = record_of(app, handle)
    assert record is not None and record["refresh_token"] is None


def test_iss_equal_to_the_issuer_is_accepted(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    url = at_clerk(start_login(client))
    issuer = client.application.config["CLERK_ISSUER_URL"]
    assert callback(client, with_query(url, iss=issuer)).status_code == 303


def test_pages_are_not_cached_framed_or_referred(client: FlaskClient) -> None:
    page = client.get("/logout")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "same-origin"


# -- refusals ------------------------------------------------------------------------------
def assert_refused(answer: object, client: FlaskClient, status: int = 400) -> None:
    assert getattr(answer, "status_code", None) == status
    assert handle_of(client) is None
    assert client.get("/account", headers=HTML).status_code == 302


def test_state_mismatch_is_refused(emulator: EmulatorServer, client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    before = counters(emulator).get("token", 0)
    answer = callback(client, with_query(url, state="x" * 43))
    assert_refused(answer, client)
    assert b"unknown, expired or was already used" in answer.data
    assert counters(emulator).get("token", 0) == before  # the code was never exchanged


def test_missing_state_is_refused(client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    code = query_of(url)["code"]
    assert_refused(client.get("/auth/callback", query_string={"code": code}), client)


def test_state_replay_is_refused(app: Flask, client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    assert callback(client, url).status_code == 303
    first = handle_of(client)
    replay = callback(client, url)
    assert replay.status_code == 400
    assert handle_of(client) == first  # the replay changed nothing
    other = app.test_client()
    assert_refused(callback(other, url), other)


def test_a_forged_state_finds_no_transaction(client: FlaskClient) -> None:
    start_login(client)
    answer = client.get(
        "/auth/callback", query_string={"state": "forged-" + "a" * 40, "code": "c"}, headers=HTML
    )
    assert_refused(answer, client)


def test_a_transaction_without_verifier_is_refused(
    emulator: EmulatorServer, app: Flask, client: FlaskClient
) -> None:
    url = at_clerk(start_login(client))
    state = query_of(url)["state"]
    store = store_of(app)
    store.put(
        transaction_key(state),
        {"kind": "login", "binding": binding_of(client), "next": "/"},
        60,
    )
    before = counters(emulator).get("token", 0)
    answer = callback(client, url)
    assert_refused(answer, client)
    assert b"lost its key" in answer.data
    assert counters(emulator).get("token", 0) == before


def test_a_transaction_of_unknown_kind_is_refused(app: Flask, client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    state = query_of(url)["state"]
    store_of(app).put(
        transaction_key(state), {"kind": "mystery", "binding": binding_of(client)}, 60
    )
    assert_refused(callback(client, url), client)


def test_a_login_started_in_another_browser_is_refused(app: Flask) -> None:
    attacker = app.test_client()
    victim = app.test_client()
    victim.get("/login")  # the victim has a browser nonce of their own
    url = at_clerk(start_login(attacker), user="bob")
    answer = callback(victim, url)
    assert_refused(answer, victim)
    assert b"another browser" in answer.data
    # consumed by the refusal: the attacker cannot use it either
    assert_refused(callback(attacker, url), attacker)


def test_a_browser_without_any_nonce_is_refused(app: Flask) -> None:
    url = at_clerk(start_login(app.test_client()))
    stranger = app.test_client()
    assert_refused(callback(stranger, url), stranger)


def test_a_wrong_iss_is_refused(emulator: EmulatorServer, client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    before = counters(emulator).get("token", 0)
    answer = callback(client, with_query(url, iss="https://evil.example"))
    assert_refused(answer, client)
    assert b"unexpected issuer" in answer.data
    assert counters(emulator).get("token", 0) == before


def test_access_denied_is_shown_and_never_acted_on(
    emulator: EmulatorServer, client: FlaskClient
) -> None:
    url = at_clerk(start_login(client), approve=False)
    assert query_of(url)["error"] == "access_denied"
    hostile = with_query(url, error_description="<script>alert('pwned')</script> call 555")
    before = counters(emulator).get("token", 0)
    answer = callback(client, hostile)
    assert_refused(answer, client, status=403)
    assert answer.mimetype == "text/html"
    assert b"You declined to sign in" in answer.data
    assert b"access_denied" in answer.data
    assert b"pwned" not in answer.data and b"555" not in answer.data
    assert counters(emulator).get("token", 0) == before
    # the transaction is spent: the same state cannot be used again
    again = client.get(
        "/auth/callback", query_string={"state": query_of(url)["state"], "code": "c"}
    )
    assert again.status_code == 400
    assert b"unknown, expired or was already used" in again.data


def test_an_unknown_error_code_is_shown_generically(client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    answer = callback(client, with_query(url, error="<b>weird</b>"))
    assert answer.status_code == 400
    assert b"<b>weird" not in answer.data
    assert b"invalid_request" in answer.data


def test_a_code_clerk_refuses_is_an_error_page(client: FlaskClient) -> None:
    url = at_clerk(start_login(client))
    answer = callback(client, with_query(url, code="not-a-code"))
    assert_refused(answer, client)
    assert b"refused the sign-in" in answer.data


def test_a_transaction_expires_after_ten_minutes(make_app: Callable[..., Flask]) -> None:
    now = [1_000_000.0]
    app = make_app(CLERK_STORE=MemoryStore(clock=lambda: now[0]))
    client = app.test_client()
    url = at_clerk(start_login(client))
    now[0] += TRANSACTION_TTL + 1
    assert_refused(callback(client, url), client)


HOSTILE_NEXT = [
    "//evil.example/",
    "/\\evil.example",
    "https://evil.example/",
    "/%2f%2fevil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_open_redirects_through_next_are_refused(
    app: Flask, client: FlaskClient, target: str
) -> None:
    done = sign_in(client, next_target=target)
    assert done.status_code == 303
    assert done.headers["Location"] == "/"


def test_a_relative_next_with_query_is_kept(client: FlaskClient) -> None:
    done = sign_in(client, next_target="/account?tab=keys#top")
    assert done.headers["Location"] == "/account?tab=keys#top"


# -- session fixation ------------------------------------------------------------------------
def test_the_session_id_rotates_at_login(app: Flask, client: FlaskClient) -> None:
    sign_in(client)
    first = handle_of(client)
    assert first is not None and record_of(app, first) is not None
    sign_in(client, user="bob")
    second = handle_of(client)
    assert second is not None and second != first
    assert record_of(app, first) is None  # the old server-side session is gone
    assert b"bob@example.com" in client.get("/account", headers=HTML).data


def test_a_planted_session_is_replaced_at_login(app: Flask, client: FlaskClient) -> None:
    planted = "attacker-chosen-handle"
    store_of(app).put(
        f"clerk:session:{planted}",
        {"access_token": "oat_PLANTED", "refresh_token": None, "expires_at": None},
        600,
    )
    with client.session_transaction() as session:
        session[SESSION_KEY] = planted
        session["app_data"] = "set before login"
    sign_in(client)
    after = flask_session(client)
    assert after[SESSION_KEY] != planted
    assert "app_data" not in after  # the whole pre-login session is dropped
    assert store_of(app).get(f"clerk:session:{planted}") is None


def test_signals_carry_no_raw_secrets_in_repr(client: FlaskClient, recorded: Recorded) -> None:
    sign_in(client)
    token = recorded.login_completed[0]["token"]
    assert token.token not in repr(token)
    assert json.dumps(dict(token.claims), default=str).find(token.token) == -1


# -- what anonymous /login can make the server store (issue 8 item 6) ------------------------
def test_a_client_that_keeps_no_cookie_stores_nothing(app: Flask) -> None:
    cookieless = app.test_client(use_cookies=False)
    for _ in range(50):
        answer = cookieless.get("/login?next=/account")
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/login?next=/account&cookie_check=1"
    assert len(store_of(app)) == 0


def test_a_browser_with_cookies_off_gets_a_page_not_a_loop(app: Flask) -> None:
    cookieless = app.test_client(use_cookies=False)
    answer = cookieless.get("/login?next=/account&cookie_check=1", headers=HTML)
    assert answer.status_code == 400
    assert b"needs cookies" in answer.data
    assert len(store_of(app)) == 0


def test_one_browser_holds_at_most_three_pending_logins(app: Flask, client: FlaskClient) -> None:
    urls = [start_login(client) for _ in range(10)]
    assert len(store_of(app)) == 3
    states = [query_of(url)["state"] for url in urls]
    assert [store_of(app).get(transaction_key(s)) is not None for s in states] == [False] * 7 + [
        True
    ] * 3
    # the newest still completes; an evicted one is refused
    assert_refused(callback(client, at_clerk(urls[0])), client)
    assert callback(client, at_clerk(urls[-1])).status_code == 303


def test_a_browser_sent_from_a_protected_page_goes_to_clerk_in_one_hop(client: FlaskClient) -> None:
    to_login = client.get("/account", headers=HTML)
    assert to_login.headers["Location"] == "/login?next=/account"
    to_clerk = client.get(to_login.headers["Location"])
    assert to_clerk.status_code == 302
    assert "/oauth/authorize?" in to_clerk.headers["Location"]
