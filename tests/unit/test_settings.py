"""Configuration: coercion, defaults, and errors that name their key."""

from __future__ import annotations

import warnings

import pytest
from flask import Flask

from flask_clerk_mcp import ClerkMCP, ConfigurationError
from flask_clerk_mcp.settings import load_settings

from .conftest import BASE_CONFIG, CLIENT_ID


def settings(**config: object):
    merged = {**BASE_CONFIG, **config}
    return load_settings({k: v for k, v in merged.items() if v is not None})


def test_defaults():
    s = settings()
    assert s.issuer == "https://example-app-16.clerk.accounts.dev"
    assert s.introspection_endpoint == s.issuer + "/oauth/token_info"
    assert s.userinfo_endpoint == s.issuer + "/oauth/userinfo"
    assert s.revocation_endpoint == s.issuer + "/oauth/token/revoke"
    assert s.mcp_path == "/mcp"
    assert s.redirect_path == "/auth/callback"
    assert s.required_scopes == ("openid", "email", "profile")
    assert s.timeout == (3.05, 10.0)
    assert s.cache_ttl == 60
    assert s.mcp_mode == "proxy"
    assert s.accepted_client_ids == (CLIENT_ID,)
    assert s.offline_access is True
    assert s.mcp_resource == "https://mcp.example.com/mcp"
    assert s.verification == "jwt+introspection"


@pytest.mark.parametrize("mode", ["introspection", "JWT+Introspection", " jwt "])
def test_token_verification_modes(mode):
    assert settings(CLERK_TOKEN_VERIFICATION=mode).verification == mode.strip().lower()


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"CLERK_DOMAIN": None}, "CLERK_DOMAIN"),
        ({"CLERK_DOMAIN": "https://x.clerk.accounts.dev"}, "CLERK_DOMAIN"),
        ({"CLERK_DOMAIN": "x.clerk.accounts.dev/oauth"}, "CLERK_DOMAIN"),
        ({"CLERK_DOMAIN": "bad domain"}, "CLERK_DOMAIN"),
        ({"CLERK_CLIENT_ID": None}, "CLERK_CLIENT_ID"),
        ({"CLERK_BASE_URL": None}, "CLERK_BASE_URL"),
        ({"CLERK_BASE_URL": "mcp.example.com"}, "CLERK_BASE_URL"),
        ({"CLERK_BASE_URL": "https://mcp.example.com/?x=1"}, "CLERK_BASE_URL"),
        ({"CLERK_ISSUER_URL": "http://clerk.example.com"}, "CLERK_ISSUER_URL"),
        ({"CLERK_ISSUER_URL": "ftp://127.0.0.1"}, "CLERK_ISSUER_URL"),
        ({"CLERK_ISSUER_URL": "https://127.0.0.1:99999"}, "CLERK_ISSUER_URL"),
        ({"CLERK_MCP_MODE": "sideways"}, "CLERK_MCP_MODE"),
        ({"CLERK_TOKEN_VERIFICATION": "local"}, "CLERK_TOKEN_VERIFICATION"),
        ({"CLERK_TOKEN_VERIFICATION": ""}, "CLERK_TOKEN_VERIFICATION"),
        ({"CLERK_TOKEN_VERIFICATION": True}, "CLERK_TOKEN_VERIFICATION"),
        ({"CLERK_MCP_PATH": "mcp"}, "CLERK_MCP_PATH"),
        ({"CLERK_REDIRECT_PATH": "//evil.example/cb"}, "CLERK_REDIRECT_PATH"),
        ({"CLERK_TIMEOUT": "soon"}, "CLERK_TIMEOUT"),
        ({"CLERK_TIMEOUT": [1, 2, 3]}, "CLERK_TIMEOUT"),
        ({"CLERK_TIMEOUT": -1}, "CLERK_TIMEOUT"),
        ({"CLERK_CACHE_TTL": -5}, "CLERK_CACHE_TTL"),
        ({"CLERK_CACHE_TTL": "a minute"}, "CLERK_CACHE_TTL"),
        ({"CLERK_LOGIN": "maybe"}, "CLERK_LOGIN"),
        ({"CLERK_OFFLINE_ACCESS": "perhaps"}, "CLERK_OFFLINE_ACCESS"),
        ({"CLERK_REQUIRED_SCOPES": 'email "quoted"'}, "CLERK_REQUIRED_SCOPES"),
        ({"CLERK_REQUIRED_SCOPES": {"email": 1}}, "CLERK_REQUIRED_SCOPES"),
    ],
)
def test_errors_name_their_key(config, key):
    with pytest.raises(ConfigurationError) as info:
        settings(**config)
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_init_app_fails_naming_the_key():
    app = Flask("x")
    app.config.update({**BASE_CONFIG, "CLERK_BASE_URL": ""})
    with pytest.raises(ConfigurationError, match="CLERK_BASE_URL"):
        ClerkMCP(app)
    assert "clerk_mcp" not in app.extensions


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:8123", "http://localhost:9000", "http://[::1]:9000/"]
)
def test_http_issuer_allowed_on_loopback_only(issuer):
    s = settings(CLERK_DOMAIN=None, CLERK_ISSUER_URL=issuer)
    assert s.issuer == issuer.rstrip("/")
    assert s.introspection_endpoint == issuer.rstrip("/") + "/oauth/token_info"


