"""The official MCP Python SDK's streamable-HTTP client against the example server under gunicorn.

Both ways the SDK connects: ``mode="legacy"`` (the ``initialize`` handshake, 2025-11-25) and its
default ``mode="auto"`` (``server/discover`` first, then the 2026-07-28 per-request envelope).
The bearer token rides on the ``httpx2`` client the transport is given, as an app that already
holds a token would send it.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from .conftest import ExampleServer

pytestmark = pytest.mark.integration


async def _session(url: str, token: str | None, mode: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    seen: dict[str, Any] = {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(15.0)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        seen["version"] = client.protocol_version
        seen["server"] = client.server_info.name if client.server_info else None
        seen["tools"] = [tool.name for tool in (await client.list_tools()).tools]
        whoami = await client.call_tool("whoami", {})
        seen["whoami"] = (whoami.is_error, whoami.structured_content)
        added = await client.call_tool("add_note", {"text": f"written by the SDK in {mode} mode"})
        seen["added"] = (added.is_error, added.structured_content)
        listed = await client.call_tool("list_notes", {})
        seen["notes"] = [n["text"] for n in (listed.structured_content or {})["notes"]]
        refused = await client.call_tool("add_note", {"text": ""})
        seen["refused"] = (refused.is_error, refused.content[0].text)  # type: ignore[union-attr]
    return seen


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
def test_official_client_initializes_lists_and_calls(
    example_server: ExampleServer, mode: str, version: str
) -> None:
    token = example_server.token("alice")
    seen = anyio.run(_session, example_server.mcp_url, token, mode)
    assert seen["version"] == version
    assert seen["server"] == "flask-clerk-mcp-example"
    assert seen["tools"] == ["whoami", "add_note", "list_notes"]
    is_error, identity = seen["whoami"]
    assert not is_error
    assert identity["email"] == "alice@example.com"
    assert identity["client_id"] == "emu_client_demo"
    assert seen["added"][0] is False
    assert f"written by the SDK in {mode} mode" in seen["notes"]
    assert seen["refused"] == (True, "A note needs some text")


def test_official_client_without_a_token_cannot_connect(example_server: ExampleServer) -> None:
    # The SDK reports the 401 (a JSON body that is not JSON-RPC) as an MCPError raised out of
    # its task groups; with an OAuth provider configured it would log in from there instead.
    with pytest.raises(ExceptionGroup) as caught:
        anyio.run(_session, example_server.mcp_url, None, "legacy")
    assert caught.group_contains(MCPError)
