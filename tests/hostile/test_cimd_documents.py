"""Hostile Client ID Metadata Documents and client-id URLs, through ``CIMDFetcher``.

The fetcher gets a real guarded session (``ssrf.guarded_session``); ``responses`` answers in
place of the network, below the guard's adapter, so these properties are about what the
fetcher accepts, not about address checks (``tests/mcp/test_ssrf.py`` covers those).
"""

from __future__ import annotations

import re
from typing import Any

import requests
import responses
from hypothesis import example, given
from hypothesis import strategies as st

from flask_clerk_mcp.mcp.cimd import MAX_TTL, MIN_TTL, CIMDError, CIMDFetcher
from flask_clerk_mcp.mcp.ssrf import AddressPolicy, guarded_session

from .conftest import budget, counted
from .oracles import safe_redirect_uri
from .strategies import REDIRECT_URIS, bodies, json_text, json_values, loads

URL = "https://client.example.com/oauth/client.json"
SESSION = guarded_session(AddressPolicy(resolver=lambda host, port: ["93.184.216.34"]))
FETCHER = CIMDFetcher(SESSION, cache=None)

DOCUMENT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "client_id": st.sampled_from(
        [URL] * 6 + [URL + "/", URL.upper(), "https://evil.example/c.json", None, 1]
    ),
    "redirect_uris": st.lists(
        REDIRECT_URIS | st.sampled_from(["https://app.example.com/cb", "http://127.0.0.1:1/cb"]),
        max_size=3,
    )
    | json_values,
    "client_name": st.sampled_from(["Client", "", "\u202eevil", None]) | json_values,
    "grant_types": st.sampled_from([["authorization_code"], ["implicit"], [], None]),
    "response_types": st.sampled_from([["code"], ["token"], None]),
    "token_endpoint_auth_method": st.sampled_from(
        ["none", "client_secret_post", "private_key_jwt", None]
    ),
    "client_secret": st.just("s3cr3t"),
    "client_uri": st.sampled_from(["https://app.example.com", "javascript:alert(1)", None]),
}
_HEADERS = st.fixed_dictionaries(
    {
        "Content-Type": st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/client+json",
                "text/html",
                "application/jsonx",
                "",
                "APPLICATION/JSON",
            ]
        )
    },
    optional={
        "Cache-Control": st.sampled_from(
            [
                "max-age=0",
                "max-age=999999999",
                "no-store",
                "s-maxage=-5",
                "max-age=\u00b2",
                "max-age=1e9",
                "max-age=" + "9" * 50,
            ]
        ),
        "Age": st.sampled_from(["5", "\u00b2", "-1", "9" * 40]),
        "Expires": st.sampled_from(
            ["Thu, 01 Jan 1970 00:00:00 GMT", "garbage", "Fri, 31 Dec 9999 23:59:59 GMT"]
        ),
        "Content-Length": st.sampled_from(["\u00b9", "99999999999999999999999"]),
    },
)


def acceptable(status: int, headers: dict[str, str], body: str) -> bool:
    """The CIMD draft and RFC 7591 restated: a 200 JSON object (by media type) naming exactly
    this URL as its ``client_id``, a public client without secrets, redirect URIs that are a
    non-empty list of at most 20 URIs each safe on the web (``safe_redirect_uri``)."""
    media = headers["Content-Type"].split(";")[0].strip().lower()
    if status != 200 or not (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
    ):
        return False
    document = loads(body)
    if not isinstance(document, dict) or document.get("client_id") != URL:
        return False
    if document.get("token_endpoint_auth_method", "none") != "none":
        return False
    if "client_secret" in document or "client_secret_expires_at" in document:
        return False
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not 0 < len(uris) <= 20:
        return False
    return any(isinstance(u, str) and safe_redirect_uri(u, policy="web") for u in uris)


@budget(400)
@given(
    status=st.sampled_from([200] * 8 + [301, 404, 500]),
    headers=_HEADERS,
    body=bodies(DOCUMENT_FIELDS),
)
@example(
    status=200,
    headers={"Content-Type": "application/json"},
    body=json_text({"client_id": URL, "redirect_uris": ["https://app.example.com/cb"]}),
)
@counted
def test_a_cimd_document_is_accepted_only_when_sound(
    status: int, headers: dict[str, str], body: str
) -> None:
    """Oracle (``acceptable``): a record comes back only for a sound document, and then its
    redirect URIs are among the document's and each ``safe_redirect_uri(policy="web")``, and
    its lifetime is within [1 min, 1 day]; anything else is ``CIMDError`` (``invalid_client``),
    never another exception."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as host:
        extra = {k: v for k, v in headers.items() if k != "Content-Type"}
        host.add(
            responses.GET,
            URL,
            body=body.encode(),
            status=status,
            headers=extra,
            content_type=headers["Content-Type"],
        )
        try:
            record, ttl = FETCHER.fetch(URL)
        except CIMDError as exc:
            assert exc.error == "invalid_client"
            return
    assert acceptable(status, headers, body), body
    document = loads(body)
    assert record.client_id == URL and record.redirect_uris
    for uri in record.redirect_uris:
        assert uri in document["redirect_uris"] and safe_redirect_uri(uri, policy="web"), uri
    assert MIN_TTL <= ttl <= MAX_TTL


_URL_HEADS = st.sampled_from(
    ["https://", "https://", "HTTPS://", "http://", "https:/", "https:", "ftp://", " https://"]
)


@budget(300)
@given(
    url=st.one_of(
        st.tuples(
            _URL_HEADS,
            st.sampled_from(["", "user@", "client.example.com@"]),
            st.sampled_from(
                [
                    "client.example.com",
                    "127.0.0.1",
                    "[::1]",
                    "localhost",
                    "169.254.169.254",
                    "10.0.0.1",
                    "0x7f.1",
                    "2130706433",
                    "cl\u0456ent.example.com",
                    "xn--clent-8ve.example.com",
                    "a%2eb.com",
                ]
            ),
            st.sampled_from(["", ":443", ":0", ":99999", ":8443"]),
            st.sampled_from(
                [
                    "/oauth/client.json",
                    "/",
                    "",
                    "/%2e%2e/x",
                    "/a#frag",
                    "/a?x=1",
                    "/a\\b",
                    "/../etc",
                ]
            ),
        ).map("".join),
        st.text(max_size=30),
    )
)
@counted
def test_a_client_id_url_is_fetched_only_when_sound(url: str) -> None:
    """Oracle: the fetcher sends a request only for an https client-id URL that
    ``safe_redirect_uri(policy="web")`` accepts and that has a path; it requests exactly that
    URL, and never follows anything else. A refusal is ``CIMDError``."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as host:
        host.add(responses.GET, re.compile(".*"), json={}, status=404)
        try:
            FETCHER.fetch(url)
        except CIMDError:
            pass
        except requests.RequestException as exc:  # pragma: no cover - would be a finding
            raise AssertionError(f"untyped failure {type(exc).__name__}") from None
        fetched = [call.request.url for call in host.calls]
    if fetched:
        assert url.startswith("https://") and safe_redirect_uri(url, policy="web"), url
        assert url.split("://", 1)[1].find("/") > 0
        assert len(fetched) == 1
