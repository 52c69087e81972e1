"""Answers from Clerk that are no verdict: a clear page or a 503, never a 500, and never a
lost session (issue 8 items 4 and 7)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.login import clock

from .conftest import HTML, at_clerk, callback, handle_of, record_of, sign_in, start_login

DAY = 86400
ODD_EXPIRES_IN = ["1e999", "1" + "0" * 400]


@pytest.fixture
def clerk(emulator: EmulatorServer) -> Iterator[responses.RequestsMock]:
    """The emulator for everything but the endpoints a test answers itself."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(emulator.issuer)
        yield mock


def token_answer(clerk: responses.RequestsMock, emulator: EmulatorServer, body: str) -> None:
    clerk.add(
        responses.POST,
        emulator.issuer + "/oauth/token",
        body=body,
        status=200,
        content_type="application/json",
    )


@pytest.mark.parametrize("expires_in", ODD_EXPIRES_IN)
def test_an_absurd_expires_in_at_the_callback_is_a_503_page(
    client: FlaskClient, emulator: EmulatorServer, clerk: responses.RequestsMock, expires_in: str
) -> None:
    url = at_clerk(start_login(client))
    token_answer(
        clerk,
        emulator,
        '{"access_token": "at", "token_type": "Bearer", "expires_in": ' + expires_in + "}",
    )
    answer = callback(client, url)
    assert answer.status_code == 503
    assert handle_of(client) is None


def test_a_subject_with_a_lone_surrogate_is_a_clear_error_page(
    client: FlaskClient, emulator: EmulatorServer, clerk: responses.RequestsMock
) -> None:
    url = at_clerk(start_login(client))
    token_answer(clerk, emulator, '{"access_token": "at", "token_type": "Bearer"}')
    clerk.add(
        responses.POST,
        emulator.issuer + "/oauth/token_info",
        body=json.dumps(
            {
                "active": True,
                "client_id": client.application.config["CLERK_CLIENT_ID"],
                "scope": "openid email profile",
                "sub": "user_\ud800",  # a lone surrogate: valid JSON, no text
            }
        ),
        content_type="application/json",
    )
    clerk.add(
        responses.GET,
        emulator.issuer + "/oauth/userinfo",
        body='{"sub": "user_\\ud800"}',
        content_type="application/json",
    )
    answer = callback(client, url)
    assert answer.status_code == 400
    assert "Sign-in could not be completed" in answer.get_data(as_text=True)
    assert handle_of(client) is None


def _near_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    start = time.time()
    monkeypatch.setattr(clock, "now", lambda: start + DAY - 30)


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        '{"token_type": "Bearer"}',
        '{"access_token": "", "token_type": "Bearer"}',
        '{"access_token": "at", "token_type": "Bearer", "expires_in": 1e999}',
        '{"access_token": "at", "token_type": "Bearer", "expires_in": 1' + "0" * 400 + "}",
        '{"access_token": "at_\\ud800", "token_type": "Bearer"}',
    ],
    ids=["empty", "no-access-token", "blank", "inf", "huge", "surrogate"],
)
def test_a_nonsense_refresh_answer_keeps_the_session(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    clerk: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
) -> None:
    """No verdict: the still-valid token is used, the session stays for the next try."""
    sign_in(client)
    handle = handle_of(client)
    assert handle is not None
    before = record_of(app, handle)
    assert before is not None
    _near_expiry(monkeypatch)
    token_answer(clerk, emulator, body)
    answer = client.get("/account", headers=HTML)
    assert answer.status_code == 200
    after = record_of(app, handle)
    assert after is not None
    assert after["access_token"] == before["access_token"]
    assert after["refresh_token"] == before["refresh_token"]


def test_a_nonsense_refresh_answer_after_expiry_is_a_503_not_a_logout(
    app: Flask,
    client: FlaskClient,
    emulator: EmulatorServer,
    clerk: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client)
    handle = handle_of(client)
    start = time.time()
    monkeypatch.setattr(clock, "now", lambda: start + DAY + 5)
    token_answer(clerk, emulator, json.dumps({}))
    assert client.get("/account", headers=HTML).status_code == 503
    assert handle is not None and record_of(app, handle) is not None
