"""Probes: DNS rebinding, Host-header and cache poisoning, CORS exactly where intended.

DNS rebinding: a hostile page at ``http://evil.example:5000`` whose name is made to resolve to
this server reaches it with ``Host: evil.example:5000``, ``Origin: http://evil.example:5000``
and none of this site's cookies (browsers key cookies by host name). What it can get: only
what needs no credential. Every URL this package hands out is built from ``CLERK_BASE_URL``,
never from ``Host``, so neither a rebinding page nor a poisoned shared cache can point a
client at another server. CORS: the JSON endpoints a browser-based MCP client calls answer
any origin, never with credentials; the pages (authorize, consent, callback, login) answer
no origin at all.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from werkzeug.test import Client

from flask_clerk_mcp.wsgi import ClerkMiddleware
from tests.login.conftest import BASE_URL, HTML
from tests.mcp.flow import (
    Authorization,
    answer_consent,
    approve,
    bearer,
    client_redirect,
    consent_fields,
    consent_page,
    log_in,
    redeem,
    register,
    through_clerk,
)

EVIL = "http://evil.example:5000"
REBOUND = {"Origin": EVIL, "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"}


def _no_evil(*texts: str) -> None:
    for text in texts:
        assert "evil.example" not in unquote(text), text


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ],
)
def test_documents_do_not_follow_the_host_header(browser, path):
    honest = browser.get(path)
    rebound = browser.get(path, base_url=EVIL, headers=REBOUND)
    assert honest.status_code == rebound.status_code == 200
    assert honest.get_data() == rebound.get_data()
    _no_evil(rebound.get_data(as_text=True))


def test_the_bearer_challenge_does_not_follow_the_host_header(browser):
    answer = browser.get("/api/me", base_url=EVIL, headers=REBOUND)
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert f'resource_metadata="{BASE_URL}/.well-known/oauth-protected-resource' in challenge
    _no_evil(challenge)
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_rebound_page_gets_nothing_from_the_mcp_resource_without_a_token(browser):
    """The credential of ``/mcp`` and ``/api`` routes is a bearer token, which no browser
    adds by itself: a rebinding page, even with the user's session alive, is a stranger."""
    _, tokens = log_in(browser)
    assert browser.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 200
    rebound = browser.get("/api/me", base_url=EVIL, headers=REBOUND)
    assert rebound.status_code == 401


def test_the_middleware_challenge_does_not_follow_the_host_header():
    middleware = ClerkMiddleware(
        lambda environ, start: [],
        issuer_url="http://127.0.0.1:9",
        client_id="c",
        client_secret="s",
        base_url=BASE_URL,
    )
    answer = Client(middleware).get("/mcp", base_url=EVIL, headers=REBOUND)
    assert answer.status_code == 401
    assert (
        f'"{BASE_URL}/.well-known/oauth-protected-resource/mcp"'
        in answer.headers["WWW-Authenticate"]
    )
    _no_evil(answer.headers["WWW-Authenticate"])


def test_urls_in_the_authorization_flow_do_not_follow_the_host_header(browser):
    auth = Authorization(register(browser)["client_id"])
    page = browser.get(auth.url(), headers={**HTML, "X-Forwarded-Host": "evil.example"})
    _no_evil(page.get_data(as_text=True))
    answer = answer_consent(browser, consent_fields(page))
    assert answer.status_code == 303
    to_clerk = answer.headers["Location"]
    _no_evil(to_clerk)
    assert "redirect_uri=" + "http%3A%2F%2F127.0.0.1%3A5000%2Fauth%2Fcallback" in to_clerk


CORS_ENDPOINTS = [
    ("POST", "/oauth/token"),
    ("POST", "/oauth/register"),
    ("POST", "/oauth/revoke"),
    ("GET", "/.well-known/oauth-authorization-server"),
]


@pytest.mark.parametrize(("method", "path"), CORS_ENDPOINTS)
def test_json_endpoints_answer_any_origin_without_credentials(browser, method, path):
    preflight = browser.options(
        path,
        headers={
            "Origin": "https://inspector.example",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )
    actual = browser.open(path, method=method, headers={"Origin": "https://inspector.example"})
    for answer in (preflight, actual):
        assert answer.headers.get("Access-Control-Allow-Origin") == "*"
        assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/oauth/authorize"),
        ("POST", "/oauth/consent"),
        ("OPTIONS", "/oauth/consent"),
        ("GET", "/auth/callback"),
        ("GET", "/login"),
        ("GET", "/account"),
    ],
)
def test_pages_answer_no_origin(browser, method, path):
    answer = browser.open(
        path,
        method=method,
        headers={**HTML, "Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_a_consent_page_is_never_cached_nor_framed(browser):
    auth = Authorization(register(browser)["client_id"])
    page = consent_page(browser, auth)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_answers_carrying_codes_or_tokens_are_never_cached(browser):
    """The redirect with the proxy code, the token answer, a denial and a refusal: each is
    ``no-store``, so no shared cache can hand one user's code or token to another."""
    auth = Authorization(register(browser)["client_id"])
    back = through_clerk(browser, approve(browser, auth))
    code = client_redirect(back, auth)["code"]
    tokens = redeem(browser, auth, code)
    assert tokens.status_code == 200
    denied = answer_consent(browser, consent_fields(consent_page(browser, auth)), action="deny")
    assert denied.status_code == 302
    refused = browser.post("/oauth/token", data={"client_id": auth.client_id})
    assert refused.status_code == 400
    for answer in (back, tokens, denied, refused):
        assert answer.headers["Cache-Control"] == "no-store"
