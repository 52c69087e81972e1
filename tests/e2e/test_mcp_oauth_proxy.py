"""Proxy mode end to end with the official ``mcp`` SDK client (``OAuthClientProvider``).

The example app runs under gunicorn (2 workers, state in a real redis-server) in front of the
emulator as Clerk. The client knows nothing but the ``/mcp`` URL: a 401 sends it to the
protected-resource metadata, which names this server as its authorization server; it registers
(DCR, or CIMD with its metadata document served over https from loopback), and the headless
browser goes through our consent page, the emulator's sign-in and consent, and our callback back
to the client's redirect URI. Then ``initialize``, ``tools/list`` and ``tools/call whoami``.
After that: a refresh the SDK does by itself, two refreshes of one refresh token at once, and
revocation. Nothing here reaches into the store: every step is HTTP.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from urllib.parse import urlsplit

import anyio
import pytest
import requests

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID
from flask_clerk_mcp.hot_cache import SHARED_MAX_AGE
from tests.support.cimd_host import CIMDHost
from tests.support.emulator import EmulatorProcess
from tests.support.example_oauth import emulator_count
from tests.support.gunicorn import GunicornServer
from tests.support.headless_browser import HeadlessBrowser, query_of
from tests.support.mcp_oauth_client import DEFAULT_REDIRECT_URI, SdkOAuthClient
from tests.support.proxy_app import ProxyOAuthClient, cimd_host, proxy_app  # noqa: F401
from tests.support.redis_server import redis_url  # noqa: F401

pytestmark = pytest.mark.e2e

EMAIL = "alice@example.com"


def _login(
    app: GunicornServer,
    client_metadata_url: str | None = None,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
) -> SdkOAuthClient:
    """A new SDK client that logs in (from a 401) and runs one session; checks the session."""
    client = SdkOAuthClient(
        app.url + "/mcp", client_metadata_url=client_metadata_url, redirect_uri=redirect_uri
    )
    result = anyio.run(client.session)
    assert result.server_name == "flask-clerk-mcp-example"
    assert result.tools == ["whoami", "add_note", "list_notes"]
    assert not result.whoami_is_error, result.whoami
    assert result.whoami["email"] == EMAIL
    # The token is Clerk's, issued to this server's own Clerk application: the proxy passes it
    # through, and the decorator verifies it with Clerk like any other.
    assert result.whoami["client_id"] == DEMO_CLIENT_ID
    return client


def _assert_login_pages(
    client: SdkOAuthClient, app: GunicornServer, clerk: EmulatorProcess
) -> None:
    """Our consent page first (with a CSRF field), then the emulator's sign-in and consent."""
    origins = [page.origin for page in client.browser.pages]
    assert origins == [app.url, clerk.issuer, clerk.issuer], client.browser.pages
    consent = client.browser.pages[0]
    assert urlsplit(consent.form.action).path == "/oauth/consent"
    assert consent.form.method == "post"
    assert any("csrf" in name.lower() for name in consent.form.fields), consent.form
    assert client.handlers.authorization_urls[0].startswith(app.url + "/oauth/authorize?")
    # RFC 9207: the redirect back to the client names us as the issuer.
    assert query_of(client.handlers.locations[-1])["iss"] == app.url


def test_dcr_login_from_a_401_to_whoami(
    clerk: EmulatorProcess,
    proxy_app: GunicornServer,  # noqa: F811
) -> None:
    client = _login(proxy_app)

    app = proxy_app.url
    assert client.requests[0][1:] == (app + "/mcp", 401)
    steps = [(method, url, status) for method, url, status in client.requests[1:5]]
    assert steps == [
        ("GET", app + "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", app + "/.well-known/oauth-authorization-server", 200),
        ("POST", app + "/oauth/register", 201),
        ("POST", app + "/oauth/token", 200),
    ]
    assert client.token_grants == [("authorization_code", 200)]
    assert client.storage.client_info is not None
    assert client.storage.client_info.token_endpoint_auth_method == "none"
    _assert_login_pages(client, proxy_app, clerk)
    # Nothing of the client's OAuth traffic went to Clerk itself: only the browser did.
    assert not [r for r in client.requests if r[1].startswith(clerk.issuer)]


