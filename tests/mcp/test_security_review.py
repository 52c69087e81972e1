"""Probes from a security review of the proxy's building blocks.

Each test names the attack it tries. Those that found a weakness are the regression tests of
its fix (they failed before it); the rest pin down suspicions that turned out unfounded.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_clerk_mcp.mcp.cimd import CIMDError, CIMDFetcher, cache_lifetime
from flask_clerk_mcp.mcp.client_metadata import read_client_metadata
from flask_clerk_mcp.mcp.clients import ClientRegistry
from flask_clerk_mcp.mcp.oauth_errors import OAuthError, append_query
from flask_clerk_mcp.mcp.redirects import (
    RedirectRules,
    RedirectURIError,
    parse_redirect_uri,
    redirect_uri_matches,
)
from flask_clerk_mcp.mcp.ssrf import AddressPolicy, BlockedAddress, guarded_session

from .conftest import FakeDNS

PATH = "/oauth/client.json"


def document_for(url: str) -> dict[str, object]:
    return {"client_id": url, "client_name": "Probe", "redirect_uris": ["https://a.example/cb"]}


# -- slow answers: the deadline must bound the whole fetch ----------------------------------


def test_dripping_headers_hit_the_deadline(server, loopback_session, trust_test_ca):
    sent: list[int] = []
    finished = threading.Event()

    def drip_headers(request: BaseHTTPRequestHandler) -> None:
        try:
            request.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(60):
                request.wfile.write(b"a")
                request.wfile.flush()
                sent.append(1)
                threading.Event().wait(0.05)
        finally:
            finished.set()

    server.routes[PATH] = drip_headers
    fetcher = CIMDFetcher(loopback_session, timeout=(1, 1), deadline=0.3)
    with pytest.raises(CIMDError, match="too long"):
        fetcher.get(server.url(PATH))
    assert finished.wait(5)
    assert len(sent) < 30


def test_a_fetch_within_its_deadline_still_works_on_a_reused_connection(
    server, loopback_session, trust_test_ca
):
    """The watchdog must not cut connections after its fetch, nor miss a pooled one."""
    url = server.url(PATH)
    server.document(PATH, document_for(url))
    fetcher = CIMDFetcher(loopback_session, timeout=(1, 1), deadline=2)
    for _ in range(3):
        record, _ttl = fetcher.fetch(url)
        assert record.client_id == url


def test_a_dripping_body_is_cut_at_the_deadline(server, loopback_session, trust_test_ca):
    """One TLS record per byte, each well within the read timeout: the body of a 4 KiB
    read never completes, so a check between chunks never runs."""
    sent: list[int] = []
    finished = threading.Event()

    def drip_body(request: BaseHTTPRequestHandler) -> None:
        try:
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", "100")
            request.end_headers()
            for _ in range(60):
                request.wfile.write(b" ")
                request.wfile.flush()
                sent.append(1)
                threading.Event().wait(0.05)
        finally:
            finished.set()

    server.routes[PATH] = drip_body
    fetcher = CIMDFetcher(loopback_session, timeout=(1, 1), deadline=0.3)
    with pytest.raises(CIMDError, match="too long") as info:
        fetcher.get(server.url(PATH))
    assert info.value.transient
    assert finished.wait(5)
    assert len(sent) < 30


def test_a_pooled_connection_is_cut_at_the_deadline_too(
    server, loopback_session, trust_test_ca, dns, monkeypatch
):
    """Keep-alive: the second fetch reuses the first one's connection (one DNS lookup for
    both), so the deadline must watch connections taken from the pool, not only new ones."""
    monkeypatch.setattr(BaseHTTPRequestHandler, "protocol_version", "HTTP/1.1")
    good = server.url(PATH)
    server.document(PATH, document_for(good))
    sent: list[int] = []

    def drip_body(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", "100")
        request.end_headers()
        for _ in range(60):
            request.wfile.write(b" ")
            request.wfile.flush()
            sent.append(1)
            threading.Event().wait(0.05)

    server.routes["/slow/client.json"] = drip_body
    fetcher = CIMDFetcher(loopback_session, timeout=(1, 1), deadline=0.3)
    assert fetcher.fetch(good)[0].client_id == good
    with pytest.raises(CIMDError, match="too long"):
        fetcher.fetch(server.url("/slow/client.json"))
    assert dns.calls == ["cimd.test"]  # the connection was reused
    assert len(sent) < 30


# -- odd headers and bodies must be refusals, never crashes ---------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Age": "\u00b2", "Cache-Control": "max-age=100"},  # "²".isdigit() is True
        {"Age": "\u00b9\u00b3", "Cache-Control": "s-maxage=100"},
        {"Age": "9" * 5000, "Cache-Control": "max-age=100"},  # past int()'s 4300 digits
    ],
)
def test_cache_lifetime_survives_non_ascii_digits(headers):
    assert 60 <= cache_lifetime(headers, now=0) <= 86400


_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
_numberish = st.text(st.sampled_from("0123456789\u00b2\u00b3\u00b9 -+"), min_size=1, max_size=25)
_cache_control = st.from_regex(r"(max-age|s-maxage|no-store|no-cache)(=[0-9\u00b2\u00b3-]{0,25})?")


@settings(max_examples=1000, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "Cache-Control": st.one_of(
                st.integers(0, 10**6).map("max-age={}".format), _cache_control, _header_text
            ),
            "Age": st.one_of(_numberish, _header_text),
            "Expires": _header_text,
            "Date": _header_text,
        },
    ),
    st.floats(min_value=0, max_value=4e9),
)
def test_cache_lifetime_is_always_bounded(headers, now):
    """Headers are latin-1 text from a server of the client's choosing."""
    assert 60 <= cache_lifetime(headers, now=now) <= 86400


