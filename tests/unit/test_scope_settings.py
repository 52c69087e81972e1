"""The scope keys (CLERK_SCOPE_IMPLIES, CLERK_SCOPES_SUPPORTED) and CLERK_PUBLISHABLE_KEY."""

from __future__ import annotations

import base64
import json

import pytest
from flask import Flask

from flask_clerk_mcp import ClerkMCP, ConfigurationError
from flask_clerk_mcp.scopes import challenge_scopes, expand, missing, parse_implications
from flask_clerk_mcp.settings import load_settings

from .conftest import BASE_CONFIG, DOMAIN


def settings(**config: object):
    merged = {**BASE_CONFIG, **config}
    return load_settings({k: v for k, v in merged.items() if v is not None})


def publishable_key(host: str, kind: str = "test", padding: bool = False) -> str:
    encoded = base64.b64encode((host + "$").encode()).decode()
    return f"pk_{kind}_" + (encoded if padding else encoded.rstrip("="))


# -- CLERK_SCOPE_IMPLIES ---------------------------------------------------------------------
def test_hierarchy_is_off_by_default():
    s = settings()
    assert dict(s.scope_implies) == {}
    assert missing(("notes",), ("notes:read",), s.scope_implies) == ("notes:read",)


@pytest.mark.parametrize(
    "value",
    [
        {"notes": ["notes:read", "notes:write"]},
        {"notes": "notes:read notes:write"},
        json.dumps({"notes": ["notes:read", "notes:write"]}),
    ],
)
def test_hierarchy_from_a_mapping_or_its_json_text(value):
    implies = settings(CLERK_SCOPE_IMPLIES=value).scope_implies
    assert implies["notes"] == frozenset({"notes:read", "notes:write"})
    assert missing(("notes",), ("notes:read", "notes:write"), implies) == ()
    # One way only: a narrow scope never satisfies the broad one.
    assert missing(("notes:read", "notes:write"), ("notes",), implies) == ("notes",)


def test_hierarchy_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLASK_CLERK_SCOPE_IMPLIES", '{"admin": ["notes", "users"]}')
    app = Flask("env")
    app.config.update(BASE_CONFIG)
    app.config.from_prefixed_env()
    ClerkMCP(app)
    assert ClerkMCP.state(app).settings.scope_implies["admin"] == {"notes", "users"}


def test_hierarchy_is_transitive():
    implies = parse_implications({"admin": ["notes"], "notes": ["notes:write"], "x": []})
    assert implies["admin"] == {"notes", "notes:write"}
    assert expand(("admin",), implies) == {"admin", "notes", "notes:write"}
    assert missing(("admin",), ("notes:write",), implies) == ()


def test_a_cycle_makes_scopes_equivalent_and_terminates():
    implies = parse_implications({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert implies["a"] == {"b", "c"}
    assert implies["c"] == {"a", "b"}
    assert missing(("b",), ("a", "c"), implies) == ()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("not json", "JSON"),
        ("[1, 2]", "must be a mapping"),
        (["notes"], "must be a mapping"),
        ({"notes": 3}, "'notes' must imply a list"),
        ({"notes": [3]}, "'notes' must imply a list"),
        ({"bad scope": ["x"]}, "'bad scope' is not a valid scope"),
        ({'no"quote': ["x"]}, "is not a valid scope"),
        ({"notes": ['a"b']}, "is not a valid scope"),
    ],
)
def test_a_bad_hierarchy_is_refused_at_init_app_naming_the_key(value, fragment):
    app = Flask("bad")
    app.config.update(BASE_CONFIG, CLERK_SCOPE_IMPLIES=value)
    with pytest.raises(ConfigurationError, match=fragment) as caught:
        ClerkMCP(app)
    assert caught.value.key == "CLERK_SCOPE_IMPLIES"
    assert str(caught.value).startswith("CLERK_SCOPE_IMPLIES:")


@pytest.mark.parametrize("value", [None, "", {}])
def test_an_empty_hierarchy_is_off(value):
    assert dict(settings(CLERK_SCOPE_IMPLIES=value).scope_implies) == {}


# -- CLERK_SCOPES_SUPPORTED ------------------------------------------------------------------
def test_scopes_supported_is_unstated_by_default():
    assert settings().scopes_supported is None


def test_scopes_supported_drops_offline_access():
    s = settings(CLERK_SCOPES_SUPPORTED="openid email profile offline_access notes:write")
    assert s.scopes_supported == ("openid", "email", "profile", "notes:write")


