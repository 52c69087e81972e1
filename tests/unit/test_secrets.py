"""Tokens and secrets never reach logs, exception messages or reprs."""

from __future__ import annotations

import logging

import requests
import responses

from .conftest import (
    INTROSPECT,
    SECRET,
    TOKEN,
    USERINFO,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
)


def test_no_token_or_secret_in_any_log_line(app, clerk, caplog):
    client = app.test_client()
    scenarios = [
        lambda: answer_introspection(clerk, {"active": False}),
        lambda: answer_introspection(clerk, active(aud="other")),
        lambda: answer_introspection(clerk, {}, status=401),
        lambda: clerk.add(responses.POST, INTROSPECT, body=requests.ConnectionError(TOKEN)),
        lambda: (answer_introspection(clerk), clerk.add(responses.GET, USERINFO, status=500)),
        lambda: (answer_introspection(clerk), answer_userinfo(clerk, {"sub": "user_x"})),
        lambda: (answer_introspection(clerk, active(scope="openid")), answer_userinfo(clerk)),
    ]
    with caplog.at_level(logging.DEBUG):
        for index, arrange in enumerate(scenarios):
            clerk.reset()
            arrange()
            client.post("/mcp", headers=bearer(f"{TOKEN}{index}"))
        client.post("/mcp", headers={"Authorization": f"Bearer {TOKEN} extra"})
    assert len(caplog.records) >= len(scenarios)
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert TOKEN not in text
        assert SECRET not in text


def test_access_token_repr_hides_the_token(app, clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    with app.test_request_context("/mcp", method="POST", headers=bearer()):
        from flask_clerk_mcp.protect import authenticate, current_token

        authenticate()
        assert TOKEN not in repr(current_token._get_current_object())  # type: ignore[attr-defined]
        assert current_token.token == TOKEN
