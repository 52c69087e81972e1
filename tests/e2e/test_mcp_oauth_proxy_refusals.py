"""Proxy mode refusals over real HTTP: what only shows with real cookies, real workers and real
fetches. (The proxy's own tests cover each check at the Flask test-client level.)

- a callback finished in another browser (another cookie jar) is refused before the proxy
  spends Clerk's code;
- an authorization code works once: a replay, or two redemptions at once on two workers, get
  ``invalid_grant`` for all but one;
- a wrong PKCE verifier gets ``invalid_grant``;
- a ``resource`` naming another server gets ``invalid_target`` (RFC 8707), at ``/authorize`` as
  an error redirect carrying ``state`` and ``iss``, and at ``/token``;
- an unregistered redirect URI, and CIMD documents that lie about their ``client_id`` or live
  on a private address, never lead to a redirect (the client cannot be trusted with one).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests

from tests.support.cimd_host import CIMDHost
from tests.support.emulator import EmulatorProcess
from tests.support.example_oauth import emulator_count
from tests.support.gunicorn import GunicornServer
from tests.support.headless_browser import HeadlessBrowser, query_of, same_endpoint
from tests.support.proxy_app import (  # noqa: F401 - fixtures
    Authorization,
    ProxyOAuthClient,
    cimd_host,
    proxy_app,
)
from tests.support.redis_server import redis_url  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(proxy_app: GunicornServer) -> ProxyOAuthClient:  # noqa: F811
    return ProxyOAuthClient(proxy_app.url).register()


def _code(client: ProxyOAuthClient) -> tuple[Authorization, str]:
    """A fresh authorization code, through every page, as Alice."""
    authorization = client.authorization()
    location = HeadlessBrowser("alice").walk(authorization.url, until=client.redirect_uri)
    params = query_of(location)
    assert params["state"] == authorization.state, params
    assert params["iss"] == client.base
    return authorization, params["code"]


def _assert_oauth_error(answer: requests.Response, error: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == error
    assert "access_token" not in answer.json()


def _assert_no_redirect_to(answer: requests.Response, client: ProxyOAuthClient) -> None:
    """An error page for the person (400), and no redirect to the client at all: RFC 6749
    §4.1.2.1 forbids redirecting when the client or its redirect URI cannot be trusted."""
    location = answer.headers.get("Location", "")
    assert not (answer.is_redirect and same_endpoint(location, client.redirect_uri)), location
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("text/html")


def test_a_callback_finished_in_another_browser_is_refused(
    clerk: EmulatorProcess, client: ProxyOAuthClient
) -> None:
    authorization = client.authorization()
    victim = HeadlessBrowser("alice")
    callback = victim.walk(authorization.url, until=client.base + "/auth/callback")
    assert "code" in query_of(callback)  # Clerk's code, on its way to our callback
    tokens_before = emulator_count(clerk.issuer, "token")

    stranger = HeadlessBrowser("alice")  # another cookie jar: no binding cookie
    answer = stranger.get(callback)

    _assert_no_redirect_to(answer, client)
    assert emulator_count(clerk.issuer, "token") == tokens_before  # Clerk's code was not even spent


def test_a_code_works_once(client: ProxyOAuthClient) -> None:
    authorization, code = _code(client)
    first = client.redeem(code, authorization.verifier)
    assert first.status_code == 200, first.text
    assert client.call_whoami(first.json()["access_token"]).status_code == 200

    _assert_oauth_error(client.redeem(code, authorization.verifier), "invalid_grant")


def test_two_redemptions_of_one_code_at_once_exactly_one_wins(client: ProxyOAuthClient) -> None:
    authorization, code = _code(client)
    start = Barrier(2)

    def redeem(_: int) -> requests.Response:
        start.wait()
        return client.redeem(code, authorization.verifier)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(redeem, range(2)))

    assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
    _assert_oauth_error(next(a for a in answers if a.status_code == 400), "invalid_grant")


def test_a_wrong_pkce_verifier_is_refused(client: ProxyOAuthClient) -> None:
    _, code = _code(client)
    other = client.authorization().verifier  # a well-formed verifier, for another challenge
    _assert_oauth_error(client.redeem(code, other), "invalid_grant")


def test_a_resource_for_another_server_is_refused_at_authorize(client: ProxyOAuthClient) -> None:
    authorization = client.authorization(resource="https://other.example/mcp")
    answer = HeadlessBrowser("alice").get(authorization.url)

    assert answer.is_redirect, (answer.status_code, answer.text[:300])
    location = answer.headers["Location"]
    assert same_endpoint(location, client.redirect_uri)
    params = query_of(location)
    assert params["error"] == "invalid_target"
    assert params["state"] == authorization.state
    assert params["iss"] == client.base
    assert "code" not in params


def test_a_resource_for_another_server_is_refused_at_token(client: ProxyOAuthClient) -> None:
    authorization, code = _code(client)
    answer = client.redeem(code, authorization.verifier, resource="https://other.example/mcp")
    _assert_oauth_error(answer, "invalid_target")


def test_an_unregistered_redirect_uri_gets_no_redirect(client: ProxyOAuthClient) -> None:
    elsewhere = "http://127.0.0.1:33421/not-registered"
    answer = HeadlessBrowser().get(client.authorization(redirect_uri=elsewhere).url)
    _assert_no_redirect_to(answer, ProxyOAuthClient(client.base, redirect_uri=elsewhere))
    assert not (answer.is_redirect and client.redirect_uri in answer.headers["Location"])


def test_a_cimd_document_naming_another_client_id_is_refused(
    proxy_app: GunicornServer,  # noqa: F811
    cimd_host: CIMDHost,  # noqa: F811
) -> None:
    path = "/clients/liar.json"
    url = cimd_host.url(path)
    cimd = ProxyOAuthClient(proxy_app.url, client_id=url)
    cimd_host.publish(
        path,
        {
            "client_id": cimd_host.url("/clients/someone-else.json"),
            "client_name": "Liar",
            "redirect_uris": [cimd.redirect_uri],
        },
    )
    answer = HeadlessBrowser().get(cimd.authorization().url)
    _assert_no_redirect_to(answer, cimd)
    assert cimd_host.requests_for(path) == 1  # fetched, read, refused


def test_a_cimd_document_on_a_private_address_is_not_fetched(
    proxy_app: GunicornServer,  # noqa: F811
) -> None:
    # 10/8 is private: refused after resolution, before any packet is sent (no timeout here).
    cimd = ProxyOAuthClient(proxy_app.url, client_id="https://10.255.255.1/clients/c.json")
    answer = HeadlessBrowser().get(cimd.authorization().url)
    _assert_no_redirect_to(answer, cimd)