def test_superscript_content_length_is_not_a_crash(server, loopback_session, trust_test_ca):
    """urllib3 ignores a Content-Length that is no number; so must the size check."""
    url = server.url(PATH)
    body = json.dumps(document_for(url)).encode()

    def weird_length(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", "\u00b2")
        request.send_header("Connection", "close")
        request.end_headers()
        request.wfile.write(body)

    server.routes[PATH] = weird_length
    record, _ = CIMDFetcher(loopback_session).fetch(url)
    assert record.client_id == url


def test_superscript_age_is_a_refusal_not_a_crash(server, loopback_session, trust_test_ca):
    url = server.url(PATH)
    server.document(PATH, document_for(url), Cache_Control="max-age=300", Age="\u00b2")
    record, ttl = CIMDFetcher(loopback_session).fetch(url)
    assert record.client_id == url
    assert 60 <= ttl <= 300


def test_deeply_nested_document_is_a_refusal_not_a_crash(server, loopback_session, trust_test_ca):
    url = server.url(PATH)
    server.document(PATH, b"[" * 8000 + b"]" * 8000)
    with pytest.raises(CIMDError, match="JSON"):
        CIMDFetcher(loopback_session).fetch(url)


def test_deeply_nested_field_is_a_refusal_not_a_crash(server, loopback_session, trust_test_ca):
    url = server.url(PATH)
    nested = b"[" * 5000 + b"]" * 5000
    body = json.dumps(document_for(url)).encode()[:-1] + b', "x": ' + nested + b"}"
    server.document(PATH, body)
    with pytest.raises(CIMDError, match="JSON"):
        CIMDFetcher(loopback_session).fetch(url)


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "application/json-seq", "application/javascript", "text/json", ""],
)
def test_content_type_games_are_refused(server, loopback_session, trust_test_ca, content_type):
    url = server.url(PATH)
    server.document(PATH, document_for(url), Content_Type=content_type)
    with pytest.raises(CIMDError, match="Content-Type"):
        CIMDFetcher(loopback_session).fetch(url)


@pytest.mark.parametrize(
    "variant",
    [
        "https://CIMD.test:{port}/oauth/client.json",  # host case: the same server
        "https://cimd.test:{port}/oauth/%63lient.json",  # an escaped unreserved character
        "https://cimd.test:{port}/oauth/client.json?",  # an empty query
    ],
)
def test_client_id_spellings_of_one_document_do_not_share_it(
    server, loopback_session, trust_test_ca, variant
):
    """The same document fetched under another spelling of its URL names the canonical one,
    so exact comparison refuses it: no client can borrow another's document."""
    canonical = server.url(PATH)
    server.document(PATH, document_for(canonical))
    with pytest.raises(CIMDError):
        CIMDFetcher(loopback_session).fetch(variant.format(port=server.port))


# -- SSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "::a9fe:a9fe",  # IPv4-compatible (deprecated) form of 169.254.169.254
        "::ffff:0:a9fe:a9fe",  # IPv4-translated (RFC 2765)
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 (RFC 8215)
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "0:0:0:0:0:ffff:7f00:1",  # mapped loopback, long form
        "100.100.100.200",
        "::ffff:100.100.100.200",
        "2002:a9fe:a9fe::1",  # 6to4 around the metadata address
    ],
)
def test_more_internal_address_forms_are_refused(address):
    with pytest.raises(BlockedAddress):
        AddressPolicy(allow_loopback=False).check(address)


