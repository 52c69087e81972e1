"""Module fixtures for the proxy's end-to-end tests, and a plain OAuth client to speak to it.

``cimd_host``: the loopback https site serving Client ID Metadata Documents (``CIMDHost``).
``proxy_app``: the example app under gunicorn in proxy mode (2 workers, ``CLERK_STORE`` and
``CLERK_CACHE`` on a real redis-server, databases of their own per module), trusting the CIMD
host's test CA through ``REQUESTS_CA_BUNDLE`` and allowed to fetch CIMD documents from loopback
(``CLERK_CIMD_ALLOW_LOOPBACK``), as a development setup would be. Both need the ``clerk``
fixture (the emulator) and ``redis_url`` in the test module's reach::

    from tests.support.proxy_app import cimd_host, proxy_app  # noqa: F401
    from tests.support.redis_server import redis_url  # noqa: F401

``ProxyOAuthClient`` is an OAuth client written out by hand (requests, nothing hidden) for the
steps the SDK does not let a test bend: registering, building authorization URLs with chosen
parameters, redeeming a code twice, refreshing twice at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from flask_clerk_mcp.emulator.driver import pkce_pair

from .cimd_host import CIMDHost
from .emulator import EmulatorProcess
from .example_oauth import start_example_app
from .gunicorn import GunicornServer

TIMEOUT = 15
_databases = itertools.count(2)  # redis database numbers: 0 and 1 are other tests'


@pytest.fixture(scope="module")
def cimd_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CIMDHost]:
    with CIMDHost(tmp_path_factory.mktemp("cimd-host")) as host:
        yield host


@pytest.fixture(scope="module")
def proxy_app(
    clerk: EmulatorProcess,
    redis_url: str,
    cimd_host: CIMDHost,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GunicornServer]:
    redis = redis_url.rsplit("/", 1)[0]
    with start_example_app(
        clerk.issuer,
        tmp_path_factory.mktemp("proxy"),
        mode="proxy",
        store=f"{redis}/{next(_databases)}",
        settings={
            "CLERK_CIMD_ALLOW_LOOPBACK": "true",
            # One verification cache for both workers, as a multi-worker deployment has:
            # what one worker learns (a revocation) the other sees at once.
            "CLERK_CACHE": f"{redis}/{next(_databases)}",
        },
        env={"REQUESTS_CA_BUNDLE": str(cimd_host.ca_bundle)},
    ) as server:
        yield server


@dataclass
class Authorization:
    """One authorization request: its URL and the secrets the client keeps."""

    url: str
    state: str
    verifier: str


@dataclass
class ProxyOAuthClient:
    """A public OAuth client of the proxy at ``base`` (the app's URL)."""

    base: str
    redirect_uri: str = "http://127.0.0.1:33419/callback"
    client_id: str = ""

    @property
    def resource(self) -> str:
        return self.base + "/mcp"

    def register(self) -> ProxyOAuthClient:
        """DCR (RFC 7591) as a public client; keeps the ``client_id``."""
        answer = self.register_answer()
        assert answer.status_code == 201, answer.text
        self.client_id = answer.json()["client_id"]
        return self

    def register_answer(self) -> requests.Response:
        """The registration request (``register`` without its checks): the raw answer."""
        return requests.post(
            self.base + "/oauth/register",
            json={
                "client_name": "hand-written e2e client",
                "redirect_uris": [self.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
            timeout=TIMEOUT,
        )

    def authorization(self, **overrides: str) -> Authorization:
        """An authorization URL with PKCE S256 and a fresh state; ``overrides`` replace or add
        query parameters (e.g. ``resource=...``)."""
        verifier, challenge = pkce_pair()
        state = pkce_pair()[0][:32]
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid email profile offline_access",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": self.resource,
            **overrides,
        }
        return Authorization(f"{self.base}/oauth/authorize?{urlencode(query)}", state, verifier)

    def token(self, **form: str) -> requests.Response:
        """POST to ``/oauth/token`` on a new connection (either worker may answer)."""
        return requests.post(
            self.base + "/oauth/token",
            data={"client_id": self.client_id, **form},
            headers={"Connection": "close"},
            timeout=TIMEOUT,
        )

    def redeem(self, code: str, verifier: str, **extra: str) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "resource": self.resource,
        }
        return self.token(**{**form, **extra})

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.token(
            grant_type="refresh_token", refresh_token=refresh_token, resource=self.resource
        )

    def revoke(self, token: str, hint: str = "access_token") -> requests.Response:
        return requests.post(
            self.base + "/oauth/revoke",
            data={"token": token, "token_type_hint": hint, "client_id": self.client_id},
            timeout=TIMEOUT,
        )

    def call_whoami(self, access_token: str) -> requests.Response:
        """``tools/call whoami`` as one plain JSON-RPC POST (the example app is stateless)."""
        message: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }
        return requests.post(
            self.resource,
            json=message,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
                "Connection": "close",
            },
            timeout=TIMEOUT,
        )
