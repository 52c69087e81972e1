"""Client ID Metadata Documents fetched from a real HTTPS server: good and hostile ones."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from flask_clerk_mcp.mcp.cimd import (
    CIMDError,
    CIMDFetcher,
    cache_lifetime,
    check_client_id_url,
    is_cimd_client_id,
)
from flask_clerk_mcp.mcp.client_metadata import ClientRecord
from flask_clerk_mcp.mcp.oauth_errors import OAuthError
from flask_clerk_mcp.mcp.redirects import RedirectRules
from flask_clerk_mcp.mcp.ssrf import AddressPolicy, guarded_session
from flask_clerk_mcp.store import StoreError

PATH = "/oauth/client.json"


def good_document(url: str, **fields):
    doc = {
        "client_id": url,
        "client_name": "Example MCP Client",
        "redirect_uris": ["https://app.example.com/oauth/callback", "http://127.0.0.1:6274/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "client_uri": "https://app.example.com",
        "scope": "openid email",
        "unknown_field": {"ignored": True},
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.fixture
def fetcher(loopback_session, store, clock, trust_test_ca):
    return CIMDFetcher(loopback_session, cache=store, clock=clock, timeout=(2, 2), deadline=5)


def fails(fetcher, url, match, *, transient=False):
    with pytest.raises(CIMDError, match=match) as info:
        fetcher.get(url)
    assert info.value.error == "invalid_client"
    assert info.value.transient is transient
    assert isinstance(info.value, OAuthError)
    return info.value


# -- the client id URL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "expected"),
    [("https://a.example/c", True), ("HTTPS://a.example/c", True), ("dcr_abc", False)],
)
def test_is_cimd_client_id(client_id, expected):
    assert is_cimd_client_id(client_id) is expected


@pytest.mark.parametrize(
    ("client_id", "why"),
    [
        ("https://app.example.com", "path"),
        ("https://app.example.com/", "path"),
        ("http://app.example.com/client.json", "https"),
        ("HTTPS://app.example.com/client.json", "https"),
        ("https://u@app.example.com/client.json", "userinfo"),
        ("https://app.example.com/client.json#x", "fragment"),
        ("https://app.example.com/a/../client.json", "segments"),
        ("https://app.example.com/%2e%2e/client.json", "segments"),
        ("https://app.example.com/" + "x" * 2000, "characters"),
        ("https://bücher.example/client.json", "characters"),
    ],
)
def test_bad_client_id_urls(client_id, why):
    with pytest.raises(CIMDError, match=why):
        check_client_id_url(client_id)


def test_good_client_id_url_kept_as_is():
    url = "https://app.example.com:8443/oauth/client.json?v=1"
    assert check_client_id_url(url) == url


# -- good documents and the cache -------------------------------------------------------------


def test_good_document(server, fetcher, store):
    url = server.url(PATH)
    server.document(PATH, good_document(url), Cache_Control="max-age=3600")
    record = fetcher.get(url)
    assert isinstance(record, ClientRecord)
    assert record.kind == "cimd"
    assert record.client_id == url
    assert record.client_name == "Example MCP Client"
    assert record.redirect_uris == (
        "https://app.example.com/oauth/callback",
        "http://127.0.0.1:6274/cb",
    )
    assert record.grant_types == ("authorization_code", "refresh_token")
    assert record.token_endpoint_auth_method == "none"
    assert record.scope == "openid email"
    assert server.headers_seen[0]["Accept"] == "application/json"
    assert len(store) == 1


def test_cached_for_max_age_then_refetched(server, fetcher, clock):
    url = server.url(PATH)
    server.document(PATH, good_document(url), Cache_Control="public, max-age=300")
    fetcher.get(url)
    fetcher.get(url)
    assert server.hits == [PATH]
    clock.advance(301)
    fetcher.get(url)
    assert server.hits == [PATH, PATH]


def test_no_store_is_cached_for_the_minimum(server, fetcher, clock):
    url = server.url(PATH)
    server.document(PATH, good_document(url), Cache_Control="no-store")
    fetcher.get(url)
    clock.advance(59)
    fetcher.get(url)
    assert len(server.hits) == 1
    clock.advance(2)
    fetcher.get(url)
    assert len(server.hits) == 2


def test_long_max_age_is_clamped_to_a_day(server, fetcher, clock):
    url = server.url(PATH)
    server.document(PATH, good_document(url), Cache_Control="max-age=31536000")
    _, ttl = fetcher.fetch(url)
    assert ttl == 86400


def test_errors_are_not_cached(server, fetcher):
    url = server.url(PATH)
    server.document(PATH, good_document(url, client_id="https://other.example/c"))
    fails(fetcher, url, "differs")
    server.document(PATH, good_document(url))
    assert fetcher.get(url).client_id == url
    assert len(server.hits) == 2


def test_a_broken_cache_is_a_miss(server, loopback_session, trust_test_ca):
    class Broken:
        def get(self, key):
            raise StoreError("down")

        def put(self, key, value, ttl):
            raise StoreError("down")

    url = server.url(PATH)
    server.document(PATH, good_document(url))
    fetcher = CIMDFetcher(loopback_session, cache=Broken())  # type: ignore[arg-type]
    assert fetcher.get(url).client_id == url
    assert fetcher.get(url).client_id == url
    assert len(server.hits) == 2


def test_garbage_in_the_cache_is_refetched(server, fetcher, store):
    url = server.url(PATH)
    server.document(PATH, good_document(url))
    fetcher.get(url)
    (key,) = store._entries
    store.put(key, {"v": 99}, 60)
    fetcher.get(url)
    assert len(server.hits) == 2


def test_session_getter_and_no_cache(server, loopback_session, trust_test_ca):
    url = server.url(PATH)
    server.document(PATH, good_document(url))
    fetcher = CIMDFetcher(lambda: loopback_session)
    fetcher.get(url)
    fetcher.get(url)
    assert len(server.hits) == 2


def test_unguarded_session_refused(server, trust_test_ca):
    import requests

    with pytest.raises(TypeError, match="GuardedAdapter"):
        CIMDFetcher(requests.Session()).get(server.url(PATH))
    assert server.hits == []


def test_cimd_redirect_rules_can_be_narrowed(server, loopback_session, trust_test_ca):
    url = server.url(PATH)
    server.document(PATH, good_document(url))
    fetcher = CIMDFetcher(loopback_session, rules=RedirectRules())
    fails(fetcher, url, "not allowed")


# -- hostile documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "why"),
    [
        (None, {}, "differs"),  # client_id of another URL, filled in below
        (b"[1, 2]", {}, "not a JSON object"),
        (b'"a string"', {}, "not a JSON object"),
        (b"{not json", {}, "not valid"),
        (b"\xff\xfe{}", {}, "not valid"),
        (b"<html><body>hi</body></html>", {"Content_Type": "text/html"}, "not JSON"),
        (b"{}", {"Content_Type": "text/plain"}, "not JSON"),
    ],
)
def test_hostile_bodies(server, fetcher, body, headers, why):
    url = server.url(PATH)
    if body is None:
        body = good_document(url.replace("cimd.test", "other.test"))
    server.document(PATH, body, **headers)
    fails(fetcher, url, why)


def test_json_subtype_accepted(server, fetcher):
    url = server.url(PATH)
    server.document(PATH, good_document(url), Content_Type="application/cimd+json; charset=utf-8")
    assert fetcher.get(url).client_id == url


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"redirect_uris": None}, "redirect_uris"),
        ({"redirect_uris": []}, "redirect_uris"),
        ({"redirect_uris": "https://app.example.com/cb"}, "redirect_uris"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "javascript"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "loopback"),
        ({"redirect_uris": ["https://app.example.com/cb#x"]}, "fragment"),
        ({"redirect_uris": ["https://u@app.example.com/cb"]}, "userinfo"),
        ({"redirect_uris": ["com.example.app:/cb"]}, "not allowed"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "public"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "public"),
        ({"client_secret": "published"}, "secret"),
        ({"client_secret_expires_at": 0}, "secret"),
        ({"grant_types": ["implicit"]}, "not supported"),
        ({"response_types": ["token"]}, "response_types"),
        ({"client_name": "Good\u202eClient"}, "client_name"),
        ({"client_name": "x" * 101}, "client_name"),
        ({"client_uri": "javascript:alert(1)"}, "client_uri"),
        ({"client_id": None}, "differs"),
    ],
)
def test_bad_document_fields(server, fetcher, fields, why):
    url = server.url(PATH)
    server.document(PATH, good_document(url, **fields))
    fails(fetcher, url, why)


def test_client_id_compared_exactly(server, fetcher):
    url = server.url(PATH)
    server.document(PATH, good_document(url.replace("cimd.test", "CIMD.test")))
    fails(fetcher, url, "differs")
    server.document(PATH, good_document(url + "/"))
    fails(fetcher, url, "differs")


def test_redirects_not_followed(server, fetcher):
    url = server.url(PATH)
    target = server.url("/elsewhere.json")
    server.document("/elsewhere.json", good_document(url))

    def redirect(request: BaseHTTPRequestHandler) -> None:
        request.send_response(302)
        request.send_header("Location", target)
        request.send_header("Content-Length", "0")
        request.end_headers()

    server.routes[PATH] = redirect
    fails(fetcher, url, "redirect")
    assert server.hits == [PATH]


@pytest.mark.parametrize(
    ("status", "transient"), [(404, False), (401, False), (500, True), (503, True), (429, True)]
)
def test_error_statuses(server, fetcher, status, transient):
    def answer(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"{}")

    server.routes[PATH] = answer
    fails(fetcher, server.url(PATH), f"HTTP {status}", transient=transient)


def test_oversize_by_content_length(server, fetcher):
    url = server.url(PATH)
    server.document(PATH, good_document(url, client_name=None, padding="x" * 20000))
    fails(fetcher, url, "larger than 16384")


def test_oversize_streamed_without_length_stops_reading(server, fetcher):
    sent = []

    def endless(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Connection", "close")
        request.end_headers()
        request.wfile.write(b'{"padding": "')
        for _ in range(10_000):  # 10 MB if nobody stopped reading
            request.wfile.write(b"x" * 1024)
            sent.append(1)

    server.routes[PATH] = endless
    fails(fetcher, server.url(PATH), "larger than 16384")
    time.sleep(0.2)
    assert len(sent) < 10_000


def test_slow_answer_times_out(server, loopback_session, trust_test_ca):
    def slow(request: BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)
        request.send_response(200)
        request.end_headers()

    server.routes[PATH] = slow
    fetcher = CIMDFetcher(loopback_session, timeout=(1, 0.3))
    fails(fetcher, server.url(PATH), "timed out", transient=True)


def test_dripping_body_hits_the_deadline(server, loopback_session, trust_test_ca):
    def drip(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Connection", "close")
        request.end_headers()
        for _ in range(100):
            request.wfile.write(b" ")
            request.wfile.flush()
            time.sleep(0.05)

    server.routes[PATH] = drip
    fetcher = CIMDFetcher(loopback_session, timeout=(1, 1), deadline=0.3)
    fails(fetcher, server.url(PATH), "too long", transient=True)


# -- private addresses ------------------------------------------------------------------------


def test_loopback_refused_unless_allowed(server, strict_session, trust_test_ca):
    server.document(PATH, good_document(server.url(PATH, "localhost")))
    fetcher = CIMDFetcher(strict_session)
    fails(fetcher, server.url(PATH, "localhost"), "loopback")
    fails(fetcher, server.url(PATH, "127.0.0.1"), "loopback")
    assert server.hits == []


def test_name_resolving_to_loopback_refused(server, strict_session, trust_test_ca, dns):
    assert dns.names["cimd.test"] == ["127.0.0.1"]
    fails(CIMDFetcher(strict_session), server.url(PATH), "loopback")
    assert server.hits == []


def test_metadata_address_refused(dns):
    dns.names["metadata.test"] = ["169.254.169.254"]
    session = guarded_session(AddressPolicy(allow_loopback=True, resolver=dns))
    fails(CIMDFetcher(session), "https://metadata.test/latest/meta-data", "cloud metadata")
    fails(CIMDFetcher(session), "https://169.254.169.254/latest/meta-data", "cloud metadata")
    fails(CIMDFetcher(session), "https://[fd00:ec2::254]/latest/meta-data", "cloud metadata")


def test_untrusted_certificate(server, loopback_session, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    server.document(PATH, good_document(server.url(PATH)))
    fails(CIMDFetcher(loopback_session), server.url(PATH), "TLS", transient=True)


def test_unreachable_host(loopback_session, trust_test_ca):
    fails(
        CIMDFetcher(loopback_session), "https://127.0.0.1:9/client.json", "reached", transient=True
    )


# -- cache lifetime from headers --------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 600),
        ({"Cache-Control": "max-age=1200"}, 1200),
        ({"Cache-Control": "max-age=1200, s-maxage=3000"}, 3000),
        ({"Cache-Control": "max-age=1200", "Age": "200"}, 1000),
        ({"Cache-Control": "max-age=0"}, 60),
        ({"Cache-Control": "max-age=5"}, 60),
        ({"Cache-Control": "no-cache, max-age=3600"}, 60),
        ({"Cache-Control": "no-store"}, 60),
        ({"Cache-Control": "max-age=99999999"}, 86400),
        ({"Cache-Control": "max-age=banana"}, 600),
        ({"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, 60),
        ({"Expires": "not a date"}, 60),
        (
            {"Expires": "Fri, 15 Jan 2027 08:30:00 GMT", "Date": "Fri, 15 Jan 2027 08:00:00 GMT"},
            1800,
        ),
        ({"Cache-Control": "max-age=900", "Expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, 900),
    ],
)
def test_cache_lifetime(headers, expected):
    assert cache_lifetime(headers, now=NOW) == expected
