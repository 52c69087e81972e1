"""``/oauth/token``: the code grant (single use, PKCE, client and redirect checks), the
refresh grant (binding, concurrency, grace window), and the shape of every error."""

from __future__ import annotations

import threading
import time

import pytest

from flask_clerk_mcp.emulator.controls import Fault
from flask_clerk_mcp.store import MemoryStore
from tests.login.conftest import counters, introspect
from tests.mcp.flow import (
    Authorization,
    authorization_code,
    bearer,
    log_in,
    redeem,
    refresh,
    register,
)
from tests.support.clock import FakeClock


def oauth_error(response, error, status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["error"] == error
    return body


@pytest.fixture
def auth(browser):
    return Authorization(register(browser)["client_id"])


@pytest.fixture
def code(browser, auth):
    return authorization_code(browser, auth)


# -- authorization_code ----------------------------------------------------------------------
def test_a_code_is_redeemed_once(browser, auth, code):
    assert redeem(browser, auth, code).status_code == 200
    oauth_error(redeem(browser, auth, code), "invalid_grant")


def test_two_concurrent_redemptions_exactly_one_wins(proxy_app, auth, code):
    barrier = threading.Barrier(2)
    results: list[int] = []

    def redeem_once() -> None:
        client = proxy_app.test_client()
        barrier.wait()
        results.append(redeem(client, auth, code).status_code)

    threads = [threading.Thread(target=redeem_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 400]


def test_pkce_mismatch_is_invalid_grant_and_burns_the_code(browser, auth, code):
    other_verifier = "x" * 64
    oauth_error(redeem(browser, auth, code, code_verifier=other_verifier), "invalid_grant")
    oauth_error(redeem(browser, auth, code), "invalid_grant")  # no second guess


@pytest.mark.parametrize("verifier", [None, "", "short", "é" * 50])
def test_missing_or_malformed_verifier_is_refused(browser, auth, code, verifier):
    response = redeem(browser, auth, code, code_verifier=verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] in ("invalid_request", "invalid_grant")


def test_a_code_for_another_client_is_refused(browser, auth, code):
    other = register(browser)["client_id"]
    oauth_error(redeem(browser, auth, code, client_id=other), "invalid_grant")


def test_a_different_redirect_uri_is_refused(browser, auth, code):
    response = redeem(browser, auth, code, redirect_uri="http://127.0.0.1:9/callback")
    oauth_error(response, "invalid_grant")


def test_redirect_uri_must_be_sent_when_it_was_at_authorize(browser, auth, code):
    oauth_error(redeem(browser, auth, code, redirect_uri=None), "invalid_grant")


def test_a_resource_for_another_server_is_refused(browser, auth, code):
    response = redeem(browser, auth, code, resource="https://other.example/mcp")
    oauth_error(response, "invalid_target")


def test_an_unknown_code_is_invalid_grant(browser, auth):
    oauth_error(redeem(browser, auth, "not-a-code"), "invalid_grant")


def test_unknown_client_is_401_invalid_client(browser, auth, code):
    response = redeem(browser, auth, code, client_id="mcp_" + "y" * 32)
    oauth_error(response, "invalid_client", 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_client_secret_is_refused(browser, auth, code):
    oauth_error(redeem(browser, auth, code, client_secret="s3cret"), "invalid_client", 401)


def test_client_id_in_basic_without_password_is_understood(browser, auth, code):
    import base64

    basic = base64.b64encode(f"{auth.client_id}:".encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": auth.redirect_uri,
        "code_verifier": auth.verifier,
    }
    response = browser.post("/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.get_json()


# -- request shape ---------------------------------------------------------------------------
def test_errors_are_json_never_html(browser):
    oauth_error(browser.get("/oauth/token"), "invalid_request", 405)
    oauth_error(browser.post("/oauth/token", json={"grant_type": "x"}), "invalid_request")
    oauth_error(browser.post("/oauth/token", data={"client_id": "x"}), "invalid_client", 401)


def test_grant_type_is_checked(browser, auth):
    base = {"client_id": auth.client_id}
    oauth_error(browser.post("/oauth/token", data=base), "invalid_request")
    oauth_error(
        browser.post("/oauth/token", data={**base, "grant_type": "password"}),
        "unsupported_grant_type",
    )


def test_repeated_parameters_are_refused(browser, auth):
    body = f"grant_type=authorization_code&client_id={auth.client_id}&code=a&code=b"
    response = browser.post(
        "/oauth/token", data=body, content_type="application/x-www-form-urlencoded"
    )
    oauth_error(response, "invalid_request")


def test_an_oversized_body_is_refused(browser, auth):
    response = browser.post("/oauth/token", data={"client_id": auth.client_id, "x": "y" * 20000})
    oauth_error(response, "invalid_request", 413)


def test_token_endpoint_answers_cors(browser):
    preflight = browser.options("/oauth/token", headers={"Origin": "http://localhost:6274"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    error = browser.post("/oauth/token", data={})
    assert error.headers["Access-Control-Allow-Origin"] == "*"


def test_clerk_unavailable_at_the_callback_is_temporarily_unavailable(browser, emulator, auth):
    from tests.mcp.flow import approve, client_redirect, through_clerk

    clerk_url = approve(browser, auth)
    emulator.emulator.controls.add_fault("token", Fault("500"), 1)
    answer = client_redirect(through_clerk(browser, clerk_url), auth)
    assert answer["error"] == "temporarily_unavailable"
    assert answer["state"] == auth.state


# -- refresh_token ---------------------------------------------------------------------------
def test_refresh_token_of_another_client_is_refused(browser):
    _, tokens = log_in(browser)
    thief = register(browser)["client_id"]
    oauth_error(refresh(browser, thief, tokens["refresh_token"]), "invalid_grant")


def test_unknown_refresh_token_is_invalid_grant(browser, auth):
    oauth_error(refresh(browser, auth.client_id, "not-a-token"), "invalid_grant")


def test_refresh_with_a_resource_for_another_server_is_refused(browser):
    auth, tokens = log_in(browser)
    response = refresh(
        browser, auth.client_id, tokens["refresh_token"], resource="https://x.example"
    )
    oauth_error(response, "invalid_target")


def test_a_client_without_the_refresh_grant_may_not_refresh(browser):
    auth, tokens = log_in(browser, grant_types=["authorization_code"])
    response = refresh(browser, auth.client_id, tokens.get("refresh_token", "x"))
    oauth_error(response, "unauthorized_client")


def test_a_replay_within_the_grace_window_gets_the_same_new_pair(browser, emulator):
    auth, tokens = log_in(browser)
    first = refresh(browser, auth.client_id, tokens["refresh_token"]).get_json()
    calls = counters(emulator)["token"]
    again = refresh(browser, auth.client_id, tokens["refresh_token"])
    assert again.status_code == 200
    assert again.get_json()["access_token"] == first["access_token"]
    assert again.get_json()["refresh_token"] == first["refresh_token"]
    assert counters(emulator)["token"] == calls  # no second rotation at Clerk
    # and the new refresh token works on its own
    assert refresh(browser, auth.client_id, first["refresh_token"]).status_code == 200


def test_the_grace_pair_goes_only_to_the_bound_client(browser):
    auth, tokens = log_in(browser)
    assert refresh(browser, auth.client_id, tokens["refresh_token"]).status_code == 200
    thief = register(browser)["client_id"]
    oauth_error(refresh(browser, thief, tokens["refresh_token"]), "invalid_grant")


def test_after_the_grace_window_a_replay_is_refused(make_proxy_app):
    clock = FakeClock(time.time())
    app = make_proxy_app(CLERK_STORE=MemoryStore(clock=clock), CLERK_REFRESH_GRACE=5)
    browser = app.test_client()
    auth, tokens = log_in(browser)
    assert refresh(browser, auth.client_id, tokens["refresh_token"]).status_code == 200
    clock.advance(6)
    oauth_error(refresh(browser, auth.client_id, tokens["refresh_token"]), "invalid_grant")


def test_with_grace_off_a_replay_is_refused(make_proxy_app):
    browser = make_proxy_app(CLERK_REFRESH_GRACE=0).test_client()
    auth, tokens = log_in(browser)
    assert refresh(browser, auth.client_id, tokens["refresh_token"]).status_code == 200
    oauth_error(refresh(browser, auth.client_id, tokens["refresh_token"]), "invalid_grant")


def concurrent_refreshes(app, client_id: str, token: str, n: int = 2) -> list:
    barrier = threading.Barrier(n)
    answers: list = []

    def run() -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(refresh(client, client_id, token))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_refreshes_of_one_token_all_succeed_with_one_rotation(proxy_app, emulator):
    browser = proxy_app.test_client()
    auth, tokens = log_in(browser)
    emulator.emulator.controls.set_latency(300)  # the winner is still at Clerk when others come
    calls = counters(emulator)["token"]
    answers = concurrent_refreshes(proxy_app, auth.client_id, tokens["refresh_token"], 3)
    emulator.emulator.controls.set_latency(0)
    assert [a.status_code for a in answers] == [200, 200, 200]
    pairs = {(a.get_json()["access_token"], a.get_json()["refresh_token"]) for a in answers}
    assert len(pairs) == 1
    assert counters(emulator)["token"] == calls + 1
    access, _ = pairs.pop()
    assert browser.get("/api/me", headers=bearer(access)).status_code == 200


def test_concurrent_refreshes_without_grace_lose_one(make_proxy_app, emulator):
    app = make_proxy_app(CLERK_REFRESH_GRACE=0)
    auth, tokens = log_in(app.test_client())
    emulator.emulator.controls.set_latency(200)
    answers = concurrent_refreshes(app, auth.client_id, tokens["refresh_token"])
    emulator.emulator.controls.set_latency(0)
    assert sorted(a.status_code for a in answers) == [200, 400]


def test_clerk_refusing_a_refresh_is_invalid_grant(browser, emulator):
    auth, tokens = log_in(browser)
    revoked = browser.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "client_id": auth.client_id},
    )
    assert revoked.status_code == 200
    assert introspect(emulator, tokens["refresh_token"], "refresh_token")["active"] is False
    oauth_error(refresh(browser, auth.client_id, tokens["refresh_token"]), "invalid_grant")


def test_clerk_unavailable_at_refresh_is_503_and_keeps_the_token(browser, emulator):
    auth, tokens = log_in(browser)
    emulator.emulator.controls.add_fault("token", Fault("500"), 1)
    oauth_error(
        refresh(browser, auth.client_id, tokens["refresh_token"]), "temporarily_unavailable", 503
    )
    assert refresh(browser, auth.client_id, tokens["refresh_token"]).status_code == 200
