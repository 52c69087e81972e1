"""Redirect-URI rules: structure, allowed patterns, and the authorize-time match."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_clerk_mcp.errors import ConfigurationError
from flask_clerk_mcp.mcp.oauth_errors import OAuthError
from flask_clerk_mcp.mcp.redirects import (
    DEFAULT_ALLOWED_REDIRECT_URIS,
    RedirectRules,
    RedirectURIError,
    parse_redirect_uri,
    redirect_uri_matches,
)

GOOD = [
    "http://localhost:8765/callback",
    "http://localhost/callback",
    "http://127.0.0.1:33418/oauth/callback",
    "http://127.0.0.1:33418",
    "http://[::1]:9000/cb",
    "http://localhost:5000/cb?client=claude&v=2",
    "https://app.example.com/oauth/callback",
    "https://xn--bcher-kva.example/cb",
    "https://203.0.114.9/cb",
]

REFUSED = {
    "javascript:alert(1)": "javascript",
    "JavaScript:alert(1)": "javascript",
    "data:text/html,<script>": "characters",
    "data:text/html;base64,PHNjcmlwdD4=": "data",
    "file:///etc/passwd": "file",
    "vbscript:msgbox": "vbscript",
    "blob:https://a.example/uuid": "blob",
    "/relative/callback": "absolute",
    "http://user@localhost:8000/cb": "userinfo",
    "http://user:pw@localhost:8000/cb": "userinfo",
    "https://app.example.com@evil.example/cb": "userinfo",
    "http://localhost:8000/cb#frag": "fragment",
    "http://localhost:8000/cb#": "fragment",
    "http://localhost:8000/a/../cb": "segments",
    "http://localhost:8000/a/./cb": "segments",
    "http://localhost:8000/a/%2e%2e/cb": "segments",
    "http://localhost:8000/a/.%2E/cb": "segments",
    "http://localhost:8000/a/%2E/cb": "segments",
    "http://localhost:8000/..": "segments",
    "http://localhost:8000/a%2f..%2fb": "encoded",
    "http://localhost:8000/a%5Cb": "encoded",
    "http://localhost:8000/a%00b": "encoded",
    "http://localhost:8000/a\\b": "characters",
    "http://localhost:8000/a b": "characters",
    "http://localhost:8000/a\r\nSet-Cookie:x": "characters",
    "http://localhost:8000/%zz": "percent-escape",
    "http://bücher.example/cb": "characters",
    "https://bücher.example/cb": "characters",
    "http://evil.example/cb": "loopback",
    "http://10.0.0.1/cb": "loopback",
    "http://2130706433/cb": "canonical",
    "http://0x7f.0.0.1/cb": "canonical",
    "http://127.1/cb": "canonical",
    "http://017.0.0.1/cb": "canonical",
    "http://%6c%6fcalhost/cb": "percent-encode",
    "http://localhost./cb": "host name",
    "http:///cb": "host",
    "https:/cb": "host",
    "http://localhost:0/cb": "port",
    "http://localhost:65536/cb": "port",
    "http://localhost:080/cb": "port",
    "http://localhost:/cb": "port",
    "http://[::1/cb": "IPv6",
    "http://[fe80::1%25eth0]/cb": "IPv6",
    "http://[::1]x/cb": "junk",
    "http://localhost:8000/cb?code=x": "code",
    "http://localhost:8000/cb?STATE=x": "state",
    "http://localhost:8000/cb?iss=x": "iss",
    "": "characters",
    "https://a.example/" + "a" * 2000: "characters",
}


@pytest.mark.parametrize("uri", GOOD)
def test_good_uris_parse(uri):
    parsed = parse_redirect_uri(uri)
    assert parsed.uri == uri
    assert parsed.web


@pytest.mark.parametrize(("uri", "why"), REFUSED.items())
def test_refused_uris(uri, why):
    with pytest.raises(RedirectURIError) as info:
        parse_redirect_uri(uri)
    assert info.value.error == "invalid_redirect_uri"
    assert why.lower() in info.value.description.lower()


@pytest.mark.parametrize("value", [None, 42, b"http://localhost/", ["http://localhost/"]])
def test_non_strings_refused(value):
    with pytest.raises(RedirectURIError, match="string"):
        parse_redirect_uri(value)


def test_error_code_follows_the_caller():
    with pytest.raises(RedirectURIError) as info:
        parse_redirect_uri("javascript:x", error="invalid_request")
    assert info.value.error == "invalid_request"
    assert info.value.status == 400
    assert isinstance(info.value, OAuthError)


def test_parsed_parts():
    parsed = parse_redirect_uri("http://LocalHost:8080/cb/x?a=1&b")
    assert (parsed.scheme, parsed.host, parsed.port) == ("http", "localhost", 8080)
    assert (parsed.path, parsed.query, parsed.loopback) == ("/cb/x", "a=1&b", True)
    six = parse_redirect_uri("http://[::1]/")
    assert (six.host, six.port, six.loopback) == ("[::1]", None, True)
    assert parse_redirect_uri("http://127.8.9.10:1/").loopback
    assert not parse_redirect_uri("https://example.com/").loopback


def test_private_use_scheme_parses_but_is_not_web():
    parsed = parse_redirect_uri("com.example.app:/oauth2redirect")
    assert not parsed.web
    assert parsed.path == "/oauth2redirect"
    with pytest.raises(RedirectURIError, match="userinfo"):
        parse_redirect_uri("cursor://me@anysphere.cursor/cb")
    with pytest.raises(RedirectURIError, match="segments"):
        parse_redirect_uri("com.example.app:/a/../b")


# -- allowed patterns -------------------------------------------------------------------------


def test_default_rules_allow_loopback_any_port_only():
    rules = RedirectRules()
    assert rules.patterns == DEFAULT_ALLOWED_REDIRECT_URIS
    for uri in [
        "http://localhost:1/a",
        "http://localhost/a",
        "http://127.0.0.1:65535/cb?x=1",
        "http://[::1]:4444/",
    ]:
        assert rules.check(uri).uri == uri
    for uri in [
        "https://app.example.com/cb",
        "https://localhost:8000/cb",  # a pattern's scheme is part of it
        "http://127.0.0.2:8000/cb",  # loopback, but no pattern names it
        "com.example.app:/cb",
        "localhost:8000/cb",  # scheme "localhost", a private-use scheme no pattern names
    ]:
        with pytest.raises(RedirectURIError, match="not allowed") as info:
            rules.check(uri)
        assert info.value.error == "invalid_redirect_uri"


def test_patterns_origin_exact_and_wildcard_port():
    rules = RedirectRules(
        [
            "https://app.example.com",
            "https://web.example.com/oauth/cb",
            "http://localhost:*/only/this",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
        ]
    )
    allowed = [
        "https://app.example.com/any/path?x=1",
        "https://APP.example.com/",
        "https://web.example.com/oauth/cb",
        "http://localhost:1234/only/this",
        "http://localhost/only/this",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
    ]
    refused = [
        "https://app.example.com:8443/x",  # no port in the pattern: no explicit port
        "https://app.example.com.evil.example/x",
        "https://web.example.com/oauth/cb2",
        "https://web.example.com/oauth/cb?x=1",
        "https://web.example.com:443/oauth/cb",
        "http://localhost:1234/only/that",
        "cursor://anysphere.cursor-retrieval/oauth/callback2",
        "http://127.0.0.1:1234/only/this",
    ]
    for uri in allowed:
        assert rules.allows(parse_redirect_uri(uri)), uri
    for uri in refused:
        assert not rules.allows(parse_redirect_uri(uri)), uri


def test_error_code_at_authorize():
    with pytest.raises(RedirectURIError) as info:
        RedirectRules().check("https://evil.example/cb", error="invalid_request")
    assert info.value.error == "invalid_request"


@pytest.mark.parametrize(
    ("patterns", "why"),
    [
        (["https://*.example.com"], "whole port"),
        (["https://example.com/*"], "whole port"),
        (["*"], "whole port"),
        (["http://evil.example:*"], "loopback"),
        (["javascript:*"], "absolute"),
        (["com.example.app:/x:*"], "needs http"),
        (["javascript:alert(1)"], "javascript"),
        (["http://localhost:8000:*"], "port"),
        (["http://localhost:*/cb#x"], "fragment"),
        ([""], "non-empty"),
        ([42], "non-empty"),
        ("http://localhost:*", "list"),
    ],
)
def test_bad_patterns_are_configuration_errors(patterns, why):
    with pytest.raises(ConfigurationError) as info:
        RedirectRules(patterns)
    assert info.value.key == "CLERK_ALLOWED_REDIRECT_URIS"
    assert why in str(info.value)


def test_configuration_error_names_the_given_key():
    with pytest.raises(ConfigurationError) as info:
        RedirectRules(["ftp://x:*"], key="MY_KEY")
    assert info.value.key == "MY_KEY"


def test_empty_pattern_list_allows_nothing():
    with pytest.raises(RedirectURIError):
        RedirectRules([]).check("http://localhost:8000/cb")


def test_web_rules_for_cimd():
    rules = RedirectRules.web()
    assert rules.check("https://claude.ai/api/mcp/auth_callback")
    assert rules.check("http://127.0.0.1:6274/cb")
    for uri in ["com.example.app:/cb", "http://evil.example/cb", "javascript:x"]:
        with pytest.raises(RedirectURIError):
            rules.check(uri)
    assert "web" in repr(rules)


# -- matching at authorize --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registered", "requested", "expected"),
    [
        ("https://app.example.com/cb", "https://app.example.com/cb", True),
        ("https://app.example.com/cb", "https://app.example.com/cb/", False),
        ("https://app.example.com/cb", "https://APP.example.com/cb", False),
        ("https://app.example.com/cb", "https://app.example.com:443/cb", False),
        ("https://app.example.com:8443/cb", "https://app.example.com:9443/cb", False),
        ("https://app.example.com/cb", "https://app.example.com/cb?x=1", False),
        ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", True),
        ("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/cb", True),
        ("http://127.0.0.1:1000/cb", "http://127.0.0.1/cb", True),
        ("http://localhost:1000/cb?a=1", "http://localhost:2000/cb?a=1", True),
        ("http://[::1]:1000/cb", "http://[::1]:2000/cb", True),
        ("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/cb2", False),
        ("http://127.0.0.1:1000/cb", "http://localhost:1000/cb", False),
        ("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/cb?a=1", False),
        ("http://127.0.0.1:1000/cb", "http://LOCALHOST:2000/cb", False),
        ("http://localhost:1000/cb", "http://LOCALHOST:2000/cb", False),
        ("http://127.0.0.1:1000/cb", "https://127.0.0.1:2000/cb", False),
        ("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/cb#x", False),
        ("http://127.0.0.1:1000/cb", "http://u@127.0.0.1:2000/cb", False),
        ("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/x/../cb", False),
        ("https://localhost:1000/cb", "https://localhost:2000/cb", False),
    ],
)
def test_redirect_uri_matches(registered, requested, expected):
    assert redirect_uri_matches(registered, requested) is expected


# -- properties -------------------------------------------------------------------------------

_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$|\?)")


@given(st.text(max_size=80))
def test_any_text_is_parsed_or_refused_with_the_typed_error(text):
    try:
        parsed = parse_redirect_uri(text)
    except RedirectURIError as exc:
        assert exc.error == "invalid_redirect_uri"
        return
    assert "#" not in parsed.uri


_path_chars = st.sampled_from([*"abc./%2eE5fF0@:?=&", "%2e", "%2E", "..", "/"])


@given(st.lists(_path_chars, max_size=12).map("".join), st.integers(1, 65535))
def test_accepted_loopback_uris_are_clean(path, port):
    uri = f"http://127.0.0.1:{port}/{path}"
    try:
        parsed = parse_redirect_uri(uri)
    except RedirectURIError:
        return
    decoded = unquote(parsed.path)
    assert not _DOT_SEGMENT.search(decoded)
    assert parsed.host == "127.0.0.1"
    assert parsed.port == port
    assert RedirectRules().allows(parsed)
    assert redirect_uri_matches(uri, uri.replace(f":{port}/", ":1/", 1))


@given(st.integers(1, 65535), st.integers(1, 65535))
def test_loopback_ports_always_vary_but_hosts_never(port_a, port_b):
    assert redirect_uri_matches(
        f"http://localhost:{port_a}/callback", f"http://localhost:{port_b}/callback"
    )
    assert not redirect_uri_matches(
        f"http://localhost:{port_a}/callback", f"http://127.0.0.1:{port_b}/callback"
    )
