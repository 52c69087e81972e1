"""ClerkMiddleware under real gunicorn, in front of a bare WSGI callable and a Bottle app,
against the emulator subprocess. The served module forbids creating any Flask app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce
from tests.support.gunicorn import GunicornServer, start_gunicorn

from .conftest import Clerk

pytestmark = pytest.mark.integration
TIMEOUT = 15
SCOPES = ("openid", "email", "profile")


@pytest.fixture(scope="module", params=["bare_app", "bottle_app"])
def server(
    request: pytest.FixtureRequest, clerk: Clerk, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GunicornServer]:
    def env(url: str) -> dict[str, str]:
        return {
            "CLERK_ISSUER_URL": clerk.issuer,
            "CLERK_CLIENT_ID": DEMO_CLIENT_ID,
            "CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "CLERK_BASE_URL": url,
            "CLERK_CACHE_TTL": "0",  # revocation shows at once
        }

    directory: Path = tmp_path_factory.mktemp(request.param)
    with start_gunicorn(
        f"tests.integration.wsgi_targets:{request.param}",
        env,
        ready_path="/.well-known/oauth-protected-resource",
        log_dir=directory,
    ) as running:
        clerk.allow_redirect_uri(running.url + "/auth/callback")
        yield running


def token_for(server: GunicornServer, clerk: Clerk, scopes: tuple[str, ...] = SCOPES) -> str:
    answer = sign_in_with_pkce(
        clerk.issuer,
        DEMO_CLIENT_ID,
        server.url + "/auth/callback",
        client_secret=DEMO_CLIENT_SECRET,
        user="alice",
        scopes=scopes,
    )
    token: str = answer["access_token"]
    return token


def test_the_metadata_documents_are_served(server: GunicornServer, clerk: Clerk) -> None:
    document = requests.get(
        server.url + "/.well-known/oauth-protected-resource/mcp", timeout=TIMEOUT
    ).json()
    assert document["resource"] == server.url + "/mcp"
    assert document["authorization_servers"] == [clerk.issuer]
    root = requests.get(server.url + "/.well-known/oauth-protected-resource", timeout=TIMEOUT)
    assert root.json()["resource"] == server.url


def test_no_token_gets_the_challenge(server: GunicornServer) -> None:
    response = requests.post(server.url + "/mcp", timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer resource_metadata="{server.url}/.well-known/oauth-protected-resource/mcp", '
        'scope="openid email profile"'
    )
    assert response.json()["error"] == "unauthorized"


def test_a_signed_in_user_reaches_the_app(server: GunicornServer, clerk: Clerk) -> None:
    token = token_for(server, clerk)
    response = requests.post(
        server.url + "/mcp", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"].startswith("user_2alice")
    assert body["email"] == "alice@example.com"
    assert body["client_id"] == DEMO_CLIENT_ID


def test_a_prefix_with_its_own_scope_answers_insufficient_scope(
    server: GunicornServer, clerk: Clerk
) -> None:
    headers = {"Authorization": f"Bearer {token_for(server, clerk)}"}
    response = requests.get(server.url + "/admin", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="openid email profile public_metadata"' in response.headers["WWW-Authenticate"]
    wider = token_for(server, clerk, (*SCOPES, "public_metadata"))
    allowed = requests.get(
        server.url + "/admin", headers={"Authorization": f"Bearer {wider}"}, timeout=TIMEOUT
    )
    assert allowed.status_code == 200, allowed.text


def test_a_revoked_token_is_refused(server: GunicornServer, clerk: Clerk) -> None:
    token = token_for(server, clerk)
    clerk.revoke(token)
    response = requests.post(
        server.url + "/mcp", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_other_paths_reach_the_framework_untouched(server: GunicornServer, clerk: Clerk) -> None:
    clerk.reset_counters()
    public = requests.get(
        server.url + "/public", headers={"Authorization": "Bearer junk"}, timeout=TIMEOUT
    )
    assert public.status_code == 200
    assert public.json()["subject"] is None
    assert public.json()["flask_apps_forbidden"] is True
    assert requests.get(server.url + "/nowhere", timeout=TIMEOUT).status_code == 404
    assert clerk.counters().get("token_info", 0) == 0


def test_clerk_down_is_a_503(server: GunicornServer, clerk: Clerk) -> None:
    token = token_for(server, clerk)
    clerk.fault("500", count=1)
    response = requests.post(
        server.url + "/mcp", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_each_framework_serves_its_own_answers(
    server: GunicornServer, request: pytest.FixtureRequest
) -> None:
    expected = {"bare_app": "bare", "bottle_app": "bottle"}[request.node.callspec.params["server"]]
    assert requests.get(server.url + "/public", timeout=TIMEOUT).json()["framework"] == expected