def test_issuer_url_wins_over_domain():
    s = settings(CLERK_ISSUER_URL="https://clerk.example.com/")
    assert s.issuer == "https://clerk.example.com"


def test_base_url_is_normalised_once():
    s = settings(CLERK_BASE_URL="https://MCP.Example.com/", CLERK_MCP_PATH="/v1/mcp")
    assert s.base_url == "https://mcp.example.com"
    assert s.mcp_resource == "https://mcp.example.com/v1/mcp"


def test_paths_are_kept_as_given_trailing_slash_included():
    """Issue 8 item 9: "/mcp/" silently became "/mcp", so ``resource`` was not the URL
    clients call."""
    s = settings(CLERK_MCP_PATH="/mcp/", CLERK_REDIRECT_PATH="/auth/callback/")
    assert s.mcp_path == "/mcp/"
    assert s.mcp_resource == "https://mcp.example.com/mcp/"
    assert s.redirect_path == "/auth/callback/"


def test_coercion_from_prefixed_env(monkeypatch):
    monkeypatch.setenv("FLASK_CLERK_DOMAIN", "example-app-16.clerk.accounts.dev")
    monkeypatch.setenv("FLASK_CLERK_CLIENT_ID", "12345")  # JSON number
    monkeypatch.setenv("FLASK_CLERK_CLIENT_SECRET", "s")
    monkeypatch.setenv("FLASK_CLERK_BASE_URL", "https://mcp.example.com")
    monkeypatch.setenv("FLASK_CLERK_CACHE_TTL", "30")
    monkeypatch.setenv("FLASK_CLERK_TIMEOUT", "[1, 4.5]")
    monkeypatch.setenv("FLASK_CLERK_REQUIRED_SCOPES", '["openid", "email"]')
    monkeypatch.setenv("FLASK_CLERK_OFFLINE_ACCESS", "false")
    monkeypatch.setenv("FLASK_CLERK_ACCEPTED_CLIENT_IDS", "a,b  c")
    app = Flask("env")
    app.config.from_prefixed_env()
    s = load_settings(app.config)
    assert s.client_id == "12345"
    assert s.cache_ttl == 30
    assert s.timeout == (1.0, 4.5)
    assert s.required_scopes == ("openid", "email")
    assert s.offline_access is False
    assert s.accepted_client_ids == ("a", "b", "c")


@pytest.mark.parametrize(
    ("value", "expected"), [(5, (5.0, 5.0)), ("2.5", (2.5, 2.5)), ("1,9", (1.0, 9.0))]
)
def test_timeout_forms(value, expected):
    assert settings(CLERK_TIMEOUT=value).timeout == expected