def test_scopes_supported_must_hold_every_required_scope():
    with pytest.raises(ConfigurationError, match="lacks profile") as caught:
        settings(CLERK_SCOPES_SUPPORTED=["openid", "email"])
    assert caught.value.key == "CLERK_SCOPES_SUPPORTED"


def test_scopes_supported_refuses_a_malformed_scope():
    with pytest.raises(ConfigurationError, match="CLERK_SCOPES_SUPPORTED"):
        settings(CLERK_SCOPES_SUPPORTED=["openid", "email", "profile", 'x"y'])


def test_challenge_names_only_grantable_scopes_through_the_hierarchy():
    implies = parse_implications({"notes": ["notes:write"]})
    needed = ("openid", "offline_access", "notes:write", "billing")
    # Unstated: everything needed but offline_access.
    assert challenge_scopes(needed, None, implies) == ("openid", "notes:write", "billing")
    # Stated: notes:write is asked for through the broad scope the app grants; billing,
    # which it cannot grant, is left out rather than failing the whole login.
    assert challenge_scopes(needed, ("openid", "notes"), implies) == ("openid", "notes")


# -- CLERK_PUBLISHABLE_KEY -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["test", "live"])
@pytest.mark.parametrize("padding", [False, True])
def test_publishable_key_in_place_of_domain(kind, padding):
    s = settings(CLERK_DOMAIN=None, CLERK_PUBLISHABLE_KEY=publishable_key(DOMAIN, kind, padding))
    assert s.issuer == f"https://{DOMAIN}"


def test_publishable_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLASK_CLERK_PUBLISHABLE_KEY", publishable_key("clerk.example.com", "live"))
    app = Flask("env")
    app.config.update({k: v for k, v in BASE_CONFIG.items() if k != "CLERK_DOMAIN"})
    app.config.from_prefixed_env()
    ClerkMCP(app)
    assert ClerkMCP.state(app).settings.issuer == "https://clerk.example.com"


def test_publishable_key_agreeing_with_the_domain_is_fine():
    s = settings(CLERK_PUBLISHABLE_KEY=publishable_key(DOMAIN.upper()))
    assert s.issuer == f"https://{DOMAIN}"


def test_publishable_key_contradicting_the_domain_is_refused():
    with pytest.raises(ConfigurationError, match=r"'other\.clerk\.accounts\.dev'") as caught:
        settings(CLERK_PUBLISHABLE_KEY=publishable_key("other.clerk.accounts.dev"))
    assert caught.value.key == "CLERK_PUBLISHABLE_KEY"


@pytest.mark.parametrize(
    "value",
    [
        "sk_test_" + publishable_key(DOMAIN)[8:],  # a secret key is not a publishable key
        "pk_prod_" + publishable_key(DOMAIN)[8:],
        "pk_test_",
        "pk_test_!!!!",
        "pk_test_" + base64.b64encode(DOMAIN.encode()).decode(),  # no "$"
        "pk_test_" + base64.b64encode(b"https://evil.example/x$").decode(),
        "pk_test_" + base64.b64encode(b"\xff\xfe$").decode(),
        "pk_test_abc",  # not valid base64 length
        12345,
        ["pk_test_x"],
    ],
)
def test_malformed_publishable_key_is_refused_naming_the_key(value):
    app = Flask("bad")
    config = {k: v for k, v in BASE_CONFIG.items() if k != "CLERK_DOMAIN"}
    app.config.update(config, CLERK_PUBLISHABLE_KEY=value)
    with pytest.raises(ConfigurationError) as caught:
        ClerkMCP(app)
    assert caught.value.key == "CLERK_PUBLISHABLE_KEY"


def test_malformed_publishable_key_is_refused_even_beside_an_issuer_url():
    with pytest.raises(ConfigurationError) as caught:
        settings(CLERK_ISSUER_URL="http://127.0.0.1:9000", CLERK_PUBLISHABLE_KEY="pk_test_zz")
    assert caught.value.key == "CLERK_PUBLISHABLE_KEY"


def test_without_domain_key_or_issuer_the_error_names_the_alternatives():
    with pytest.raises(ConfigurationError, match="CLERK_PUBLISHABLE_KEY") as caught:
        settings(CLERK_DOMAIN=None)
    assert caught.value.key == "CLERK_DOMAIN"
