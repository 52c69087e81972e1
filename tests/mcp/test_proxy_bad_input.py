"""Whatever arrives at the proxy's endpoints, the answer is a clear 4xx, never a 500; and the
JSON endpoints never answer HTML."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.login.conftest import build_app

NAMES = st.sampled_from(
    [
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "response_type",
        "scope",
        "resource",
        "prompt",
        "grant_type",
        "code",
        "code_verifier",
        "refresh_token",
        "token",
        "token_type_hint",
        "client_secret",
        "request",
        "csrf_token",
        "action",
    ]
)
VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "code",
            "S256",
            "authorization_code",
            "refresh_token",
            "approve",
            "https://127.0.0.1:1/x",
            "mcp_" + "a" * 32,
            "\x00",
            "%",
            "é" * 3,
        ]
    ),
)
PARAMS = st.lists(st.tuples(NAMES, VALUES), max_size=8)

# Clerk is never reached by junk (nothing listens on port 9 anyway).
APP = build_app("http://127.0.0.1:9", CLERK_MCP_MODE="proxy")


def _check(response: Any, json_only: bool) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if json_only:
        assert response.mimetype == "application/json"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=PARAMS)
def test_authorize_never_fails(params: list[tuple[str, str]]) -> None:
    _check(APP.test_client().get("/oauth/authorize", query_string=params), json_only=False)


@settings(max_examples=60, deadline=None)
@given(params=PARAMS, path=st.sampled_from(["/oauth/token", "/oauth/revoke"]))
def test_token_and_revoke_never_fail(params: list[tuple[str, str]], path: str) -> None:
    _check(APP.test_client().post(path, data=MultiDict(params)), json_only=True)


@settings(max_examples=40, deadline=None)
@given(params=PARAMS)
def test_consent_never_fails(params: list[tuple[str, str]]) -> None:
    _check(APP.test_client().post("/oauth/consent", data=MultiDict(params)), json_only=False)


@settings(max_examples=60, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
            lambda inner: st.one_of(
                st.lists(inner, max_size=4),
                st.dictionaries(st.text(max_size=15), inner, max_size=5),
            ),
            max_leaves=12,
        ),
    )
)
def test_register_never_fails(body: Any) -> None:
    client = APP.test_client()
    if isinstance(body, bytes):
        response = client.post("/oauth/register", data=body, content_type="application/json")
    else:
        response = client.post("/oauth/register", json=body)
    _check(response, json_only=True)


def test_register_with_junk_fields_of_the_right_names() -> None:
    client = APP.test_client()
    for body in (
        {"redirect_uris": "http://127.0.0.1:1/cb"},
        {"redirect_uris": [None]},
        {"redirect_uris": ["http://127.0.0.1:1/cb"], "grant_types": "authorization_code"},
        {"redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": {"x": 1}},
        {"redirect_uris": ["http://127.0.0.1:1/cb"], "scope": ["openid"]},
    ):
        response = client.post("/oauth/register", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")
