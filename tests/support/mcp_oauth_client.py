"""The official ``mcp`` SDK client logging in with ``OAuthClientProvider``, as an MCP host would.

``SdkOAuthClient`` holds what a real client keeps between sessions: the provider (with its
in-memory ``TokenStorage``) and a headless browser for the login pages. ``session()`` opens the
Streamable HTTP transport with the provider as the ``httpx2`` client's auth, runs ``initialize``,
``tools/list`` and ``tools/call whoami``, and returns what came back. Every HTTP request the SDK
sends (MCP and OAuth alike: the provider's discovery, registration and token requests go through
the same client) is recorded in ``requests`` as ``(method, url, status)``, so a test can say
which steps a login took without reaching into the server; ``token_grants`` lists the grant
type and status of each token request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from .headless_browser import HeadlessBrowser, OAuthRedirectHandlers

#: Where the client says its loopback callback is. Nothing listens there: the headless
#: browser captures the redirect's Location instead of following the last hop.
DEFAULT_REDIRECT_URI = "http://127.0.0.1:33418/callback"
TIMEOUT = 20.0


class MemoryTokenStorage:
    """``TokenStorage`` in memory; counts how often client information was stored."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.client_info_writes = 0

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
        self.client_info_writes += 1


@dataclass
class SessionResult:
    """What one MCP session saw."""

    protocol_version: str | None
    server_name: str | None
    tools: list[str]
    whoami: dict[str, Any]
    whoami_is_error: bool


@dataclass
class SdkOAuthClient:
    """One MCP client installation: metadata, storage, provider, browser, request log."""

    mcp_url: str
    user: str = "alice"
    client_metadata_url: str | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    client_name: str = "flask-clerk-mcp e2e client"
    storage: MemoryTokenStorage = field(default_factory=MemoryTokenStorage)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    token_grants: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.browser = HeadlessBrowser(self.user)
        self.handlers = OAuthRedirectHandlers(self.browser, self.redirect_uri)
        metadata = OAuthClientMetadata.model_validate(
            {
                "client_name": self.client_name,
                "redirect_uris": [self.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }
        )
        self.provider = OAuthClientProvider(
            server_url=self.mcp_url,
            client_metadata=metadata,
            storage=self.storage,
            redirect_handler=self.handlers.redirect,
            callback_handler=self.handlers.callback,
            client_metadata_url=self.client_metadata_url,
        )

    def requests_to(self, method: str, path_suffix: str) -> list[tuple[str, str, int]]:
        """Recorded requests with this method whose URL path ends with ``path_suffix``."""
        return [
            r
            for r in self.requests
            if r[0] == method and httpx2.URL(r[1]).path.endswith(path_suffix)
        ]

    async def _record(self, response: httpx2.Response) -> None:
        request = response.request
        self.requests.append((request.method, str(request.url), response.status_code))
        if request.url.path.endswith("/token"):
            form = parse_qs(request.content.decode())
            self.token_grants.append((form.get("grant_type", ["?"])[0], response.status_code))

    async def session(self) -> SessionResult:
        """``initialize``, ``tools/list``, ``tools/call whoami``; logs in first when needed.

        A failure carries a note with the HTTP requests sent and the pages submitted so far:
        the SDK's own errors rarely say which step went wrong.
        """
        try:
            return await self._session()
        except BaseException as exc:
            pages = [(page.url, page.button) for page in self.browser.pages]
            exc.add_note(f"requests: {self.requests}\nlogin pages: {pages}")
            raise

    async def _session(self) -> SessionResult:
        async with (
            httpx2.AsyncClient(
                auth=self.provider,
                timeout=httpx2.Timeout(TIMEOUT),
                event_hooks={"response": [self._record]},
            ) as http,
            Client(streamable_http_client(self.mcp_url, http_client=http), mode="legacy") as mcp,
        ):
            tools = [tool.name for tool in (await mcp.list_tools()).tools]
            whoami = await mcp.call_tool("whoami", {})
            return SessionResult(
                protocol_version=mcp.protocol_version,
                server_name=mcp.server_info.name if mcp.server_info else None,
                tools=tools,
                whoami=dict(whoami.structured_content or {}),
                whoami_is_error=bool(whoami.is_error),
            )
