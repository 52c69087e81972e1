"""Fixtures for the emulator's own tests: a fresh emulator per test, with a clock we move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.driver import pkce_pair, sign_in_with_pkce
from tests.support.clock import FakeClock
from tests.support.emulator import running_emulator

CLIENT_ID = "emu_client_demo"
CLIENT_SECRET = "emu_secret_demo"
REDIRECT_URI = "http://127.0.0.1:5000/auth/callback"
BASIC = (CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[EmulatorServer]:
    with running_emulator(clock=clock) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def authorize_url(emu: EmulatorServer, **overrides: Any) -> str:
    """An authorization URL with sane defaults; ``None`` removes a parameter."""
    _, challenge = pkce_pair()
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": "state-1234567",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return emu.url(
        "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})
    )


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in(emu: EmulatorServer, **kwargs: Any) -> dict[str, Any]:
    """Tokens for the demo client through the real flow (the driver)."""
    kwargs.setdefault("client_secret", CLIENT_SECRET)
    return sign_in_with_pkce(emu.issuer, CLIENT_ID, REDIRECT_URI, **kwargs)


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of a JWT, unverified: for tests that look at what was issued."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return jwt.get_unverified_header(token), claims


def introspect(
    emu: EmulatorServer, token: str, auth: Any = BASIC, **form: str
) -> requests.Response:
    return requests.post(
        emu.url("/oauth/token_info"), data={"token": token, **form}, auth=auth, timeout=5
    )


def userinfo(emu: EmulatorServer, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(emu.url("/oauth/userinfo"), headers=headers, timeout=5)
