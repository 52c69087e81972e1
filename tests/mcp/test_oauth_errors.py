"""RFC 6749 error answers: JSON bodies with the right status, and authorization redirects."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_clerk_mcp.mcp.oauth_errors import (
    OAuthError,
    append_query,
    authorization_error_redirect,
    authorization_redirect,
    clean_description,
    error_response,
    json_response,
)

ISSUER = "https://mcp.example.com"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("invalid_request", 400),
        ("invalid_client", 401),
        ("invalid_grant", 400),
        ("unauthorized_client", 400),
        ("unsupported_grant_type", 400),
        ("invalid_scope", 400),
        ("invalid_redirect_uri", 400),
        ("invalid_client_metadata", 400),
        ("unsupported_token_type", 400),
        ("invalid_target", 400),
        ("temporarily_unavailable", 503),
        ("some_extension_error", 400),
    ],
)
def test_error_response_status_and_body(code, status):
    response = error_response(code, "what went wrong")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == {
        "error": code,
        "error_description": "what went wrong",
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_invalid_client_carries_a_challenge():
    response = error_response(OAuthError("invalid_client", "unknown client"), realm="mcp")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="mcp"'
    assert "WWW-Authenticate" not in error_response("invalid_grant").headers


def test_no_description_no_field():
    body = json.loads(error_response("invalid_grant").get_data())
    assert body == {"error": "invalid_grant"}


def test_status_override():
    exc = OAuthError("invalid_client", "bad", status=400)
    assert error_response(exc).status_code == 400


@pytest.mark.parametrize("code", ["", 'in"valid', "with space", "back\\slash", "é"])
def test_error_codes_are_checked(code):
    with pytest.raises(ValueError, match="error code"):
        OAuthError(code)


def test_descriptions_are_cleaned_and_bounded():
    exc = OAuthError("invalid_request", 'bad "name" \\ \n é' + "x" * 400)
    assert exc.description.startswith("bad ?name? ? ? ?x")
    assert len(exc.description) == 300
    assert exc.description.endswith("...")
    assert str(exc).startswith("invalid_request: bad")


@given(st.text())
def test_cleaned_descriptions_use_only_allowed_characters(text):
    cleaned = clean_description(text)
    assert len(cleaned) <= 300
    assert all(c == " " or ("\x21" <= c <= "\x7e" and c not in '"\\') for c in cleaned)


def test_json_response_extra_headers():
    response = json_response({"client_id": "x"}, 201, {"Location": "/register/x"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/register/x"
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.get_data()) == {"client_id": "x"}


# -- redirects --------------------------------------------------------------------------------


def _query(location: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(location).query, keep_blank_values=True)


def test_error_redirect_carries_error_state_and_iss():
    response = authorization_error_redirect(
        "http://127.0.0.1:5000/callback",
        "access_denied",
        "the user said no",
        state="st&a=te ü",
        issuer=ISSUER,
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://127.0.0.1:5000/callback?")
    assert _query(location) == [
        ("error", "access_denied"),
        ("error_description", "the user said no"),
        ("state", "st&a=te ü"),
        ("iss", ISSUER),
    ]
    assert "%20" in location and "+" not in location
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_error_redirect_keeps_the_existing_query_and_drops_absent_state():
    response = authorization_error_redirect(
        "https://app.example.com/cb?tenant=a%20b&x",
        OAuthError("invalid_request", "PKCE S256 is required"),
        state=None,
        issuer=ISSUER,
    )
    location = response.headers["Location"]
    assert location.startswith("https://app.example.com/cb?tenant=a%20b&x&error=invalid_request&")
    names = [name for name, _ in _query(location)]
    assert names == ["tenant", "x", "error", "error_description", "iss"]


def test_error_redirect_without_description():
    location = authorization_error_redirect(
        "http://localhost/cb", "server_error", state="s", issuer=ISSUER
    ).headers["Location"]
    assert [name for name, _ in _query(location)] == ["error", "state", "iss"]


def test_success_redirect():
    response = authorization_redirect(
        "http://[::1]:9999/cb", {"code": "c0de", "state": "s", "iss": ISSUER}
    )
    assert response.headers["Location"] == (
        "http://[::1]:9999/cb?code=c0de&state=s&iss=https%3A%2F%2Fmcp.example.com"
    )


@given(
    st.sampled_from(["http://localhost:1/cb", "https://a.example/cb?x=1", "https://a.example"]),
    st.dictionaries(st.sampled_from(["code", "state", "iss"]), st.text(), min_size=1),
)
def test_append_query_round_trips(uri, params):
    result = append_query(uri, params)
    original = urlsplit(uri)
    assert result.startswith(f"{original.scheme}://{original.netloc}{original.path}?")
    pairs = _query(result)
    before = parse_qsl(original.query, keep_blank_values=True)
    assert pairs[: len(before)] == before
    assert dict(pairs[len(before) :]) == params
    assert "#" not in result
