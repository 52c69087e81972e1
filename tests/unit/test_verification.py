"""The verification contract: introspection is the gate, userinfo the profile."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses

from .conftest import (
    ALICE,
    CLIENT_ID,
    INTROSPECT,
    SECRET,
    TOKEN,
    USERINFO,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
    calls_to,
)


def test_introspection_then_userinfo_builds_the_access_token(app, clerk):
    answer_introspection(clerk, active(org_id="org_42"))
    answer_userinfo(clerk)

    response = app.test_client().post("/mcp", headers=bearer())

    assert response.status_code == 200
    body = response.get_json()
    assert body["subject"] == "user_alice"
    assert body["client_id"] == CLIENT_ID
    assert body["scopes"] == ["openid", "email", "profile"]
    assert body["expires_at"] is None  # Clerk gives no exp
    claims = body["claims"]
    for name in ("email", "email_verified", "name", "given_name", "family_name", "picture"):
        assert claims[name] == ALICE[name]
    assert claims["preferred_username"] == "alice"
    assert claims["org_id"] == "org_42"
    assert claims["clerk_user"] == ALICE
    assert [call.request.url for call in clerk.calls] == [INTROSPECT, USERINFO]


def test_introspection_request_form_and_basic_auth(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)

    app.test_client().post("/mcp", headers=bearer())

    request = clerk.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body) == {"token": [TOKEN], "token_type_hint": ["access_token"]}
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{CLIENT_ID}:{SECRET}"
    assert clerk.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_basic_auth_form_urlencodes_credentials_first(make_app, clerk):
    app = make_app({"CLERK_CLIENT_ID": "id:with space", "CLERK_CLIENT_SECRET": "p@ss:w/rd+"})
    answer_introspection(clerk, active(client_id="id:with space"))
    answer_userinfo(clerk)

    assert app.test_client().post("/mcp", headers=bearer()).status_code == 200

    encoded = clerk.calls[0].request.headers["Authorization"].split(" ", 1)[1]
    assert base64.b64decode(encoded).decode() == "id%3Awith+space:p%40ss%3Aw%2Frd%2B"


def test_without_secret_client_id_goes_in_the_body(make_app, clerk):
    with pytest.warns(UserWarning, match="CLERK_CLIENT_SECRET"):
        app = make_app({"CLERK_CLIENT_SECRET": None})
    answer_introspection(clerk)
    answer_userinfo(clerk)

    assert app.test_client().post("/mcp", headers=bearer()).status_code == 200

    request = clerk.calls[0].request
    assert "Authorization" not in request.headers
    assert parse_qs(request.body)["client_id"] == [CLIENT_ID]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, 401),
        (401, 503),
        (403, 503),
        (404, 503),
        (422, 503),
        (429, 503),
        (500, 503),
        (502, 503),
    ],
)
def test_every_introspection_status_maps_as_the_contract_says(app, clerk, status, expected):
    answer_introspection(clerk, {"error": "x"}, status=status)
    answer_userinfo(clerk)

    response = app.test_client().post("/mcp", headers=bearer())

    assert response.status_code == expected
    assert calls_to(clerk, USERINFO) == 0
    if expected == 503:
        assert response.headers["Retry-After"].isdigit()
        assert response.get_json()["error"] == "temporarily_unavailable"
    else:
        assert response.get_json()["error"] == "invalid_token"


def test_credentials_refused_is_logged_as_an_error_naming_the_keys(app, clerk, caplog):
    answer_introspection(clerk, {"error": "invalid_client"}, status=401)
    with caplog.at_level("INFO", logger="flask_clerk_mcp"):
        app.test_client().post("/mcp", headers=bearer())
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "CLERK_CLIENT_ID" in errors[0].getMessage()
    assert "CLERK_CLIENT_SECRET" in errors[0].getMessage()


def test_upstream_429_retry_after_is_passed_on(app, clerk):
    answer_introspection(clerk, "slow down", status=429, headers={"Retry-After": "17"})
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "17"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"client_id": CLIENT_ID, "sub": "user_alice", "scope": "openid email profile"}, "absent"),
        (active(active=False), "false"),
        (active(active="true"), "string"),
        (active(active=1), "one"),
    ],
)
def test_active_must_be_exactly_true(app, clerk, answer, reason):
    answer_introspection(clerk, answer)
    answer_userinfo(clerk)

    response = app.test_client().post("/mcp", headers=bearer())

    assert response.status_code == 401, reason
    assert response.get_json()["error"] == "invalid_token"
    assert calls_to(clerk, USERINFO) == 0


def test_expired_exp_is_rejected_and_future_exp_kept(app, clerk):
    answer_introspection(clerk, active(exp=int(time.time()) - 3600))
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401
    assert calls_to(clerk, USERINFO) == 0

    clerk.reset()
    later = int(time.time()) + 3600
    answer_introspection(clerk, active(exp=later))
    answer_userinfo(clerk)
    response = app.test_client().post("/mcp", headers=bearer("oat_other"))
    assert response.status_code == 200
    assert response.get_json()["expires_at"] == later


@pytest.mark.parametrize("bad", ["tomorrow", True, [1]])
def test_unreadable_exp_is_rejected(app, clerk, bad):
    answer_introspection(clerk, active(exp=bad))
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


@pytest.mark.parametrize(
    ("field", "offset", "status"),
    [("exp", -5, 200), ("exp", -15, 401), ("nbf", 5, 200), ("nbf", 15, 401)],
)
def test_exp_and_nbf_carry_ten_seconds_of_leeway(make_app, clerk, field, offset, status):
    """Clock skew between us and Clerk: the README's verification rules state this leeway."""
    app = make_app({"CLERK_CACHE_TTL": 0})
    answer_introspection(clerk, active(**{field: int(time.time()) + offset}))
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == status