def test_cimd_login_uses_the_metadata_document_and_registers_nothing(
    clerk: EmulatorProcess,
    proxy_app: GunicornServer,  # noqa: F811
    cimd_host: CIMDHost,  # noqa: F811
) -> None:
    metadata = requests.get(proxy_app.url + "/.well-known/oauth-authorization-server", timeout=10)
    assert metadata.json()["client_id_metadata_document_supported"] is True

    path = "/clients/e2e-cimd-client.json"
    url = cimd_host.url(path)
    redirect_uri = "http://127.0.0.1:33420/callback"
    cimd_host.publish(
        path,
        {
            "client_id": url,
            "client_name": "CIMD e2e client",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )

    client = _login(proxy_app, client_metadata_url=url, redirect_uri=redirect_uri)

    seen = client.provider.context.oauth_metadata  # what the SDK itself discovered
    assert seen is not None and seen.client_id_metadata_document_supported is True
    assert client.storage.client_info is not None
    assert client.storage.client_info.client_id == url  # the URL is the client id
    assert client.requests_to("POST", "/register") == []  # no DCR in this run
    assert query_of(client.handlers.authorization_urls[0])["client_id"] == url
    assert cimd_host.requests_for(path) == 1  # the server fetched the document
    assert client.token_grants == [("authorization_code", 200)]
    _assert_login_pages(client, proxy_app, clerk)

    # Another installation of the same client: the document comes from the shared cache
    # (max-age=60 here), whichever worker serves the requests.
    second = _login(proxy_app, client_metadata_url=url, redirect_uri=redirect_uri)
    assert second.requests_to("POST", "/register") == []
    assert cimd_host.requests_for(path) == 1


def test_the_sdk_refreshes_an_expired_token_through_the_proxy(
    proxy_app: GunicornServer,  # noqa: F811
) -> None:
    client = _login(proxy_app)
    first = client.storage.tokens
    assert first is not None and first.refresh_token

    # As if the access token's lifetime had run out: the provider refreshes before sending.
    client.provider.context.token_expiry_time = time.time() - 1
    result = anyio.run(client.session)

    assert result.whoami["email"] == EMAIL
    assert client.token_grants == [("authorization_code", 200), ("refresh_token", 200)]
    refreshed = client.storage.tokens
    assert refreshed is not None
    assert refreshed.access_token != first.access_token
    assert refreshed.refresh_token and refreshed.refresh_token != first.refresh_token  # rotated
    assert len(client.browser.pages) == 3  # no second login


def test_two_concurrent_refreshes_of_one_token_both_get_the_same_new_pair(
    clerk: EmulatorProcess,
    proxy_app: GunicornServer,  # noqa: F811
) -> None:
    sdk = _login(proxy_app)
    assert sdk.storage.tokens is not None and sdk.storage.client_info is not None
    refresh_token = sdk.storage.tokens.refresh_token
    assert refresh_token
    raw = ProxyOAuthClient(proxy_app.url, client_id=sdk.storage.client_info.client_id)

    clerk_calls = emulator_count(clerk.issuer, "token")
    start = Barrier(2)

    def refresh() -> requests.Response:
        start.wait()
        return raw.refresh(refresh_token)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: refresh(), range(2)))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    pairs = {(a.json()["access_token"], a.json()["refresh_token"]) for a in answers}
    assert len(pairs) == 1  # the same new pair, not two
    access, rotated = pairs.pop()
    assert rotated != refresh_token
    assert emulator_count(clerk.issuer, "token") == clerk_calls + 1  # one refresh at Clerk, shared
    whoami = raw.call_whoami(access)
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["result"]["structuredContent"]["email"] == EMAIL

    # The new refresh token goes on working: the next refresh is an ordinary one.
    again = raw.refresh(rotated)
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] != rotated


def test_revoking_at_the_proxy_stops_the_token_at_mcp(
    proxy_app: GunicornServer,  # noqa: F811
) -> None:
    sdk = _login(proxy_app)
    assert sdk.storage.tokens is not None and sdk.storage.client_info is not None
    access = sdk.storage.tokens.access_token
    raw = ProxyOAuthClient(proxy_app.url, client_id=sdk.storage.client_info.client_id)
    assert raw.call_whoami(access).status_code == 200

    answer = raw.revoke(access)
    assert answer.status_code == 200, answer.text

    # Every worker learns it from the shared cache within the first-level cache's window (the
    # worker that served the revocation at once); past it, whichever worker answers refuses.
    time.sleep(SHARED_MAX_AGE + 0.5)
    for _ in range(4):  # new connections: whichever worker answers, the token is dead
        refused = raw.call_whoami(access)
        assert refused.status_code == 401, refused.text
        assert refused.headers["WWW-Authenticate"].startswith("Bearer ")

    # The refresh token too: revoked at Clerk, it refreshes nothing any more.
    refresh_token = sdk.storage.tokens.refresh_token
    assert refresh_token
    assert raw.revoke(refresh_token, hint="refresh_token").status_code == 200
    refused_refresh = raw.refresh(refresh_token)
    assert refused_refresh.status_code == 400, refused_refresh.text
    assert refused_refresh.json()["error"] == "invalid_grant"


def test_browser_login_and_the_proxy_share_the_callback_side_by_side(
    clerk: EmulatorProcess,
    proxy_app: GunicornServer,  # noqa: F811
) -> None:
    browser = HeadlessBrowser("bob")
    browser.walk(proxy_app.url + "/login?next=/account", until=proxy_app.url + "/account")
    account = browser.get(proxy_app.url + "/account")
    assert account.status_code == 200
    assert "bob@example.com" in account.text
    assert [page.origin for page in browser.pages] == [clerk.issuer, clerk.issuer]
    _login(proxy_app)  # and an MCP client logs in through the same callback
