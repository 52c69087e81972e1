"""ClerkMiddleware on a bare WSGI app: the same answers as the Flask extension, no Flask app."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from flask_clerk_mcp import ConfigurationError, signals
from flask_clerk_mcp.wsgi import ENVIRON_KEY, ClerkMiddleware

from .conftest import (
    BASE_CONFIG,
    CLIENT_ID,
    DOMAIN,
    INTROSPECT,
    SECRET,
    TOKEN,
    USERINFO,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
    build_app,
    calls_to,
)

SETTINGS: dict[str, Any] = {
    "domain": DOMAIN,
    "client_id": CLIENT_ID,
    "client_secret": SECRET,
    "base_url": "https://mcp.example.com",
}


class Recorder:
    """A bare WSGI app that remembers the environ of every request it served."""

    __name__ = "protected"

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.seen.append(environ)
        token = environ.get(ENVIRON_KEY)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"hello {token.subject if token else 'anonymous'}".encode()]


def wrap(**options: Any) -> tuple[ClerkMiddleware, Recorder, Client]:
    inner = Recorder()
    middleware = ClerkMiddleware(inner, **{**SETTINGS, **options})
    return middleware, inner, Client(middleware)


def test_a_path_outside_protect_reaches_the_app_untouched(clerk):
    _, inner, client = wrap()
    response = client.get("/public", headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 200
    assert response.get_data() == b"hello anonymous"
    assert ENVIRON_KEY not in inner.seen[0]
    assert inner.seen[0]["HTTP_AUTHORIZATION"] == "Bearer whatever"
    assert len(clerk.calls) == 0


def test_a_verified_request_carries_its_token_in_the_environ(clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    _, inner, client = wrap()
    response = client.post("/mcp", headers=bearer())
    assert response.status_code == 200
    assert response.get_data() == b"hello user_alice"
    token = inner.seen[0][ENVIRON_KEY]
    assert token.client_id == CLIENT_ID
    assert token.claims["email"] == "alice@example.com"
    assert calls_to(clerk, INTROSPECT) == 1 and calls_to(clerk, USERINFO) == 1


#: Requests whose refusal must be identical under the middleware and the Flask extension.
REFUSALS = [
    ("no credentials", "POST", "/mcp", {}, None),
    ("basic scheme", "POST", "/mcp", {"Authorization": "Basic abc"}, None),
    ("malformed", "POST", "/mcp", {"Authorization": "Bearer a b"}, None),
    ("inactive", "POST", "/mcp", bearer(), {"active": False}),
    ("other audience", "POST", "/mcp", bearer(), active(client_id="someone_else")),
    ("missing scope", "GET", "/api/admin", bearer(), active(scope="openid profile")),
    ("root document link", "GET", "/api/admin", {}, None),
]


@pytest.mark.parametrize(("case", "method", "path", "headers", "introspection"), REFUSALS)
def test_refusals_match_the_flask_extension(clerk, case, method, path, headers, introspection):
    """One mechanism (``bearer``): status, challenge, CORS exposure, caching and body agree."""
    if introspection is not None:
        answer_introspection(clerk, introspection)
        answer_userinfo(clerk)
    flask_answer = build_app().test_client().open(path, method=method, headers=headers)
    clerk.calls.reset()
    _, inner, client = wrap(protect={"/mcp": ["email"], "/api/admin": ["admin", "email"]})
    ours = client.open(path, method=method, headers=headers)
    assert ours.status_code == flask_answer.status_code >= 400
    for name in ("WWW-Authenticate", "Access-Control-Expose-Headers", "Cache-Control"):
        assert ours.headers.get(name) == flask_answer.headers.get(name), name
    assert ours.headers["Content-Type"] == "application/json"
    assert ours.get_data() == flask_answer.get_data()
    assert inner.seen == []


def test_clerk_unavailable_is_a_503_with_retry_after(clerk):
    answer_introspection(clerk, status=502)
    _, inner, client = wrap()
    response = client.post("/mcp", headers=bearer())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert inner.seen == []


def test_scopes_apply_to_every_protected_path_and_prefixes_add_their_own(clerk):
    answer_introspection(clerk, active(scope="openid email profile notes:read"))
    answer_userinfo(clerk)
    _, inner, client = wrap(
        protect={"/mcp": None, "/admin": "admin"}, scopes=["notes:read"], cache_ttl=60
    )
    assert client.post("/mcp", headers=bearer()).status_code == 200
    refused = client.get("/admin/users", headers=bearer())
    assert refused.status_code == 403
    assert 'scope="openid email profile notes:read admin"' in refused.headers["WWW-Authenticate"]
    assert len(inner.seen) == 1


@pytest.mark.parametrize(
    "path", ["/mcp", "/mcp/", "/mcp/sub", "//mcp", "/public/../mcp", "/./mcp", "/mcp//x"]
)
def test_protect_prefixes_match_on_segments_and_normalized_paths(clerk, path):
    _, inner, client = wrap()
    # PATH_INFO set directly: a test client would read "//mcp" as a host.
    assert client.get("/", environ_overrides={"PATH_INFO": path}).status_code == 401
    assert inner.seen == []


@pytest.mark.parametrize("path", ["/mcpx", "/mc", "/", "/public/mcp"])
def test_paths_merely_resembling_a_prefix_pass(clerk, path):
    _, inner, client = wrap()
    assert client.get(path).status_code == 200
    assert len(inner.seen) == 1
    assert len(clerk.calls) == 0


def test_protect_slash_covers_everything_but_the_metadata(clerk):
    _, _, client = wrap(protect=["/"])
    assert client.get("/anything").status_code == 401
    assert client.get("/.well-known/oauth-protected-resource").status_code == 200


def test_default_protect_is_the_mcp_path(clerk):
    middleware, _, client = wrap(mcp_path="/v1/mcp")
    assert [prefix for prefix, _ in middleware.rules] == ["/v1/mcp"]
    assert client.get("/v1/mcp").status_code == 401
    assert client.get("/mcp").status_code == 200


def test_options_preflight_passes_through_without_credentials(clerk):
    _, inner, client = wrap()
    response = client.options("/mcp", headers={"Origin": "https://a.example"})
    assert response.status_code == 200
    assert len(inner.seen) == 1 and ENVIRON_KEY not in inner.seen[0]
    assert len(clerk.calls) == 0


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]
)
def test_metadata_documents_match_the_flask_extension(clerk, path):
    flask_answer = build_app().test_client().get(path)
    _, inner, client = wrap()
    ours = client.get(path)
    assert ours.status_code == 200
    assert ours.get_json() == flask_answer.get_json()
    for name in ("Cache-Control", "Access-Control-Allow-Origin", "Access-Control-Allow-Headers"):
        assert ours.headers[name] == flask_answer.headers[name]
    head = client.head(path)
    assert head.status_code == 200 and head.get_data() == b""
    preflight = client.options(path)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    refused = client.post(path)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert inner.seen == []


def test_the_challenge_links_a_document_the_middleware_serves(clerk):
    _, _, client = wrap(mcp_path="/")
    challenge = client.post("/").headers["WWW-Authenticate"]
    url = challenge.split('resource_metadata="')[1].split('"')[0]
    document = client.get(url.removeprefix("https://mcp.example.com")).get_json()
    assert document["resource"] == "https://mcp.example.com/"


def test_settings_come_from_config_and_keywords_override_it(clerk):
    config = {**BASE_CONFIG, "CLERK_CLIENT_ID": "from_config", "CLERK_LOGIN": "auto"}
    middleware = ClerkMiddleware(Recorder(), config=config, resource_name="Notes")
    assert middleware.settings.client_id == "from_config"
    document = Client(middleware).get("/.well-known/oauth-protected-resource").get_json()
    assert document["resource_name"] == "Notes"
    overridden = ClerkMiddleware(Recorder(), config=config, client_id="from_keyword")
    assert overridden.settings.client_id == "from_keyword"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"client_id": None}, "CLERK_CLIENT_ID"),
        ({"base_url": "not a url"}, "CLERK_BASE_URL"),
        ({"cache_ttl": -1}, "CLERK_CACHE_TTL"),
        ({"mcp_mode": "proxy"}, "CLERK_MCP_MODE"),
        ({"login": True}, "CLERK_LOGIN"),
        ({"protect": "/mcp"}, "protect"),
        ({"protect": ["mcp"]}, "protect"),
        ({"protect": []}, "protect"),
        ({"protect": ["/a?b"]}, "protect"),
        ({"scopes": 5}, "scopes"),
    ],
)
def test_misconfiguration_is_named_by_its_key(options, key):
    with pytest.raises(ConfigurationError) as raised:
        ClerkMiddleware(Recorder(), **{**SETTINGS, **options})
    assert raised.value.key == key


def test_an_unknown_setting_is_refused():
    with pytest.raises(TypeError, match="domian"):
        ClerkMiddleware(Recorder(), **SETTINGS, domian="typo")


def test_signals_name_the_middleware_as_sender(clerk):
    answer_introspection(clerk)
    answer_userinfo(clerk)
    middleware, _, client = wrap()
    received: list[tuple[str, Any, dict[str, Any]]] = []

    def on_verified(sender: Any, **extra: Any) -> None:
        received.append(("verified", sender, extra))

    def on_rejected(sender: Any, **extra: Any) -> None:
        received.append(("rejected", sender, extra))

    with (
        signals.token_verified.connected_to(on_verified),
        signals.token_rejected.connected_to(on_rejected),
    ):
        client.post("/mcp", headers=bearer())
        client.post("/mcp")
    assert [(kind, sender) for kind, sender, _ in received] == [
        ("verified", middleware),
        ("rejected", middleware),
    ]
    assert received[0][2]["token"].subject == "user_alice"
    assert received[1][2]["status"] == 401


def test_a_refusal_is_logged_once_without_the_token(clerk, caplog):
    answer_introspection(clerk, {"active": False})
    _, _, client = wrap()
    with caplog.at_level(logging.INFO, logger="flask_clerk_mcp"):
        client.post("/mcp/%0Aforged", headers=bearer())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected")]
    assert lines == [
        "rejected POST /mcp/%0Aforged (401 invalid_token): The access token is not active;"
        " client_id=None"
    ]
    assert TOKEN not in caplog.text


NO_FLASK_APP = textwrap.dedent(
    """
    import flask.sansio.app, responses
    def refuse(*args, **kwargs):
        raise AssertionError("a Flask app was created")
    flask.sansio.app.App.__init__ = refuse
    from werkzeug.test import Client
    from flask_clerk_mcp.wsgi import ClerkMiddleware
    def app(environ, start_response):
        start_response("200 OK", [])
        return [environ["flask_clerk_mcp.access_token"].subject.encode()]
    with responses.RequestsMock() as clerk:
        issuer = "https://example-app-16.clerk.accounts.dev"
        clerk.post(issuer + "/oauth/token_info", json={
            "active": True, "client_id": "c", "sub": "user_1", "scope": "openid email profile"})
        clerk.get(issuer + "/oauth/userinfo", json={"sub": "user_1"})
        client = Client(ClerkMiddleware(app, domain=issuer[8:], client_id="c",
                                        client_secret="s", base_url="https://mcp.example"))
        assert client.get("/.well-known/oauth-protected-resource/mcp").status_code == 200
        assert client.post("/mcp").status_code == 401
        answer = client.post("/mcp", headers={"Authorization": "Bearer tok"})
        assert answer.get_data() == b"user_1", answer.get_data()
    print("NO FLASK APP")
    """
)


def test_importing_and_using_the_middleware_creates_no_flask_app():
    """In a fresh interpreter where creating a Flask app raises: import, build, serve."""
    result = subprocess.run(
        [sys.executable, "-c", NO_FLASK_APP], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "NO FLASK APP"
