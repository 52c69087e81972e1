"""The proxy end to end against the emulator: DCR → authorize → consent → Clerk sign-in →
callback → token → a request the decorator verifies with Clerk; then refresh and revoke."""

from __future__ import annotations

from tests.login.conftest import BASE_URL, counters, introspect
from tests.mcp.flow import (
    RESOURCE,
    Authorization,
    approve,
    authorization_code,
    bearer,
    client_redirect,
    log_in,
    redeem,
    refresh,
    register,
    through_clerk,
)


def test_full_flow_gives_clerk_tokens_the_decorator_accepts(browser, emulator):
    _auth, tokens = log_in(browser)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0 and tokens["refresh_token"]
    assert set(tokens["scope"].split()) >= {"openid", "email", "profile"}
    me = browser.get("/api/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["subject"].startswith("user_2alice")
    # Clerk's own token, issued to this server's Clerk application (passed through).
    answer = introspect(emulator, tokens["access_token"])
    assert answer["active"] is True and answer["client_id"] == "emu_client_demo"


def test_resource_is_forwarded_to_clerk_and_binds_the_jwt_audience(browser):
    import jwt

    _, tokens = log_in(browser)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["aud"] == RESOURCE


def test_without_resource_nothing_is_forwarded(browser):
    import jwt

    auth = Authorization(register(browser)["client_id"], resource=None)
    answer = redeem(browser, auth, authorization_code(browser, auth))
    claims = jwt.decode(answer.get_json()["access_token"], options={"verify_signature": False})
    assert "aud" not in claims


def test_the_clerk_request_carries_our_own_pkce_and_a_transaction_state(browser):
    from urllib.parse import parse_qs, urlsplit

    auth = Authorization(register(browser)["client_id"])
    clerk_url = approve(browser, auth)
    query = {k: v[0] for k, v in parse_qs(urlsplit(clerk_url).query).items()}
    assert clerk_url.startswith(browser.application.config["CLERK_ISSUER_URL"])
    assert query["client_id"] == "emu_client_demo"
    assert query["redirect_uri"] == BASE_URL + "/auth/callback"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] != auth.challenge  # the proxy's pair, not the client's
    assert query["state"] != auth.state
    assert query["resource"] == RESOURCE


def test_the_callback_redirect_carries_code_state_and_iss(browser):
    auth = Authorization(register(browser)["client_id"])
    answer = client_redirect(through_clerk(browser, approve(browser, auth)), auth)
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == auth.state
    assert answer["iss"] == BASE_URL


def test_a_loopback_port_may_vary_from_the_registered_one(browser):
    auth = Authorization(
        register(browser)["client_id"], redirect_uri="http://127.0.0.1:40001/callback"
    )
    answer = redeem(browser, auth, authorization_code(browser, auth))
    assert answer.status_code == 200, answer.get_json()


def test_refresh_forwards_to_clerk_and_rotates(browser, emulator):
    auth, tokens = log_in(browser)
    answer = refresh(browser, auth.client_id, tokens["refresh_token"])
    assert answer.status_code == 200, answer.get_json()
    fresh = answer.get_json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] and fresh["refresh_token"] != tokens["refresh_token"]
    assert browser.get("/api/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert introspect(emulator, tokens["refresh_token"], "refresh_token")["active"] is False


def test_revoke_revokes_the_upstream_refresh_token_at_clerk(browser, emulator):
    auth, tokens = log_in(browser)
    before = counters(emulator).get("revoke", 0)
    answer = browser.post(
        "/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": auth.client_id,
        },
    )
    assert answer.status_code == 200 and answer.get_json() == {}
    assert counters(emulator)["revoke"] == before + 1
    assert introspect(emulator, tokens["refresh_token"], "refresh_token")["active"] is False
    refused = refresh(browser, auth.client_id, tokens["refresh_token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"


def test_revoke_revokes_the_access_token_and_it_stops_working(browser, emulator):
    auth, tokens = log_in(browser)
    assert browser.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 200
    answer = browser.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "client_id": auth.client_id}
    )
    assert answer.status_code == 200
    assert browser.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_login_and_proxy_share_the_one_callback_side_by_side(browser):
    from tests.login.conftest import sign_in

    signed_in = sign_in(browser)
    assert signed_in.status_code == 303
    assert browser.get("/account", headers={"Accept": "text/html"}).status_code == 200
    _auth, tokens = log_in(browser)
    assert browser.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert browser.get("/account", headers={"Accept": "text/html"}).status_code == 200