def test_nbf_in_the_future_is_rejected(app, clerk):
    answer_introspection(clerk, active(nbf=int(time.time()) + 3600))
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


def test_refresh_token_type_is_rejected(app, clerk):
    answer_introspection(clerk, active(token_type="refresh_token"))
    answer_userinfo(clerk)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401
    assert calls_to(clerk, USERINFO) == 0


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"aud": CLIENT_ID, "client_id": "someone_else"}, 200),
        ({"aud": ["other", CLIENT_ID]}, 200),
        # The contract binds to client ids; a resource URL names no client we accept.
        ({"aud": "https://mcp.example.com/mcp", "client_id": "client_other"}, 401),
        ({"aud": "client_other"}, 401),
        ({"aud": ["a", "b"]}, 401),
        ({"aud": 42}, 401),
        ({"client_id": "client_other"}, 401),
        ({"client_id": None}, 401),
    ],
)
def test_audience_binding(app, clerk, fields, expected):
    answer_introspection(clerk, active(**fields))
    answer_userinfo(clerk)
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == expected
    if expected == 401:
        assert calls_to(clerk, USERINFO) == 0


def test_accepted_client_ids_list_and_wildcard(make_app, clerk):
    listed = make_app({"CLERK_ACCEPTED_CLIENT_IDS": "client_abc, client_dcr_1"})
    answer_introspection(clerk, active(client_id="client_dcr_1"))
    answer_userinfo(clerk)
    assert listed.test_client().post("/mcp", headers=bearer()).status_code == 200

    clerk.reset()
    anyone = make_app({"CLERK_ACCEPTED_CLIENT_IDS": "*"})
    answer_introspection(clerk, active(client_id="client_whatever"))
    answer_userinfo(clerk)
    assert anyone.test_client().post("/mcp", headers=bearer()).status_code == 200

    clerk.reset()
    answer_introspection(clerk, active(client_id=None))
    answer_userinfo(clerk)
    assert anyone.test_client().post("/mcp", headers=bearer("t2")).status_code == 401


def test_subject_from_userinfo_when_introspection_has_none(app, clerk):
    answer_introspection(clerk, active(sub=None))
    answer_userinfo(clerk)
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 200
    assert response.get_json()["subject"] == "user_alice"


def test_no_subject_anywhere_is_rejected(app, clerk):
    answer_introspection(clerk, active(sub=None))
    profile = {k: v for k, v in ALICE.items() if k not in ("sub",)}
    answer_userinfo(clerk, profile)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


def test_no_subject_and_userinfo_down_is_not_a_verdict(app, clerk):
    answer_introspection(clerk, active(sub=None))
    answer_userinfo(clerk, "oops", status=500)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 503


def test_userinfo_contradicting_subject_is_rejected(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk, {**ALICE, "sub": "user_mallory"})
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


def test_userinfo_401_catches_a_refresh_token(app, clerk):
    # Clerk's introspection calls a refresh token active; only userinfo tells them apart.
    answer_introspection(clerk)
    answer_userinfo(clerk, {"errors": [{"code": "authorization_invalid"}]}, status=401)
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "body": "boom"},
        {"body": requests.Timeout("read timed out")},
        {"body": requests.ConnectionError("refused")},
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 200, "body": "[1, 2]"},
        {"status": 403, "body": "{}"},
    ],
)
def test_userinfo_failure_keeps_the_token_with_empty_profile(app, clerk, failure):
    answer_introspection(clerk)
    clerk.add(responses.GET, USERINFO, **failure)
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 200
    claims = response.get_json()["claims"]
    assert claims["sub"] == "user_alice"
    assert "email" not in claims and "clerk_user" not in claims


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.Timeout("read timed out")},
        {"body": requests.ConnectionError("connection refused")},
        {"status": 200, "body": "<html><body>Clerk is down</body></html>"},
        {"status": 200, "body": "[]"},
        {"status": 200, "body": "null"},
        {"status": 503, "body": "unavailable"},
    ],
)
def test_introspection_failure_is_503_and_not_cached(app, clerk, failure):
    clerk.add(responses.POST, INTROSPECT, **failure)
    client = app.test_client()

    first = client.post("/mcp", headers=bearer())
    assert first.status_code == 503
    assert first.headers["Retry-After"].isdigit()
    assert "WWW-Authenticate" not in first.headers

    clerk.reset()
    answer_introspection(clerk)
    answer_userinfo(clerk)
    assert client.post("/mcp", headers=bearer()).status_code == 200  # nothing was cached
    assert calls_to(clerk, INTROSPECT) == 1


