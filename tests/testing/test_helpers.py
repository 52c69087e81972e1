"""flask_clerk_mcp.testing directly: interception bounds, stand-in rules, clear errors."""

from __future__ import annotations

import pytest
import requests

from flask_clerk_mcp.errors import InvalidToken, UpstreamUnavailable
from flask_clerk_mcp.testing import (
    EmulatedClerk,
    StandInVerifier,
    emulated_clerk,
    stand_in_verifier,
)
from flask_clerk_mcp.verifier import ClerkVerifier
from flask_clerk_mcp.wsgi import ClerkMiddleware
from tests.support.emulator import running_emulator
from tests.unit.conftest import build_app


def test_only_the_apps_issuer_is_intercepted_and_only_inside_the_block():
    with running_emulator() as other:
        app = build_app({"CLERK_ISSUER_URL": other.issuer, "CLERK_DOMAIN": None})
        with emulated_clerk(app) as clerk:
            # the app's own issuer is answered in-process, by the emulated Clerk
            assert app.test_client().post("/mcp", headers=clerk.headers()).status_code == 200
            assert clerk.emulator.controls.counters()["token_info"] == 1
        assert other.emulator.controls.counters().get("token_info", 0) == 0
        # outside the block the same URL goes over the socket, to the real server again
        answer = requests.get(other.issuer + "/.well-known/jwks.json", timeout=5)
        assert answer.status_code == 200
        assert other.emulator.controls.counters()["jwks"] == 1


def test_another_origin_is_not_intercepted():
    with running_emulator() as other:
        with emulated_clerk(build_app()):
            answer = requests.get(other.issuer + "/.well-known/jwks.json", timeout=5)
        assert answer.status_code == 200
        assert other.emulator.controls.counters()["jwks"] == 1


def test_cookies_set_in_process_reach_the_session():
    """The sign-in flow needs the emulator's browser cookie to come back (requests' jar)."""
    with emulated_clerk(build_app()) as clerk:
        session = requests.Session()
        session.get(
            clerk.settings.issuer + "/oauth/authorize",
            params={
                "client_id": clerk.settings.client_id,
                "redirect_uri": "http://127.0.0.1/flask-clerk-mcp-testing/callback",
                "response_type": "code",
                "scope": "openid",
                "state": "state-long-enough",
            },
            timeout=5,
        )
        assert len(session.cookies) == 1


def test_a_token_for_the_same_subject_gets_the_latest_claims():
    app = build_app()
    with emulated_clerk(app) as clerk:
        client = app.test_client()
        client.post("/mcp", headers=clerk.headers("user_1", claims={"email": "a@example.com"}))
        second = client.post(
            "/mcp", headers=clerk.headers("user_1", claims={"email": "b@example.com"})
        )
    assert second.get_json()["claims"]["email"] == "b@example.com"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.token(claims={"role": "admin"}), "no claim named role"),
        (lambda c: c.token(scopes=["openid", "notes:write"]), "stand_in_verifier"),
    ],
)
def test_what_clerk_cannot_issue_is_a_clear_error(call, message):
    with emulated_clerk(build_app()) as clerk, pytest.raises(ValueError, match=message):
        call(clerk)


def test_a_token_outside_the_block_is_refused():
    clerk = EmulatedClerk(build_app().extensions["clerk_mcp"].settings)
    with pytest.raises(RuntimeError, match="context manager"):
        clerk.token()


def test_an_app_without_a_secret_is_told_why():
    with pytest.warns(UserWarning, match="CLERK_CLIENT_SECRET"):
        app = build_app({"CLERK_CLIENT_SECRET": None})
    with pytest.raises(ValueError, match="CLERK_CLIENT_SECRET"):
        EmulatedClerk(app.extensions["clerk_mcp"].settings)


def test_the_stand_in_is_put_back_after_the_block():
    app = build_app()
    with stand_in_verifier(app) as stand_in:
        assert app.extensions["clerk_mcp"].verifier is stand_in
        assert stand_in.upstream is not None
    assert isinstance(app.extensions["clerk_mcp"].verifier, ClerkVerifier)


def test_the_stand_in_replaces_a_middlewares_verifier():
    middleware = ClerkMiddleware(
        lambda environ, start_response: [],
        domain="example-app-16.clerk.accounts.dev",
        client_id="c",
        client_secret="s",
        base_url="https://mcp.example.com",
    )
    original = middleware.verifier
    with stand_in_verifier(middleware) as stand_in:
        assert middleware.verifier is stand_in
        assert stand_in.client_id == "c"
    assert middleware.verifier is original


def test_a_wrong_target_is_a_type_error():
    with pytest.raises(TypeError, match="ClerkMCP or a ClerkMiddleware"):
        with stand_in_verifier(object()):
            pass


def test_stand_in_rules():
    verifier = StandInVerifier("mine", accepted_client_ids=["mine", "partner"])
    good = verifier.verify(verifier.issue("user_1", ["a:b"], {"k": 1}))
    assert (good.subject, good.scopes, good.claims["k"]) == ("user_1", ("a:b",), 1)
    assert verifier.verify(verifier.issue(client_id="partner")).client_id == "partner"
    refused = {
        verifier.issue(client_id="stranger"): "not issued for this server",
        verifier.issue(expires_in=0): "has expired",
        "unknown": "not active",
    }
    for token, reason in refused.items():
        with pytest.raises(InvalidToken, match=reason):
            verifier.verify(token)
    revoked = verifier.issue()
    verifier.revoke(revoked)
    with pytest.raises(InvalidToken, match="not active"):
        verifier.verify(revoked)
    anyone = StandInVerifier("x", accepted_client_ids=["*"])
    assert anyone.verify(anyone.issue(client_id="y")).client_id == "y"
    anyone.unavailable = True
    with pytest.raises(UpstreamUnavailable):
        anyone.verify(anyone.issue())


def test_the_stand_in_never_shows_its_tokens():
    verifier = StandInVerifier()
    token = verifier.issue()
    assert token not in repr(verifier)
    assert token not in repr(verifier.verify(token))
