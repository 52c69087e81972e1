"""Metadata, registration, revocation, and the mode switch of ``init_app``."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from flask_clerk_mcp import ClerkMCP
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.errors import ConfigurationError
from tests.login.conftest import BASE_URL, build_app, counters
from tests.mcp.flow import DCR_REQUEST, bearer, log_in, register

AS_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


# -- authorization-server metadata -----------------------------------------------------------
@pytest.mark.parametrize("path", AS_PATHS)
def test_as_metadata_names_this_server_byte_for_byte(browser, path):
    response = browser.get(path)
    assert response.status_code == 200
    document = response.get_json()
    assert document["issuer"] == BASE_URL
    assert document["authorization_endpoint"] == BASE_URL + "/oauth/authorize"
    assert document["token_endpoint"] == BASE_URL + "/oauth/token"
    assert document["registration_endpoint"] == BASE_URL + "/oauth/register"
    assert document["revocation_endpoint"] == BASE_URL + "/oauth/revoke"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["token_endpoint_auth_methods_supported"] == ["none"]
    assert document["client_id_metadata_document_supported"] is True
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["scopes_supported"] == ["openid", "email", "profile", "offline_access"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_protected_resource_documents_name_this_server_in_proxy_mode(browser):
    for path in (
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ):
        assert browser.get(path).get_json()["authorization_servers"] == [BASE_URL]


def test_with_a_base_path_the_path_inserted_forms_are_served(make_proxy_app):
    app = make_proxy_app(CLERK_BASE_URL="http://127.0.0.1:5000/tenant")
    client = app.test_client()
    for path in (
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/.well-known/openid-configuration",
    ):
        document = client.get(path).get_json()
        assert document["issuer"] == "http://127.0.0.1:5000/tenant"
        assert document["token_endpoint"] == "http://127.0.0.1:5000/tenant/oauth/token"


def test_as_scopes_follow_clerk_scopes_supported(make_proxy_app):
    client = make_proxy_app(CLERK_SCOPES_SUPPORTED="openid email profile notes:write").test_client()
    document = client.get(AS_PATHS[0]).get_json()
    assert document["scopes_supported"] == [
        "openid",
        "email",
        "profile",
        "notes:write",
        "offline_access",
    ]


def test_cimd_off_is_advertised(make_proxy_app):
    client = make_proxy_app(CLERK_CIMD=False).test_client()
    document = client.get(AS_PATHS[0]).get_json()
    assert document["client_id_metadata_document_supported"] is False


# -- registration ----------------------------------------------------------------------------
def test_registration_answers_a_public_client_with_cors(browser):
    response = browser.post(
        "/oauth/register", json={**DCR_REQUEST, "token_endpoint_auth_method": "client_secret_post"}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "uri",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "http://user@127.0.0.1:1234/cb",
        "http://127.0.0.1:1234/cb#frag",
        "http://127.0.0.1:1234/a/../cb",
        "https://evil.example/cb",  # not in CLERK_ALLOWED_REDIRECT_URIS (loopback only)
    ],
)
def test_registration_refuses_bad_redirect_uris(browser, uri):
    response = browser.post("/oauth/register", json={**DCR_REQUEST, "redirect_uris": [uri]})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_redirect_uri"


def test_registration_follows_the_allowed_redirect_uris(make_proxy_app):
    client = make_proxy_app(CLERK_ALLOWED_REDIRECT_URIS="https://app.example.com/cb").test_client()
    ok = client.post(
        "/oauth/register", json={**DCR_REQUEST, "redirect_uris": ["https://app.example.com/cb"]}
    )
    assert ok.status_code == 201
    refused = client.post("/oauth/register", json=DCR_REQUEST)
    assert refused.get_json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": "{}", "content_type": "text/plain"}, 400, "invalid_client_metadata"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_client_metadata"),
        ({"data": "[1]", "content_type": "application/json"}, 400, "invalid_client_metadata"),
        ({"data": "[" * 10000, "content_type": "application/json"}, 400, "invalid_client_metadata"),
        (
            {"json": {"redirect_uris": ["http://127.0.0.1:1/cb"], "x": "y" * 20000}},
            413,
            "invalid_request",
        ),
    ],
)
def test_registration_refuses_bad_bodies_with_json(browser, kwargs, status, error):
    response = browser.post("/oauth/register", **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"] == error


# -- revocation ------------------------------------------------------------------------------
def test_another_clients_token_is_left_alone(browser, emulator):
    _auth, tokens = log_in(browser)
    thief = register(browser)["client_id"]
    before = counters(emulator).get("revoke", 0)
    answer = browser.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": thief}
    )
    assert answer.status_code == 200
    assert counters(emulator).get("revoke", 0) == before  # Clerk was not asked
    assert browser.get("/api/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_an_unknown_token_is_200_without_asking_clerk(browser, emulator):
    client_id = register(browser)["client_id"]
    before = counters(emulator).get("revoke", 0)
    answer = browser.post("/oauth/revoke", data={"token": "nope", "client_id": client_id})
    assert answer.status_code == 200
    assert counters(emulator).get("revoke", 0) == before


def test_revocation_errors_are_json(browser):
    client_id = register(browser)["client_id"]
    assert (
        browser.post("/oauth/revoke", data={"client_id": client_id}).get_json()["error"]
        == "invalid_request"
    )
    unknown = browser.post("/oauth/revoke", data={"token": "t", "client_id": "mcp_" + "z" * 32})
    assert unknown.status_code == 401 and unknown.get_json()["error"] == "invalid_client"
    assert browser.options("/oauth/revoke").headers["Access-Control-Allow-Origin"] == "*"


# -- the mode switch -------------------------------------------------------------------------
def app_with(**config):
    app = Flask("mode")
    app.config.update(
        CLERK_ISSUER_URL="http://127.0.0.1:1",
        CLERK_CLIENT_ID=DEMO_CLIENT_ID,
        CLERK_BASE_URL=BASE_URL,
        CLERK_STORE="memory:",
    )
    app.config.update(config)
    return app


def test_default_mode_without_a_secret_serves_direct_and_warns_once(caplog):
    app = app_with(SECRET_KEY="k" * 20)
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp"), pytest.warns(UserWarning):
        ClerkMCP(app)
    warnings = [r for r in caplog.records if "CLERK_MCP_MODE" in r.getMessage()]
    assert len(warnings) == 1 and "CLERK_CLIENT_SECRET" in warnings[0].getMessage()
    client = app.test_client()
    assert client.get(AS_PATHS[0]).status_code == 404
    assert client.post("/oauth/register", json=DCR_REQUEST).status_code == 404
    document = client.get("/.well-known/oauth-protected-resource/mcp").get_json()
    assert document["authorization_servers"] == ["http://127.0.0.1:1"]


def test_default_mode_without_secret_key_serves_direct(caplog):
    app = app_with(CLERK_CLIENT_SECRET=DEMO_CLIENT_SECRET)
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp"):
        ClerkMCP(app)
    assert any("SECRET_KEY" in r.getMessage() for r in caplog.records)
    assert ClerkMCP.state(app).settings.mcp_mode == "direct"


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"SECRET_KEY": "k" * 20}, "CLERK_CLIENT_SECRET"),
        ({"CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET}, "SECRET_KEY"),
    ],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_explicit_proxy_mode_names_what_is_missing(config, key):
    with pytest.raises(ConfigurationError) as info:
        ClerkMCP(app_with(CLERK_MCP_MODE="proxy", **config))
    assert info.value.key == key


def test_direct_mode_serves_no_authorization_server(emulator):
    app = build_app(emulator.issuer, CLERK_MCP_MODE="direct")
    client = app.test_client()
    for path in (*AS_PATHS, "/oauth/authorize", "/oauth/token", "/oauth/register", "/oauth/revoke"):
        assert client.get(path).status_code in (404, 405) and path
        assert client.post(path).status_code in (404, 405)
    document = client.get("/.well-known/oauth-protected-resource").get_json()
    assert document["authorization_servers"] == [emulator.issuer]


def test_full_configuration_defaults_to_proxy_without_warning(emulator, caplog):
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp"):
        app = build_app(emulator.issuer)
    assert ClerkMCP.state(app).settings.mcp_mode == "proxy"
    assert not [r for r in caplog.records if "CLERK_MCP_MODE" in r.getMessage()]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"CLERK_REFRESH_GRACE": -1}, "CLERK_REFRESH_GRACE"),
        ({"CLERK_REFRESH_GRACE": 301}, "CLERK_REFRESH_GRACE"),
        ({"CLERK_REFRESH_GRACE": "soon"}, "CLERK_REFRESH_GRACE"),
        ({"CLERK_CIMD": "maybe"}, "CLERK_CIMD"),
        ({"CLERK_CIMD_ALLOW_LOOPBACK": "perhaps"}, "CLERK_CIMD_ALLOW_LOOPBACK"),
        (
            {"CLERK_ALLOWED_REDIRECT_URIS": "https://*.example.com/cb"},
            "CLERK_ALLOWED_REDIRECT_URIS",
        ),
        ({"CLERK_ALLOWED_REDIRECT_URIS": "javascript:alert(1)"}, "CLERK_ALLOWED_REDIRECT_URIS"),
    ],
)
def test_new_keys_are_checked_at_init_app(config, key):
    app = app_with(SECRET_KEY="k" * 20, CLERK_CLIENT_SECRET=DEMO_CLIENT_SECRET, **config)
    with pytest.raises(ConfigurationError) as info:
        ClerkMCP(app)
    assert info.value.key == key


def test_new_keys_parse(make_proxy_app):
    app = make_proxy_app(
        CLERK_REFRESH_GRACE="0", CLERK_CIMD="false", CLERK_CIMD_ALLOW_LOOPBACK="yes"
    )
    settings = ClerkMCP.state(app).settings
    assert (settings.refresh_grace, settings.cimd, settings.cimd_allow_loopback) == (0, False, True)


class _BrokenStore:
    """A store whose every operation fails, as Redis down would."""

    def _fail(self, *args: object, **kwargs: object) -> object:
        from flask_clerk_mcp.store import StoreError

        raise StoreError("store down")

    put = add = get = pop = delete = _fail


@pytest.mark.parametrize(
    ("path", "data", "json_body"),
    [
        ("/oauth/register", None, {"redirect_uris": ["http://127.0.0.1:9/cb"]}),
        ("/oauth/token", {"grant_type": "refresh_token", "client_id": "mcp_" + "a" * 32}, None),
        ("/oauth/revoke", {"token": "x", "client_id": "mcp_" + "a" * 32}, None),
    ],
)
def test_a_store_outage_is_a_503_to_retry_never_a_500(make_proxy_app, path, data, json_body):
    app = make_proxy_app(CLERK_STORE=_BrokenStore())
    answer = app.test_client().post(path, data=data, json=json_body)
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "temporarily_unavailable"
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
