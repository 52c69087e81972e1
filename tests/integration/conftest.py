"""Real processes for the example app's integration tests: the Clerk emulator and gunicorn.

One emulator subprocess for the session, and two gunicorn instances of ``example_app.wsgi:app``
(2 workers, gthread threads each, free loopback ports), both pointed at it:

- ``example_server``: the default verification cache (a ``SimpleCache`` per worker), and
  ``EXPOSE_WORKER_PID`` so each answer says which worker gave it;
- ``example_server_nocache``: ``CLERK_CACHE_TTL=0`` (every request asks Clerk, so revocation and
  faults show at once) and ``CLERK_TIMEOUT=1`` (a hanging Clerk costs one second).

Tokens come from the emulator's real authorization-code + PKCE flow (``sign_in_with_pkce``),
with the server's own callback URL registered at the emulator first, as an operator would.
Nothing here skips: a missing gunicorn or emulator is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from example_app import WORKER_PID_HEADER
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce
from tests.support.emulator import EmulatorProcess
from tests.support.gunicorn import GunicornServer, start_gunicorn

#: The example's scopes: the endpoint's, and add_note's own (a custom scope of the instance).
SCOPES = ("openid", "email", "profile", "notes:write")
PROTOCOL_VERSION = "2025-11-25"
TIMEOUT = 15


class Clerk:
    """The emulator subprocess and its operator controls."""

    def __init__(self, process: EmulatorProcess) -> None:
        self.process = process
        self.issuer = process.issuer

    def operator(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = requests.request(
            method, f"{self.issuer}/__emulator/{path}", json=body, timeout=TIMEOUT
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def counters(self) -> dict[str, int]:
        counts: dict[str, int] = self.operator("GET", "counters")
        return counts

    def reset_counters(self) -> None:
        self.operator("POST", "reset-counters")

    def fault(
        self, mode: str, *, endpoint: str = "token_info", count: int = 1, **extra: Any
    ) -> None:
        self.operator(
            "POST", "faults", {"endpoint": endpoint, "mode": mode, "count": count, **extra}
        )

    def allow_redirect_uri(self, uri: str) -> None:
        self.operator("POST", f"clients/{DEMO_CLIENT_ID}/redirect_uris", {"redirect_uri": uri})

    def revoke(self, token: str) -> None:
        response = requests.post(
            f"{self.issuer}/oauth/token/revoke",
            data={"token": token, "token_type_hint": "access_token"},
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text


@dataclass
class ExampleServer:
    """A gunicorn-served example app, with helpers to sign in and to speak MCP to it."""

    gunicorn: GunicornServer
    clerk: Clerk
    notes_dir: Path

    @property
    def url(self) -> str:
        return self.gunicorn.url

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"

    @property
    def callback_url(self) -> str:
        return self.url + "/auth/callback"

    def token(self, user: str = "alice", scopes: tuple[str, ...] = SCOPES) -> str:
        """A fresh access token for ``user``, through the sign-in and consent pages."""
        answer = sign_in_with_pkce(
            self.clerk.issuer,
            DEMO_CLIENT_ID,
            self.callback_url,
            client_secret=DEMO_CLIENT_SECRET,
            user=user,
            scopes=scopes,
        )
        token: str = answer["access_token"]
        return token

    def post(
        self,
        message: Any,
        token: str | None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST one MCP message on a new connection (so gunicorn may pick either worker)."""
        sent = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": PROTOCOL_VERSION,
            "Connection": "close",
        }
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return requests.post(self.mcp_url, data=json.dumps(message), headers=sent, timeout=TIMEOUT)

    def call(self, token: str, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """``tools/call``; returns the result, failing the test on anything but a 200."""
        message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": dict(arguments or {})},
        }
        response = self.post(message, token)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    @staticmethod
    def worker(response: requests.Response) -> str:
        return response.headers[WORKER_PID_HEADER]


def _start_example(clerk: Clerk, directory: Path, **settings: str) -> GunicornServer:
    notes_dir = directory / "notes"

    def env(url: str) -> dict[str, str]:
        return {
            "FLASK_CLERK_ISSUER_URL": clerk.issuer,
            "FLASK_CLERK_CLIENT_ID": DEMO_CLIENT_ID,
            "FLASK_CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "FLASK_CLERK_BASE_URL": url,
            "FLASK_CLERK_LOGIN": "false",  # the MCP endpoint only: browser login has its tests
            "FLASK_NOTES_DIR": str(notes_dir),
            "FLASK_EXPOSE_WORKER_PID": "true",
            **{f"FLASK_{key}": value for key, value in settings.items()},
        }

    server = start_gunicorn("example_app.wsgi:app", env, log_dir=directory)
    try:
        clerk.allow_redirect_uri(server.url + "/auth/callback")
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def clerk() -> Iterator[Clerk]:
    with EmulatorProcess("--custom-scope", "notes:write") as process:
        yield Clerk(process)


@pytest.fixture(scope="session")
def example_server(
    clerk: Clerk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleServer]:
    directory = tmp_path_factory.mktemp("example-cached")
    with _start_example(clerk, directory) as server:
        yield ExampleServer(server, clerk, directory / "notes")


@pytest.fixture(scope="session")
def example_server_nocache(
    clerk: Clerk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleServer]:
    directory = tmp_path_factory.mktemp("example-nocache")
    with _start_example(clerk, directory, CLERK_CACHE_TTL="0", CLERK_TIMEOUT="1") as server:
        yield ExampleServer(server, clerk, directory / "notes")
