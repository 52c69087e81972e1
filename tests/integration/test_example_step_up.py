"""Step-up with the official MCP client: it logs in by itself, and re-authorizes by itself.

The SDK's ``OAuthClientProvider`` (mcp 2.3) against the example under gunicorn in direct mode,
with the emulator as the authorization server: the first request's 401 sends it through
discovery and the authorization-code + PKCE flow for the challenged scopes; ``add_note``'s 403
``insufficient_scope`` sends it through the flow again, asking for the union of what it had
and what the challenge names (SEP-2350), after which the same tool call succeeds. No token is
handed to the client: every one it holds, it got itself.

The client is pre-registered at the emulator (a public client, PKCE), as a client with a
configured client id would be: the emulator limits a dynamically registered client to the
scopes named at registration, so a DCR client could not step up to a scope registered later
(on Clerk, dynamic clients get the instance's default scopes, which would then have to include
``notes:write``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
)

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID
from flask_clerk_mcp.emulator.driver import authorize_in_browserless_flow
from tests.support.mcp_oauth_client import MemoryTokenStorage

from .conftest import Clerk, ExampleServer, _start_example

pytestmark = pytest.mark.integration

MCP_CLIENT_ID = "mcp_step_up_client"
#: Never listened on: the driver reads the code from the redirect's Location.
REDIRECT_URI = "http://127.0.0.1:53682/callback"


@pytest.fixture(scope="module")
def direct_server(
    clerk: Clerk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleServer]:
    """The example in direct mode, accepting the demo client's and the MCP client's tokens."""
    clerk.operator(
        "POST",
        "clients",
        {
            "client_id": MCP_CLIENT_ID,
            "client_name": "Official MCP client (step-up test)",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT_URI],
        },
    )
    directory = tmp_path_factory.mktemp("example-direct")
    settings = {
        "CLERK_MCP_MODE": "direct",
        "CLERK_ACCEPTED_CLIENT_IDS": f"{DEMO_CLIENT_ID} {MCP_CLIENT_ID}",
    }
    with _start_example(clerk, directory, **settings) as server:
        yield ExampleServer(server, clerk, directory / "notes")


@dataclass
class Browser:
    """Plays the user: signs alice in and approves consent, for every authorization URL."""

    asked: list[dict[str, list[str]]] = field(default_factory=list)
    location: str = ""

    async def open(self, url: str) -> None:
        self.asked.append(parse_qs(urlsplit(url).query))
        self.location = await anyio.to_thread.run_sync(authorize_in_browserless_flow, url)

    async def callback(self) -> AuthorizationCodeResult:
        params = parse_qs(urlsplit(self.location).query)
        assert "error" not in params, params
        return AuthorizationCodeResult(code=params["code"][0], state=params["state"][0])


async def _session(server: ExampleServer, browser: Browser, mode: str) -> dict[str, Any]:
    metadata = OAuthClientMetadata(
        redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        client_name="Official MCP client (step-up test)",
    )
    storage = MemoryTokenStorage()  # holding the pre-registered client
    storage.client_info = OAuthClientInformationFull(
        client_id=MCP_CLIENT_ID,
        redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    provider = OAuthClientProvider(
        server.mcp_url, metadata, storage, browser.open, browser.callback
    )
    seen: dict[str, Any] = {}
    async with (
        httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(15.0)) as http,
        Client(streamable_http_client(server.mcp_url, http_client=http), mode=mode) as client,
    ):
        whoami = await client.call_tool("whoami", {})
        seen["scopes_before"] = (whoami.structured_content or {}).get("scopes")
        seen["authorizations_before"] = len(browser.asked)
        added = await client.call_tool("add_note", {"text": f"stepped up in {mode} mode"})
        seen["added"] = (added.is_error, added.structured_content)
        listed = await client.call_tool("list_notes", {})
        seen["notes"] = [n["text"] for n in (listed.structured_content or {})["notes"]]
        whoami = await client.call_tool("whoami", {})
        seen["scopes_after"] = (whoami.structured_content or {}).get("scopes")
        seen["client_id"] = (whoami.structured_content or {}).get("client_id")
    seen["granted"] = storage.tokens.scope if storage.tokens else None
    return seen


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_official_client_steps_up_by_itself(direct_server: ExampleServer, mode: str) -> None:
    browser = Browser()
    seen = anyio.run(_session, direct_server, browser, mode)

    # First login: the 401's challenge (the endpoint's scopes), plus offline_access, which
    # the SDK adds because the emulator advertises it. Not notes:write: nothing asked for it.
    assert seen["authorizations_before"] == 1
    first = browser.asked[0]["scope"][0].split()
    assert set(first) == {"openid", "email", "profile", "offline_access"}
    assert "notes:write" not in seen["scopes_before"]

    # add_note's 403 made it re-authorize once, for the union, and the call then succeeded.
    assert len(browser.asked) == 2
    second = browser.asked[1]["scope"][0].split()
    assert set(second) == {"openid", "email", "profile", "offline_access", "notes:write"}
    assert browser.asked[1]["resource"] == [direct_server.mcp_url]
    is_error, added = seen["added"]
    assert is_error is False, added
    assert added["note"]["text"] == f"stepped up in {mode} mode"
    assert f"stepped up in {mode} mode" in seen["notes"]
    assert "notes:write" in seen["scopes_after"]
    assert "notes:write" in seen["granted"].split()
    assert seen["client_id"] == MCP_CLIENT_ID
