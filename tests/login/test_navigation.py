"""``next`` targets and the same-origin rule for logout: tables of honest and hostile values."""

from __future__ import annotations

import pytest

from flask_clerk_mcp.login.navigation import DEFAULT_TARGET, safe_next
from flask_clerk_mcp.origins import is_same_origin_request, origin_of

HONEST = [
    "/",
    "/account",
    "/account/settings?tab=profile&x=1",
    "/notes/42#top",
    "/search?q=a%20b",
    "/files/%E2%9C%93",
    "/a:b",  # a colon inside a path is not a scheme
]

HOSTILE = [
    None,
    "",
    "account",  # relative to the current path, not to the app
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2f%2fevil.example",
    "/%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%252f%252fevil.example",  # double-encoded
    "/%5cevil.example",  # encoded backslash
    "/%5C%5Cevil.example",
    "/\tevil",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/%09/evil.example",
    "/\x00evil",
    "/ /evil.example",
    "/../evil",
    "/./account",
    "/%2e%2e/%2e%2e/evil",
    "/%25252f%25252fevil",  # encoded deeper than any honest link
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HONEST)
def test_safe_next_keeps_same_origin_paths(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_open_redirects(target: str | None) -> None:
    assert safe_next(target) == DEFAULT_TARGET


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://mcp.example.com", "https://mcp.example.com"),
        ("https://MCP.example.com:443/app", "https://mcp.example.com"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://localhost:80", "http://localhost"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("origin", "fetch_site", "accepted"),
    [
        ("https://mcp.example.com", None, True),
        ("https://mcp.example.com", "same-origin", True),
        ("https://mcp.example.com:443", None, True),
        (None, "same-origin", True),
        ("https://evil.example", None, False),
        ("https://evil.example", "same-origin", False),  # Origin, when sent, decides
        ("http://mcp.example.com", None, False),  # scheme differs
        ("https://mcp.example.com.evil.example", None, False),
        ("null", None, False),
        ("null", "cross-site", False),  # an opaque origin (sandboxed frame, data: URL)
        ("null", "same-origin", True),  # our own page under Referrer-Policy: no-referrer
        (None, "cross-site", False),
        (None, "same-site", False),
        (None, "none", False),
        (None, None, False),  # neither header: cannot tell, refuse
        ("not a url", None, False),
    ],
)
def test_same_origin_rule(origin: str | None, fetch_site: str | None, accepted: bool) -> None:
    assert is_same_origin_request(origin, fetch_site, "https://mcp.example.com") is accepted
