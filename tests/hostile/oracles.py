"""Oracles for where a browser ends up, written from RFC 3986 and the WHATWG URL standard's
preprocessing, independently of ``mcp.redirects`` and ``login.navigation``."""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote, urljoin, urlsplit

#: Schemes whose "navigation" runs code or reads local data.
DANGEROUS = {"javascript", "data", "file", "vbscript", "blob", "about", "filesystem", "view-source"}
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def browser_resolves(base: str, target: str) -> str:
    """What a browser makes of ``target`` written in a page at ``base`` (a ``Location``):
    leading/trailing C0 controls and spaces stripped, tabs and newlines removed anywhere, a
    backslash read as a slash (special schemes), then RFC 3986 resolution."""
    cleaned = target.strip(_C0_AND_SPACE)
    for char in "\t\n\r":
        cleaned = cleaned.replace(char, "")
    cleaned = cleaned.replace("\\", "/")
    return urljoin(base, cleaned)


def same_origin(base: str, target: str) -> bool:
    """``target`` followed from ``base`` stays on ``base``'s origin, even if something on the
    way decodes it up to three more times."""
    want = urlsplit(base)
    layer = target
    for _ in range(4):
        got = urlsplit(browser_resolves(base + "/", layer))
        if (got.scheme.lower(), got.netloc.lower()) != (want.scheme, want.netloc.lower()):
            return False
        layer = unquote(layer)
    return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dot_segments(path: str) -> bool:
    layer = path
    for _ in range(4):
        if any(seg in (".", "..") for seg in layer.split("/")):
            return True
        layer = unquote(layer)
    return False


def safe_redirect_uri(uri: str, *, policy: str, hosts: frozenset[str] = frozenset()) -> bool:
    """Whether a registered redirect URI delivers codes only where ``policy`` says.

    ``"loopback"``: http(s) on a loopback host (the default policy); ``"hosts"``: https on
    exactly one of ``hosts``; ``"web"``: https anywhere or http on loopback (CIMD). In every
    case a browser must read the URI as written: visible ASCII only, no backslash, no
    userinfo, no fragment, no percent-encoded host, a valid port, no dot segments (even
    encoded), and never a dangerous scheme.
    """
    if not uri or not all("\x21" <= c <= "\x7e" for c in uri) or "\\" in uri:
        return False
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in DANGEROUS or parts.fragment or "#" in uri or _dot_segments(parts.path):
        return False
    if scheme not in ("http", "https"):
        return False  # private-use schemes need an explicit pattern; none is configured here
    netloc = parts.netloc
    if not netloc or "@" in netloc or "%" in netloc:
        return False
    try:
        port = parts.port
    except ValueError:
        return False
    if port == 0:
        return False
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return False
    if policy == "hosts":
        return scheme == "https" and host in hosts
    if policy == "loopback":
        return is_loopback(host)
    return scheme == "https" or is_loopback(host)
