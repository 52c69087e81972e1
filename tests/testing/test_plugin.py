"""The pytest plugin in a user's project: a sample project's own tests, run by pytest with
the plugin loaded from its ``pytest11`` entry point (not named anywhere in the project)."""

from __future__ import annotations

import textwrap

import pytest

SAMPLE_APP = """
from flask import Flask, g
from flask_clerk_mcp import ClerkMCP, require_clerk
from flask_clerk_mcp.wsgi import ENVIRON_KEY, ClerkMiddleware

SETTINGS = dict(
    CLERK_DOMAIN="sample-app-7.clerk.accounts.dev",
    CLERK_CLIENT_ID="sample_client",
    CLERK_CLIENT_SECRET="sample-secret",
    CLERK_BASE_URL="https://notes.example.com",
    CLERK_LOGIN=False,
)


def create_app():
    app = Flask("sample")
    app.config.update(SETTINGS)
    ClerkMCP(app)

    @app.post("/mcp")
    @require_clerk(scopes=["email"])
    def mcp():
        token = g.access_token
        return {"sub": token.subject, "email": token.claims.get("email"),
                "role": token.claims.get("role")}

    @app.post("/notes")
    @require_clerk(scopes=["notes:write"])
    def notes():
        return {"written_by": g.access_token.subject}

    return app


def plain(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ[ENVIRON_KEY].subject.encode()]


def create_wsgi():
    return ClerkMiddleware(plain, config=SETTINGS)
"""

SAMPLE_CONFTEST = '''
import socket

import pytest

from sample_app import create_app


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """The helpers promise no network: any connection attempt fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def app():
    return create_app()
'''

SAMPLE_TESTS = """
import pytest
from werkzeug.test import Client

from sample_app import create_wsgi


def test_emulated_user_with_chosen_subject_and_claims(app, clerk_emulated):
    headers = clerk_emulated.headers(subject="user_42", claims={"email": "ada@example.org"})
    response = app.test_client().post("/mcp", headers=headers)
    assert response.status_code == 200
    assert response.json == {"sub": "user_42", "email": "ada@example.org", "role": None}


def test_emulated_token_without_the_scope_is_a_403(app, clerk_emulated):
    headers = clerk_emulated.headers(scopes=["openid", "profile"])
    response = app.test_client().post("/mcp", headers=headers)
    assert response.status_code == 403
    assert 'scope="openid email profile"' in response.headers["WWW-Authenticate"]


def test_emulated_token_of_another_client_is_refused(app, clerk_emulated):
    response = app.test_client().post("/mcp", headers=clerk_emulated.headers(client_id="other"))
    assert response.status_code == 401


def test_emulated_revocation(app, clerk_emulated):
    token = clerk_emulated.token()
    clerk_emulated.revoke(token)
    response = app.test_client().post("/mcp", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_no_token_is_a_401(app, clerk_emulated):
    assert app.test_client().post("/mcp").status_code == 401


def test_stand_in_custom_scope_and_claims(app, clerk_stand_in):
    headers = clerk_stand_in.headers(
        "user_7", scopes=["openid", "email", "profile", "notes:write"], claims={"role": "editor"}
    )
    client = app.test_client()
    assert client.post("/notes", headers=headers).json == {"written_by": "user_7"}
    assert client.post("/mcp", headers=headers).json["role"] == "editor"


def test_stand_in_refusals(app, clerk_stand_in):
    client = app.test_client()
    assert client.post("/notes", headers=clerk_stand_in.headers()).status_code == 403
    expired = clerk_stand_in.headers(expires_in=-1)
    assert client.post("/mcp", headers=expired).status_code == 401
    clerk_stand_in.unavailable = True
    assert client.post("/mcp", headers=clerk_stand_in.headers()).status_code == 503


class TestTheMiddleware:
    @pytest.fixture
    def clerk_app(self):
        return create_wsgi()

    def test_emulated(self, clerk_app, clerk_emulated):
        client = Client(clerk_app)
        response = client.get("/mcp", headers=clerk_emulated.headers(subject="user_wsgi"))
        assert response.status_code == 200
        assert response.get_data() == b"user_wsgi"

    def test_stand_in(self, clerk_app, clerk_stand_in):
        response = Client(clerk_app).get("/mcp", headers=clerk_stand_in.headers("user_s"))
        assert response.get_data() == b"user_s"
"""


@pytest.fixture
def sample_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        sample_app=textwrap.dedent(SAMPLE_APP),
        conftest=textwrap.dedent(SAMPLE_CONFTEST),
        test_sample=textwrap.dedent(SAMPLE_TESTS),
    )
    return pytester


def test_the_sample_projects_tests_pass_with_the_plugin(sample_project: pytest.Pytester) -> None:
    result = sample_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=9)


def test_the_plugin_comes_from_the_entry_point(sample_project: pytest.Pytester) -> None:
    """Without the plugin, the fixtures do not exist: the sample's tests cannot run."""
    result = sample_project.runpytest_subprocess("-p", "no:flask_clerk_mcp")
    result.assert_outcomes(errors=9)
    result.stdout.fnmatch_lines(["*fixture 'clerk_emulated' not found*"])


def test_a_failing_user_test_still_fails(sample_project: pytest.Pytester) -> None:
    """The fixtures give real answers: a wrong expectation in a user's test is caught."""
    sample_project.makepyfile(
        test_wrong="""
def test_wrong(app, clerk_emulated):
    headers = clerk_emulated.headers(scopes=["openid", "profile"])
    assert app.test_client().post("/mcp", headers=headers).status_code == 200
"""
    )
    result = sample_project.runpytest_subprocess("test_wrong.py")
    result.assert_outcomes(failed=1)
