"""Direct mode end to end with the official ``mcp`` SDK client: the emulator is the client's
authorization server, this server only verifies.

``OAuthClientProvider`` meets a 401 at ``/mcp``, reads the protected-resource metadata (which
names the emulator's issuer, not ours), discovers the emulator's metadata, registers itself there
by DCR, and the headless browser signs Alice in on the emulator's own pages. The tokens belong to
that freshly registered client, not to this server's Clerk application; what binds them to this
server is their ``aud``: the client sent RFC 8707 ``resource`` (this server's MCP URL), Clerk's
JWT names it, and the default verification (``jwt+introspection``) accepts a token whose signed
``aud`` is this server's resource, with no ``CLERK_ACCEPTED_CLIENT_IDS="*"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
import requests

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID
from tests.support.emulator import EmulatorProcess
from tests.support.example_oauth import start_example_app
from tests.support.gunicorn import GunicornServer
from tests.support.mcp_oauth_client import SdkOAuthClient
from tests.support.redis_server import redis_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def direct_app(
    clerk: EmulatorProcess,
    redis_url: str,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GunicornServer]:
    # No "*": the tokens of the client registered at Clerk are bound to this server by their
    # signed `aud` (the RFC 8707 resource the SDK sent), which the JWT checks accept.
    with start_example_app(
        clerk.issuer,
        tmp_path_factory.mktemp("direct"),
        mode="direct",
        store=redis_url.rsplit("/", 1)[0] + "/1",
    ) as server:
        yield server


def test_sdk_client_discovers_clerk_registers_there_signs_in_and_calls_tools(
    clerk: EmulatorProcess, direct_app: GunicornServer
) -> None:
    client = SdkOAuthClient(direct_app.url + "/mcp")
    result = anyio.run(client.session)

    assert result.server_name == "flask-clerk-mcp-example"
    assert result.tools == ["whoami", "add_note", "list_notes"]
    assert not result.whoami_is_error
    assert result.whoami["email"] == "alice@example.com"

    # The client registered at the emulator (Clerk), not at this server ...
    registered = client.requests_to("POST", "/oauth/register")
    assert [(url.startswith(clerk.issuer), status) for _, url, status in registered] == [
        (True, 201)
    ]
    info = client.storage.client_info
    assert info is not None and info.client_id != DEMO_CLIENT_ID
    assert result.whoami["client_id"] == info.client_id  # the token is that client's
    # ... and this server serves no authorization-server endpoints of its own in direct mode.
    assert not [r for r in client.requests if r[1].startswith(direct_app.url + "/oauth/")]
    assert (
        requests.get(
            direct_app.url + "/.well-known/oauth-authorization-server", timeout=10
        ).status_code
        == 404
    )

    # The login went through the emulator's pages only: sign-in, then its consent.
    assert {page.origin for page in client.browser.pages} == {clerk.issuer}
    assert client.handlers.authorization_urls[0].startswith(clerk.issuer + "/oauth/authorize?")

    # First request 401, then discovery, registration, token, and the MCP session.
    first = client.requests[0]
    assert (first[0], first[1], first[2]) == ("POST", direct_app.url + "/mcp", 401)
    token_calls = client.requests_to("POST", "/oauth/token")
    assert [(url.startswith(clerk.issuer), status) for _, url, status in token_calls] == [
        (True, 200)
    ]
