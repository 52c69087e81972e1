"""``browser=True`` through the core's hooks (the login blueprint fills them in for real)."""

from __future__ import annotations

import pytest
from flask import Flask

from flask_clerk_mcp import ClerkMCP, current_token, require_clerk

from .conftest import (
    BASE_CONFIG,
    BASE_URL,
    TOKEN,
    active,
    answer_introspection,
    answer_userinfo,
    bearer,
)

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def browser_app() -> Flask:
    app = Flask("browser")
    app.config.update(BASE_CONFIG)
    ClerkMCP(app)
    state = app.extensions["clerk_mcp"]
    app.config["SESSION_TOKEN"] = None
    app.config["FORGOTTEN"] = 0
    state.session_credentials = lambda: app.config["SESSION_TOKEN"]

    def forget() -> None:
        app.config["FORGOTTEN"] += 1
        app.config["SESSION_TOKEN"] = None

    state.on_session_rejected = forget
    state.login_endpoint = "login"
    app.add_url_rule("/login", "login", lambda: "login page")

    @app.route("/account", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @require_clerk(browser=True)
    def account() -> str:
        return f"Hello {current_token.claims.get('email')}"

    @app.get("/api")
    @require_clerk
    def api() -> str:
        return "api"

    return app


def test_html_get_without_credentials_goes_to_login_with_next(browser_app):
    response = browser_app.test_client().get("/account?tab=1", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account?tab%3D1"


def test_json_client_without_credentials_gets_the_rfc6750_answer(browser_app):
    response = browser_app.test_client().get("/account", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert "resource_metadata" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("origin", [{}, {"Origin": BASE_URL}], ids=["no-origin", "same-origin"])
def test_post_without_credentials_is_never_redirected(browser_app, origin):
    """The route allows POST, so this reaches the decorator: a redirect would lose the body."""
    response = browser_app.test_client().post("/account", headers={**HTML, **origin})
    assert response.status_code == 401
    assert "Location" not in response.headers


def test_session_is_a_credential_on_browser_routes_only(browser_app, clerk):
    browser_app.config["SESSION_TOKEN"] = TOKEN
    answer_introspection(clerk)
    answer_userinfo(clerk)
    client = browser_app.test_client()
    assert client.get("/account", headers=HTML).get_data(as_text=True) == (
        "Hello alice@example.com"
    )
    assert client.get("/api", headers=HTML).status_code == 401


def test_authorization_header_wins_over_the_session(browser_app, clerk):
    browser_app.config["SESSION_TOKEN"] = "oat_session_token"
    answer_introspection(clerk, active(sub="user_bob"))
    answer_userinfo(clerk, {"sub": "user_bob", "email": "bob@example.com"})
    response = browser_app.test_client().get("/account", headers=bearer())
    assert response.get_data(as_text=True) == "Hello bob@example.com"
    assert clerk.calls[0].request.body.startswith(f"token={TOKEN}")


def test_refused_session_token_is_forgotten_and_the_browser_sent_to_login(browser_app, clerk):
    browser_app.config["SESSION_TOKEN"] = TOKEN
    answer_introspection(clerk, {"active": False})
    response = browser_app.test_client().get("/account", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert browser_app.config["FORGOTTEN"] == 1


def test_clerk_outage_does_not_forget_the_session(browser_app, clerk):
    browser_app.config["SESSION_TOKEN"] = TOKEN
    answer_introspection(clerk, "down", status=502)
    response = browser_app.test_client().get("/account", headers=HTML)
    assert response.status_code == 503
    assert browser_app.config["FORGOTTEN"] == 0


# -- unsafe methods on the session cookie: same origin only (CSRF) -----------------------
SAME_ORIGIN = {"Origin": BASE_URL}
CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    # Same site, other origin: SameSite=Lax still sends the cookie from these.
    {"Origin": "https://mcp.example.com:8443"},
    {"Origin": "https://other.mcp.example.com"},
    {"Origin": "http://mcp.example.com"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {},  # neither header: the request cannot prove where it comes from
]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("headers", CROSS_SITE, ids=repr)
def test_unsafe_method_on_the_session_needs_a_same_origin_request(
    browser_app, clerk, method, headers
):
    browser_app.config["SESSION_TOKEN"] = TOKEN
    answer_introspection(clerk)
    answer_userinfo(clerk)
    response = browser_app.test_client().open("/account", method=method, headers=headers)
    assert response.status_code == 401
    assert "Hello" not in response.get_data(as_text=True)
    assert len(clerk.calls) == 0  # the session's token was never even looked at
    assert browser_app.config["FORGOTTEN"] == 0  # nor the session ended


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "headers",
    [
        SAME_ORIGIN,
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    ],
    ids=repr,
)
def test_unsafe_method_on_the_session_from_our_own_pages_is_served(
    browser_app, clerk, method, headers
):
    browser_app.config["SESSION_TOKEN"] = TOKEN
    answer_introspection(clerk)
    answer_userinfo(clerk)
    response = browser_app.test_client().open("/account", method=method, headers=headers)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "Hello alice@example.com"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_a_bearer_token_is_not_subject_to_the_origin_check(browser_app, clerk, method):
    """A bearer token is not ambient: a cross-site page cannot make the browser send it."""
    answer_introspection(clerk)
    answer_userinfo(clerk)
    headers = {**bearer(), "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    response = browser_app.test_client().open("/account", method=method, headers=headers)
    assert response.status_code == 200


def test_safe_methods_on_the_session_need_no_origin(browser_app, clerk):
    browser_app.config["SESSION_TOKEN"] = TOKEN
    answer_introspection(clerk)
    answer_userinfo(clerk)
    cross = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert browser_app.test_client().get("/account", headers=cross).status_code == 200