def test_upstream_failure_logs_one_warning_line(app, clerk, caplog):
    clerk.add(responses.POST, INTROSPECT, body=requests.ConnectionError("refused"))
    with caplog.at_level("INFO", logger="flask_clerk_mcp"):
        app.test_client().post("/mcp", headers=bearer())
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1


def test_timeouts_are_always_passed(make_app, clerk):
    app = make_app({"CLERK_TIMEOUT": "2 7"})
    seen: list[Any] = []

    def record(request: Any) -> tuple[int, dict[str, str], str]:
        seen.append(request.req_kwargs["timeout"])
        return 200, {}, '{"active": false}'

    clerk.add_callback(responses.POST, INTROSPECT, callback=record)
    app.test_client().post("/mcp", headers=bearer())
    assert seen == [(2.0, 7.0)]


def test_one_session_per_thread_reused_across_requests(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    verifier = app.extensions["clerk_mcp"].verifier
    client = app.test_client()
    client.post("/mcp", headers=bearer("t1"))
    first = verifier.session()
    client.post("/mcp", headers=bearer("t2"))
    assert verifier.session() is first

    import threading

    other: list[Any] = []
    thread = threading.Thread(target=lambda: other.append(verifier.session()))
    thread.start()
    thread.join()
    assert other[0] is not first


@pytest.mark.parametrize(
    "fields",
    [
        {"exp": 1e400},
        {"exp": float("nan")},
        {"exp": -1e400},
        {"exp": 10**400},
        {"exp": -5},
        {"nbf": float("inf")},
        {"nbf": 10**30},
    ],
)
def test_absurd_times_are_refused_not_a_crash(app, clerk, fields):
    answer_introspection(clerk, json.dumps(active()).replace("}", ", " + _raw(fields) + "}"))
    answer_userinfo(clerk)
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 401
    assert calls_to(clerk, USERINFO) == 0


def _raw(fields: dict[str, Any]) -> str:
    # Python's json writes NaN/Infinity literals and huge ints, as a misbehaving server might.
    return ", ".join(f'"{k}": {json.dumps(v)}' for k, v in fields.items())


@pytest.mark.parametrize(
    "value", ["\u00b2", "9" * 5000, "-3", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT"]
)
def test_odd_retry_after_falls_back_to_a_default(app, clerk, value):
    clerk.add(responses.POST, INTROSPECT, status=503, body="busy", headers={"Retry-After": value})
    response = app.test_client().post("/mcp", headers=bearer())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_deeply_nested_introspection_body_is_503(app, clerk):
    answer_introspection(clerk, "[" * 100_000)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 503


def test_deeply_nested_userinfo_body_is_ignored(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk, "[" * 100_000)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 200


@pytest.mark.parametrize("sub", ["", "   ", 123, ["user_alice"], True])
def test_unreadable_introspection_subject_is_refused(app, clerk, sub):
    answer_introspection(clerk, active(sub=sub))
    answer_userinfo(clerk, {**ALICE, "sub": "user_bob"})
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


def test_a_subject_that_is_not_unicode_text_is_refused(app, clerk):
    """A lone surrogate is valid JSON but no text: it cannot be stored, logged or compared."""
    answer_introspection(
        clerk,
        '{"active": true, "client_id": "client_abc", '
        '"scope": "openid email profile", "sub": "user_\\ud800"}',
    )
    answer_userinfo(clerk, '{"sub": "user_\\ud800"}')
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


@pytest.mark.parametrize("sub", ["", 123, None])
def test_unreadable_userinfo_subject_is_refused(app, clerk, sub):
    answer_introspection(clerk, active(sub=None))
    answer_userinfo(clerk, {**ALICE, "sub": sub})
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


def test_empty_subject_with_userinfo_down_is_not_a_user(app, clerk):
    answer_introspection(clerk, active(sub=""))
    answer_userinfo(clerk, "down", status=502)
    assert app.test_client().post("/mcp", headers=bearer()).status_code == 401


def test_a_verdict_without_userinfo_is_not_cached(app, clerk):
    # Userinfo is what tells a refresh token from an access token; without it, ask again.
    answer_introspection(clerk)
    clerk.add(responses.GET, USERINFO, status=500, body="down")
    client = app.test_client()
    assert client.post("/mcp", headers=bearer()).status_code == 200
    clerk.reset()
    answer_introspection(clerk)
    answer_userinfo(clerk, {"errors": [{"code": "authorization_invalid"}]}, status=401)
    assert client.post("/mcp", headers=bearer()).status_code == 401