def test_constructor_options_override_config():
    app = Flask("o")
    app.config.update(BASE_CONFIG)
    ClerkMCP(app, client_id="from_kwargs", cache_ttl=0)
    state = app.extensions["clerk_mcp"]
    assert state.settings.client_id == "from_kwargs"
    assert state.settings.cache_ttl == 0


def test_unknown_constructor_option_is_a_type_error():
    app = Flask("o")
    app.config.update(BASE_CONFIG)
    with pytest.raises(TypeError, match="clientid"):
        ClerkMCP(app, clientid="x")


def test_misspelt_key_is_warned_about():
    with pytest.warns(UserWarning, match="CLERK_CLIENT_SECERT"):
        settings(CLERK_CLIENT_SECERT="x")


def test_missing_secret_is_a_warning_not_an_error():
    with pytest.warns(UserWarning, match="CLERK_CLIENT_SECRET"):
        s = settings(CLERK_CLIENT_SECRET=None)
    assert s.client_secret is None


def test_complete_config_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings()


def test_both_modes_accepted():
    assert settings(CLERK_MCP_MODE="direct").mcp_mode == "direct"
    assert settings(CLERK_MCP_MODE="PROXY").mcp_mode == "proxy"


def test_repr_hides_the_secret():
    assert "s3cr3t" not in repr(settings())


def test_one_extension_serves_two_apps_without_sharing_state():
    ext = ClerkMCP()
    apps = []
    for client in ("one", "two"):
        app = Flask(client)
        app.config.update({**BASE_CONFIG, "CLERK_CLIENT_ID": client})
        ext.init_app(app)
        apps.append(app)
    assert [a.extensions["clerk_mcp"].settings.client_id for a in apps] == ["one", "two"]
    assert not hasattr(ext, "app")
    assert ClerkMCP.state(apps[0]) is apps[0].extensions["clerk_mcp"]


# -- issue 8: key material, ids, and keys validated whether used or not ----------------------
@pytest.mark.parametrize(
    "value",
    [True, False, 1, 0, 12345678901234567890123, 3.5, ["k" * 32], "short", b"short", "   "],
    ids=repr,
)
def test_store_key_must_be_text_or_bytes_of_a_sensible_length(value):
    with pytest.raises(ConfigurationError) as info:
        settings(CLERK_STORE_KEY=value)
    assert info.value.key == "CLERK_STORE_KEY"


@pytest.mark.parametrize("env", ["true", "1", "12345678901234567890123", "3.5"])
def test_store_key_from_prefixed_env_that_json_turns_into_a_non_string_is_refused(monkeypatch, env):
    monkeypatch.setenv("FLASK_CLERK_STORE_KEY", env)
    app = Flask("env")
    app.config.update(BASE_CONFIG)
    app.config.from_prefixed_env()
    with pytest.raises(ConfigurationError, match=r"^CLERK_STORE_KEY"):
        ClerkMCP(app)


@pytest.mark.parametrize("value", ["k" * 16, b"\x01" * 16, "a long passphrase of words"])
def test_store_key_accepts_text_and_bytes(value):
    assert settings(CLERK_STORE_KEY=value).store_key == value


@pytest.mark.parametrize("secret_key", [True, 1, 3.5])
def test_a_secret_key_that_is_not_text_is_refused_as_key_material(secret_key):
    app = Flask("x")
    app.config.update({**BASE_CONFIG, "SECRET_KEY": secret_key})
    with pytest.raises(ConfigurationError, match=r"^SECRET_KEY"):
        ClerkMCP(app)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("FLASK_CLERK_CLIENT_ID", "1e5", "1e5"),
        ("FLASK_CLERK_CLIENT_ID", "12345", "12345"),
        ("FLASK_CLERK_CLIENT_ID", "1.50", "1.50"),
    ],
)
def test_ids_from_prefixed_env_keep_their_text(monkeypatch, name, raw, expected):
    monkeypatch.setenv(name, raw)
    app = Flask("env")
    app.config.update({k: v for k, v in BASE_CONFIG.items() if k != "CLERK_CLIENT_ID"})
    app.config.from_prefixed_env()
    assert load_settings(app.config).client_id == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12345", ("12345",)), ("1e5", ("1e5",)), ('[12345, 1e5, "x"]', ("12345", "1e5", "x"))],
)
def test_accepted_client_ids_from_prefixed_env_are_strings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLASK_CLERK_ACCEPTED_CLIENT_IDS", raw)
    app = Flask("env")
    app.config.update(BASE_CONFIG)
    app.config.from_prefixed_env()
    assert load_settings(app.config).accepted_client_ids == expected


