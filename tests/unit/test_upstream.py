"""Calls to Clerk: what every upstream request carries, and what it never carries."""

from __future__ import annotations

import json
from typing import Any

import responses

from .conftest import INTROSPECT, USERINFO, active, bearer


def test_a_cookie_set_for_one_user_never_reaches_another_users_calls(make_app, clerk):
    """An IdP that sets a cookie while answering for alice must not see it on bob's calls:
    the per-thread session is shared by every user that thread serves."""
    app = make_app({"CLERK_CACHE_TTL": 0})
    seen_cookies: list[str | None] = []

    def introspect(request: Any) -> tuple[int, dict[str, str], str]:
        seen_cookies.append(request.headers.get("Cookie"))
        token = request.body.split("token=")[1].split("&")[0]
        user = "user_alice" if token == "alice-token" else "user_bob"
        headers = {"Set-Cookie": f"idp_session={user}; Path=/"}
        return 200, headers, json.dumps(active(sub=user))

    def userinfo(request: Any) -> tuple[int, dict[str, str], str]:
        seen_cookies.append(request.headers.get("Cookie"))
        user = "user_alice" if "alice" in request.headers["Authorization"] else "user_bob"
        return 200, {"Set-Cookie": f"profile={user}; Path=/"}, json.dumps({"sub": user})

    clerk.add_callback(responses.POST, INTROSPECT, callback=introspect)
    clerk.add_callback(responses.GET, USERINFO, callback=userinfo)
    client = app.test_client()
    assert client.post("/mcp", headers=bearer("alice-token")).status_code == 200
    assert client.post("/mcp", headers=bearer("bob-token")).status_code == 200
    assert len(seen_cookies) == 4
    assert seen_cookies == [None, None, None, None]
    session = app.extensions["clerk_mcp"].verifier.session()
    assert len(session.cookies) == 0


def test_the_login_token_calls_keep_no_cookie_either(app, clerk):
    """The code exchange, refresh and revocation share the same per-thread session."""
    from flask_clerk_mcp.login import oauth

    state = app.extensions["clerk_mcp"]
    token_url = state.settings.token_endpoint
    clerk.add(
        responses.POST,
        token_url,
        json={"access_token": "at", "token_type": "Bearer", "expires_in": 60},
        headers={"Set-Cookie": "idp_session=alice; Path=/"},
    )
    seen: list[str | None] = []

    def revoke(request: Any) -> tuple[int, dict[str, str], str]:
        seen.append(request.headers.get("Cookie"))
        return 200, {}, "{}"

    clerk.add_callback(responses.POST, state.settings.revocation_endpoint, callback=revoke)
    session = state.verifier.session()
    oauth.exchange_code(
        state.settings, session, code="c", redirect_uri="https://x/cb", verifier="v" * 43
    )
    assert oauth.revoke(state.settings, session, "rt", "refresh_token")
    assert seen == [None]
    assert len(session.cookies) == 0