@pytest.mark.parametrize(
    "url", ["https://2130706433/x", "https://0x7f000001/x", "https://0177.1/x"]
)
def test_numeric_host_spellings_never_reach_the_resolver(url):
    """Decimal, hex and octal spellings of 127.0.0.1 are refused as client ids before DNS."""
    dns = FakeDNS()
    session = guarded_session(AddressPolicy(resolver=dns))
    with pytest.raises(CIMDError):
        CIMDFetcher(session).fetch(url)
    assert dns.calls == []


def test_environment_proxy_is_not_used_even_for_no_proxy_hosts(
    server, loopback_session, trust_test_ca, monkeypatch
):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    url = server.url(PATH)
    server.document(PATH, document_for(url))
    record, _ = CIMDFetcher(loopback_session).fetch(url)
    assert record.client_id == url


@pytest.mark.parametrize(
    "netrc_line",
    ["default login operator password s3cret", "machine cimd.test login operator password s3cret"],
)
def test_netrc_credentials_never_go_to_a_client_chosen_url(
    server, loopback_session, trust_test_ca, tmp_path, monkeypatch, netrc_line
):
    """requests adds ~/.netrc (or $NETRC) credentials to any request without auth; a
    ``default`` entry matches every host, so a client id URL would receive them."""
    netrc = tmp_path / "netrc"
    netrc.write_text(netrc_line + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    url = server.url(PATH)
    server.document(PATH, document_for(url))
    CIMDFetcher(loopback_session).fetch(url)
    assert server.headers_seen
    for headers in server.headers_seen:
        assert "authorization" not in {name.lower() for name in headers}


def test_explicit_credentials_are_dropped_too(server, loopback_session, trust_test_ca):
    loopback_session.auth = ("operator", "s3cret")
    loopback_session.headers["Authorization"] = "Bearer s3cret"
    url = server.url(PATH)
    server.document(PATH, document_for(url))
    CIMDFetcher(loopback_session).fetch(url)
    assert all("Authorization" not in h for h in server.headers_seen)


def test_verify_off_on_the_session_is_overridden(server, loopback_session, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    loopback_session.verify = False
    url = server.url(PATH)
    server.document(PATH, document_for(url))
    with pytest.raises(CIMDError, match="TLS"):
        CIMDFetcher(loopback_session).fetch(url)


# -- redirect URIs ----------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_parse_redirect_uri_only_ever_raises_its_own_error(text):
    try:
        parse_redirect_uri(text)
    except RedirectURIError:
        pass


_uri_alphabet = st.sampled_from([*"aZ09-._~:/?#[]@!$&'()*+,;=%\\", "%2e", "%2F", "xn--"])
_tails = st.lists(_uri_alphabet, max_size=20).map("".join)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(
        ["http://localhost", "http://127.0.0.1", "http://[::1]", "https://app.example.com"]
    ),
    st.sampled_from(["", ":8080", ":1"]),
    _tails,
)
def test_append_query_keeps_every_checked_uri_intact(origin, port, tail):
    """The Location of an authorization response must be the checked URI plus parameters:
    a re-serialisation that changes it is a parser differential."""
    uri = origin + port + tail
    try:
        parse_redirect_uri(uri)
    except RedirectURIError:
        return
    result = append_query(uri, {"code": "c", "state": "s"})
    assert result.startswith(uri)
    assert result[len(uri) :].lstrip("?&") == "code=c&state=s"


@pytest.mark.parametrize(
    "uri",
    [
        "com.example.app:////evil.example/cb",  # empty authority, path starting //
        "com.example.app:///cb",  # RFC 8252 style with an empty authority
        "com.example.app:/cb",
        "com.example.app:cb",
    ],
)
def test_append_query_keeps_private_use_uris_intact(uri):
    parse_redirect_uri(uri)
    assert append_query(uri, {"code": "c"}) == uri + "?code=c"


@pytest.mark.parametrize(
    "requested",
    [
        "http://LOCALHOST:5000/cb",
        "http://localhost.:5000/cb",
        "http://localhost:5000/cb/",
        "http://localhost:5000/CB",
        "http://localhost:5000/cb?",
        "http://localhost:5000/cb#x",
        "http://localhost:5000/./cb",
        "http://localhost:5000/%2e/cb",
        "http://localhost:5000/cb%2f..%2fevil",
        "http://localhost:5000\\@evil.example/cb",
        "http://user@localhost:5000/cb",
        "http://localhost:5000@evil.example/cb",
        "http://127.0.0.1:5000/cb",
        "http://[::1]:5000/cb",
        "https://localhost:5000/cb",
        "http://localhost:05000/cb",
        "http://localhost:65536/cb",
        "http://evil.example:5000/cb",
    ],
)
def test_registered_loopback_uri_matches_no_trick_spelling(requested):
    registered = "http://localhost:5000/cb"
    assert not redirect_uri_matches(registered, requested)


@pytest.mark.parametrize(
    "uri",
    [
        "https://xn--pple-43d.com/cb",  # an A-label passes, shown as written
        "https://app.example.com:443/cb",
    ],
)
def test_allowed_origin_patterns_compare_ports_and_a_labels_exactly(uri):
    rules = RedirectRules(["https://app.example.com", "https://apple.com"])
    with pytest.raises(RedirectURIError):
        rules.check(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://\u0430pple.com/cb",  # Cyrillic a: not ASCII
        "https://app.example.com./cb",  # trailing dot
        "https://app%2eexample.com/cb",
        "http://0x7f.0.0.1:5000/cb",
        "http://127.1:5000/cb",
        "http://[::ffff:7f00:1]:5000/cb",  # loopback in disguise: not a default pattern
        "http://[fe80::1%25eth0]:5000/cb",
        "http://localhost:5000/cb?code=x",
        "http://localhost:5000/cb?%63ode=x",
        "javascript://localhost:5000/%0aalert(1)",
        "JavaScript:alert(1)",
    ],
)
def test_default_rules_refuse_disguised_uris(uri):
    with pytest.raises(RedirectURIError):
        RedirectRules().check(uri)


