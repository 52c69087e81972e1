"""Probes of the emulator's sign-in with input no browser sends: it plays Clerk, and like every
endpoint of this package it answers odd input with a refusal, never a 500 (its checks compare
secrets with ``hmac.compare_digest``, which raises on a ``str`` with any non-ASCII character).
"""

from __future__ import annotations

import re

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.authorize import BROWSER_COOKIE
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID
from tests.login.conftest import BASE_URL
from tests.mcp.flow import pkce
from tests.security.test_secret_comparisons import NON_ASCII


def _sign_in_form(emulator: EmulatorServer, http: requests.Session) -> str:
    _, challenge = pkce()
    answer = http.get(
        emulator.issuer + "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": BASE_URL + "/auth/callback",
            "scope": "openid email",
            "state": "state-1234567",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:300]
    found = re.search(r'name="authorization_id" value="([^"]+)"', answer.text)
    assert found is not None, answer.text[:500]
    return found.group(1)


@pytest.mark.parametrize("handle", NON_ASCII)
def test_the_emulator_refuses_a_non_ascii_user_handle(emulator, handle):
    with requests.Session() as http:
        pending = _sign_in_form(emulator, http)
        answer = http.post(
            emulator.issuer + "/sign-in",
            data={"authorization_id": pending, "user": handle},
            timeout=10,
        )
    assert answer.status_code == 400, answer.text[:300]


def test_the_emulator_refuses_a_non_ascii_browser_cookie(emulator):
    with requests.Session() as http:
        pending = _sign_in_form(emulator, http)
        http.cookies.clear()
        cookie = f"{BROWSER_COOKIE}={'é' * 40}".encode()
        answer = http.post(
            emulator.issuer + "/sign-in",
            data={"authorization_id": pending, "user": "alice"},
            headers={"Cookie": cookie},  # type: ignore[dict-item]
            timeout=10,
        )
    assert answer.status_code == 400, answer.text[:300]
