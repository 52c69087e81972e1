"""Probes: no secret reaches a ``repr``, a ``str`` or a log line.

The walk: one app runs the whole proxy flow (registration, consent, Clerk, callback, token,
a bearer call, refresh, revocation, and a few refusals) with every log record captured; then
every live object of a class of this package — found by walking the garbage collector's
objects, so a new class cannot be forgotten — is ``repr``-ed, and neither those nor the log
lines may hold any secret the flow handled: the client secret, ``SECRET_KEY``, the store key,
access and refresh tokens, Clerk's code and the proxy's, the PKCE verifier, the consent CSRF
token and the browser-binding nonce. The objects that hold secrets but live only for a
moment (``TokenSet``, ``AccessToken``, the emulator's ``IssuedTokens``, the stores, the
middleware, the testing helpers) are built here and checked one by one.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_SECRET, EmulatorConfig, OAuthClient
from flask_clerk_mcp.emulator.state import IssuedTokens, TokenRecord
from flask_clerk_mcp.login.oauth import TokenSet
from flask_clerk_mcp.login.transactions import BROWSER_KEY
from flask_clerk_mcp.settings import load_settings
from flask_clerk_mcp.store import FileStore, MemoryStore, StoreCipher
from flask_clerk_mcp.tokens import AccessToken
from flask_clerk_mcp.upstream import Upstream
from tests.login.conftest import at_clerk, callback, query_of
from tests.mcp.flow import (
    Authorization,
    answer_consent,
    authorization_code,
    bearer,
    client_redirect,
    consent_fields,
    consent_page,
    redeem,
    refresh,
    register,
)

SECRET_KEY = "sk-MARKER-4b1f9c0d2e7a4f55-flask-secret"
STORE_KEY = "stk-MARKER-9d8c7b6a5f4e3d2c-store-key"


def _objects_of_this_package() -> Iterator[Any]:
    gc.collect()
    for obj in gc.get_objects():
        module = getattr(type(obj), "__module__", None)
        if isinstance(module, str) and module.startswith("flask_clerk_mcp"):
            yield obj


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value and value in text]


@pytest.fixture
def flow_secrets(make_proxy_app, caplog) -> Iterator[tuple[dict[str, str], Any, list[str]]]:
    """Run the flow; yield the secrets it handled, the app and the formatted log lines."""
    caplog.set_level(logging.DEBUG)
    app = make_proxy_app(SECRET_KEY=SECRET_KEY, CLERK_STORE_KEY=STORE_KEY, CLERK_CACHE_TTL=60)
    browser = app.test_client()
    auth = Authorization(register(browser)["client_id"])
    fields = consent_fields(consent_page(browser, auth))
    clerk_url = answer_consent(browser, fields).headers["Location"]
    back = at_clerk(clerk_url)
    upstream_code = query_of(back)["code"]
    proxy_code = client_redirect(callback(browser, back), auth)["code"]
    assert redeem(browser, auth, proxy_code, code_verifier="x" * 43).status_code == 400
    # that burnt the code: a second authorization gives the tokens
    second = Authorization(auth.client_id)
    fields2 = consent_fields(consent_page(browser, second))
    back2 = at_clerk(answer_consent(browser, fields2).headers["Location"])
    code2 = client_redirect(callback(browser, back2), second)["code"]
    tokens = redeem(browser, second, code2).get_json()
    assert browser.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert browser.get("/api/me", headers=bearer(tokens["access_token"] + "x")).status_code == 401
    rotated = refresh(browser, auth.client_id, tokens["refresh_token"]).get_json()
    assert "access_token" in rotated, rotated
    revoked = browser.post(
        "/oauth/revoke", data={"client_id": auth.client_id, "token": rotated["refresh_token"]}
    )
    assert revoked.status_code == 200
    with browser.session_transaction() as session:
        nonce = session[BROWSER_KEY]
    secrets = {
        "SECRET_KEY": SECRET_KEY,
        "CLERK_STORE_KEY": STORE_KEY,
        "CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "Clerk's code": upstream_code,
        "proxy code (burnt)": proxy_code,
        "proxy code": code2,
        "PKCE verifier": auth.verifier,
        "PKCE verifier 2": second.verifier,
        "CSRF token": fields["csrf_token"],
        "CSRF token 2": fields2["csrf_token"],
        "binding nonce": nonce,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "rotated access token": rotated["access_token"],
        "rotated refresh token": rotated["refresh_token"],
    }
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    yield secrets, app, lines


def test_no_log_line_holds_a_secret(flow_secrets):
    secrets, _, lines = flow_secrets
    assert any("flask_clerk_mcp" in line for line in lines)  # the flow did log
    leaks = {line: _leaks(line, secrets) for line in lines if _leaks(line, secrets)}
    assert leaks == {}


def test_no_live_object_of_this_package_shows_a_secret(flow_secrets):
    secrets, app, _ = flow_secrets
    assert app.extensions["clerk_mcp"]  # the app (and all it holds) is alive for the walk
    walked = 0
    leaks: dict[str, list[str]] = {}
    for obj in _objects_of_this_package():
        walked += 1
        for text in (repr(obj), str(obj)):
            found = _leaks(text, secrets)
            if found:
                leaks[type(obj).__qualname__] = found
    assert walked > 20  # the app's state, stores, verifier, registry, emulator...
    assert leaks == {}


def _secretless(obj: object, *secrets: str) -> None:
    for text in (repr(obj), str(obj)):
        for secret in secrets:
            assert secret not in text, f"{type(obj).__qualname__} shows a secret: {text}"


def test_short_lived_holders_of_secrets_hide_them(tmp_path):
    access, refresh_token = "at-MARKER-0123456789abcdef", "rt-MARKER-fedcba9876543210"
    _secretless(TokenSet(access, refresh_token, None, ("openid",)), access, refresh_token)
    _secretless(
        AccessToken(
            token=access, client_id="c", scopes=(), expires_at=None, subject="u", claims={}
        ),
        access,
    )
    record = TokenRecord("access", "c", "u", (), 0, None, "g")  # type: ignore[arg-type]
    _secretless(IssuedTokens(access, record, refresh_token), access, refresh_token)
    _secretless(OAuthClient("c", "cs-MARKER-secret", ["http://127.0.0.1/cb"]), "cs-MARKER-secret")
    config = EmulatorConfig(clients={"c": OAuthClient("c", "cs-MARKER-secret", [])})
    _secretless(config, "cs-MARKER-secret")
    cipher = StoreCipher.from_secret(STORE_KEY)
    _secretless(cipher, STORE_KEY)
    _secretless(MemoryStore(), STORE_KEY)
    _secretless(FileStore(tmp_path, cipher), STORE_KEY)
    _secretless(Upstream("c", "cs-MARKER-secret", (1, 1)), "cs-MARKER-secret")


def test_settings_and_the_middleware_hide_secrets():
    from flask_clerk_mcp.wsgi import ClerkMiddleware

    config = {
        "CLERK_ISSUER_URL": "http://127.0.0.1:9",
        "CLERK_CLIENT_ID": "c",
        "CLERK_CLIENT_SECRET": "cs-MARKER-secret",
        "CLERK_BASE_URL": "http://127.0.0.1:5000",
        "CLERK_STORE_KEY": STORE_KEY,
        "CLERK_CACHE": "redis://:rp-MARKER-password@127.0.0.1:1/0",
    }
    settings = load_settings(config, {"mcp_mode": "direct", "login": False})
    _secretless(settings, "cs-MARKER-secret", STORE_KEY, "rp-MARKER-password")
    middleware = ClerkMiddleware(lambda e, s: [], config=config)
    _secretless(middleware, "cs-MARKER-secret", STORE_KEY, "rp-MARKER-password")
    _secretless(middleware.verifier, "cs-MARKER-secret", STORE_KEY, "rp-MARKER-password")


def test_the_testing_helpers_hide_secrets():
    from flask_clerk_mcp.testing import EmulatedClerk, StandInVerifier

    settings = load_settings(
        {
            "CLERK_ISSUER_URL": "http://127.0.0.1:9",
            "CLERK_CLIENT_ID": "c",
            "CLERK_CLIENT_SECRET": "cs-MARKER-secret",
            "CLERK_BASE_URL": "http://127.0.0.1:5000",
        },
        {"mcp_mode": "direct", "login": False},
    )
    with EmulatedClerk(settings) as clerk:
        token = clerk.token()
        _secretless(clerk, "cs-MARKER-secret", token)
    stand_in = StandInVerifier()
    issued = stand_in.issue()
    _secretless(stand_in, issued)


def test_refusals_never_echo_the_secret_they_refuse(browser):
    """Error answers say what is wrong in our own words: never the code, verifier or token."""
    auth = Authorization(register(browser)["client_id"])
    code = authorization_code(browser, auth)
    wrong_verifier = "v" * 50
    answers = [
        redeem(browser, auth, code, code_verifier=wrong_verifier),
        redeem(browser, auth, code),  # burnt by the refusal above
        refresh(browser, auth.client_id, "rt-MARKER-unknown-refresh-token"),
        browser.post(
            "/oauth/revoke", data={"client_id": auth.client_id, "token": "at-MARKER-unknown"}
        ),
        browser.get("/api/me", headers=bearer("at-MARKER-not-a-token")),
        browser.post(
            "/oauth/token",
            data={"client_id": auth.client_id, "client_secret": "cs-MARKER-guess"},
        ),
    ]
    for answer in answers:
        text = answer.get_data(as_text=True) + str(answer.headers)
        for secret in (code, wrong_verifier, auth.verifier, "MARKER"):
            assert secret not in text, (answer.status_code, text)