# -- dynamic registration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_name", "Claude\u202e"),  # bidi override
        ("client_name", "Claude\u200b"),  # zero width space
        ("client_name", "Claude\nAdmin"),
        ("client_name", "Claude\x1b[31m"),
        ("client_name", "x" * 101),
        ("client_name", "\u3000"),  # only a wide space
        ("client_name", ["Claude"]),
        ("scope", "openid\temail"),
        ("scope", "a" * 1001),
        ("scope", 'openid "email"'),
        ("client_uri", "javascript:alert(1)"),
        ("logo_uri", "http://evil.example/logo.png"),
        ("grant_types", ["authorization_code"] * 3 + ["password"]),
        ("response_types", ["code", "token"]),
        ("application_type", ["web"]),
    ],
)
def test_registration_refuses_hostile_fields(store, field, value):
    registry = ClientRegistry(store, rules=RedirectRules())
    body = {"redirect_uris": ["http://127.0.0.1:3000/cb"], field: value}
    with pytest.raises(OAuthError) as info:
        registry.register(body)
    assert info.value.error == "invalid_client_metadata"


def test_registration_keeps_only_known_fields(store):
    registry = ClientRegistry(store, rules=RedirectRules())
    body = {
        "redirect_uris": ["http://127.0.0.1:3000/cb"] * 20,
        "client_secret": "chosen-by-client",
        "jwks_uri": "https://evil.example/jwks",
        "software_statement": "x" * 10_000,
        "token_endpoint_auth_method": "client_secret_basic",
    }
    record, answer = registry.register(body)
    assert record.redirect_uris == ("http://127.0.0.1:3000/cb",)
    assert "client_secret" not in answer and "jwks_uri" not in answer
    assert answer["token_endpoint_auth_method"] == "none"
    assert len(json.dumps(record.to_json())) < 1000


def test_too_many_redirect_uris_refused_before_any_is_parsed():
    body = {"redirect_uris": [object()] * 21}
    with pytest.raises(RedirectURIError, match="at most 20"):
        read_client_metadata(body, rules=RedirectRules())


@pytest.mark.parametrize(
    "client_id", ["mcp_" + "A" * 32 + "\n", "mcp_" + "A" * 31 + "é", "HTTPS://x"]
)
def test_odd_client_ids_are_unknown_without_a_store_read(store, client_id):
    class CountingStore:
        reads = 0

        def get(self, key):
            self.reads += 1
            return store.get(key)

    counting = CountingStore()
    registry = ClientRegistry(counting, rules=RedirectRules())  # type: ignore[arg-type]
    assert registry.get(client_id) is None
    assert counting.reads == 0