def test_a_float_id_whose_text_is_lost_is_refused_naming_the_key():
    with pytest.raises(ConfigurationError, match=r"^CLERK_CLIENT_ID"):
        settings(CLERK_CLIENT_ID=100000.0)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"CLERK_CACHE": "memcached://x", "CLERK_CACHE_TTL": 0}, "CLERK_CACHE"),
        ({"CLERK_CACHE": 42, "CLERK_CACHE_TTL": 0}, "CLERK_CACHE"),
        ({"CLERK_CACHE": "redis://"}, "CLERK_CACHE"),
        ({"CLERK_CACHE": "redis://host:99999/0"}, "CLERK_CACHE"),
        ({"CLERK_CACHE": "redis://host/notadb"}, "CLERK_CACHE"),
        ({"CLERK_CACHE": "filesystem:"}, "CLERK_CACHE"),
        ({"CLERK_STORE": "bogus", "CLERK_LOGIN": False}, "CLERK_STORE"),
        ({"CLERK_STORE": "file:", "CLERK_LOGIN": False}, "CLERK_STORE"),
        ({"CLERK_STORE": 42, "CLERK_LOGIN": False}, "CLERK_STORE"),
        ({"CLERK_STORE": "rediss://:pw@", "CLERK_LOGIN": False}, "CLERK_STORE"),
        ({"CLERK_ALLOWED_REDIRECT_URIS": "notaurl"}, "CLERK_ALLOWED_REDIRECT_URIS"),
        ({"CLERK_ALLOWED_REDIRECT_URIS": "http://"}, "CLERK_ALLOWED_REDIRECT_URIS"),
        (
            {"CLERK_ALLOWED_REDIRECT_URIS": "http://localhost:*/cb#frag"},
            "CLERK_ALLOWED_REDIRECT_URIS",
        ),
        ({"CLERK_ALLOWED_REDIRECT_URIS": "/relative/cb"}, "CLERK_ALLOWED_REDIRECT_URIS"),
    ],
)
def test_every_key_is_validated_at_init_app_used_or_not(config, key):
    app = Flask("x")
    app.config.update({**BASE_CONFIG, **config})
    with pytest.raises(ConfigurationError) as info:
        ClerkMCP(app)
    assert info.value.key == key
    assert "pw" not in str(info.value)


@pytest.mark.parametrize(
    "uris",
    [
        "http://localhost:* https://app.example.com/callback",
        ["http://127.0.0.1:*/cb", "myapp://oauth/callback"],
    ],
)
def test_honest_redirect_uri_patterns_are_accepted(uris):
    assert settings(CLERK_ALLOWED_REDIRECT_URIS=uris).allowed_redirect_uris


def test_a_numeric_secret_whose_spelling_is_lost_is_named_but_never_repeated(monkeypatch):
    # from_prefixed_env turned FLASK_CLERK_CLIENT_SECRET=1.5e300 into a float; no variable
    # holds it now, so its spelling is lost: the error names the key, never the value.
    monkeypatch.delenv("FLASK_CLERK_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE_CONFIG, "CLERK_CLIENT_SECRET": 1.5e300})
    assert info.value.key == "CLERK_CLIENT_SECRET"
    assert "1.5e+300" not in str(info.value) and "1.5e300" not in str(info.value)
