"""Calls to Clerk: what every upstream request carries, and what it never carries."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import responses

from flask_clerk_mcp.upstream import (
    ResponseTooLarge,
    Upstream,
    basic_auth_header,
    json_object,
    retry_after,
)

from .conftest import INTROSPECT, SECRET, USERINFO, active, bearer


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
    http = state.verifier.upstream
    oauth.exchange_code(
        state.settings, http, code="c", redirect_uri="https://x/cb", verifier="v" * 43
    )
    assert oauth.revoke(state.settings, http, "rt", "refresh_token")
    session = http.session()
    assert seen == [None]
    assert len(session.cookies) == 0


# -- the upstream room on its own: what the proxy and JWKS fetching will build on ---------
def _upstream(secret: str | None = SECRET) -> Upstream:
    return Upstream("client id", secret, (1.0, 2.0))


def test_post_form_authenticates_with_basic_credentials_form_encoded_first(clerk):
    clerk.add(responses.POST, "https://idp.test/token", json={})
    _upstream().post_form("https://idp.test/token", {"grant_type": "x"})
    request = clerk.calls[0].request
    assert request.headers["Authorization"] == basic_auth_header("client id", SECRET)
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"client+id:{SECRET}"
    assert request.body == "grant_type=x"
    assert request.req_kwargs["timeout"] == (1.0, 2.0)


def test_without_a_secret_the_client_id_goes_in_the_body(clerk):
    clerk.add(responses.POST, "https://idp.test/token", json={})
    _upstream(None).post_form("https://idp.test/token", {"token": "t"})
    request = clerk.calls[0].request
    assert "Authorization" not in request.headers
    assert request.body == "token=t&client_id=client+id"


def test_an_encoded_body_is_sent_as_is_with_credentials(clerk):
    clerk.add(responses.POST, "https://idp.test/token", json={})
    _upstream().post_form("https://idp.test/token", "a=1&b=2", timeout=(5.0, 5.0))
    request = clerk.calls[0].request
    assert request.body == "a=1&b=2"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.req_kwargs["timeout"] == (5.0, 5.0)


def test_get_as_bearer_and_capped_in_size(clerk):
    clerk.add(responses.GET, "https://client.test/doc", body="x" * 5000)
    small = _upstream().get("https://client.test/doc", max_bytes=5000)
    assert small.text == "x" * 5000
    with pytest.raises(ResponseTooLarge):
        _upstream().get("https://client.test/doc", max_bytes=4999)
    _upstream().get("https://client.test/doc", bearer="tok")
    assert clerk.calls[-1].request.headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize(
    ("body", "expected"),
    [('{"a": 1}', {"a": 1}), ("[1]", None), ("nope", None), ("[" * 100_000, None)],
)
def test_json_object_reader_never_raises(clerk, body, expected):
    clerk.add(responses.GET, "https://idp.test/x", body=body)
    assert json_object(_upstream().get("https://idp.test/x")) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("7", 7), ("0", 1), ("999", 60), ("soon", 5), (None, 5)]
)
def test_retry_after_is_bounded(clerk, value, expected):
    headers = {"Retry-After": value} if value is not None else {}
    clerk.add(responses.GET, "https://idp.test/x", status=429, headers=headers)
    assert retry_after(_upstream().get("https://idp.test/x")) == expected


def test_the_secret_stays_out_of_repr():
    assert SECRET not in repr(_upstream())


def test_redirects_are_never_followed(clerk):
    clerk.add(
        responses.GET, "https://idp.test/x", status=302, headers={"Location": "https://evil/"}
    )
    assert _upstream().get("https://idp.test/x").status_code == 302
    assert len(clerk.calls) == 1
