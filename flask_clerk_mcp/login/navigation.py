"""Where a browser may be sent, and who may ask: ``next`` targets and same-origin checks.

Both guard against the classic login-flow abuses: an open redirect (``/login?next=//evil``
turns our trusted domain into a phishing springboard) and cross-site requests that change
state (a hostile page auto-submitting a form to ``/logout``). Pure functions over strings and
headers, so they are tested with tables of hostile values.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

#: Where a refused or missing ``next`` goes.
DEFAULT_TARGET = "/"
MAX_TARGET_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def safe_next(value: str | None) -> str:
    """``value`` if it is a same-origin relative path, else ``DEFAULT_TARGET``.

    Accepted: ``/path``, ``/path?query``, ``/path#fragment``. Refused: anything not starting
    with exactly one ``/`` (``//evil``, ``https://evil``, ``javascript:``), backslashes (browsers
    read ``/\\evil`` as ``//evil``), control characters and whitespace (``/\\t/evil``), dot
    segments, and all of these hidden under percent-encoding, decoded repeatedly
    (``/%2f%2fevil``, ``%252f``), because some proxy or framework on the way may decode once
    more than we expect.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_TARGET_LENGTH:
        return DEFAULT_TARGET
    if any(c.isspace() for c in value):  # browsers drop tabs and newlines: "/\t/x" is "//x"
        return DEFAULT_TARGET
    layer = value
    for _ in range(4):  # the raw value and up to three rounds of decoding
        if not _acceptable(layer):
            return DEFAULT_TARGET
        decoded = unquote(layer)
        if decoded == layer:
            return value
        layer = decoded
    return DEFAULT_TARGET  # encoded more deeply than any honest link is


def _acceptable(candidate: str) -> bool:
    if not candidate.startswith("/") or candidate.startswith("//"):
        return False
    if "\\" in candidate or _CONTROL.search(candidate):
        return False
    if _SCHEME.match(candidate):
        return False
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return False
    if parts.scheme or parts.netloc:
        return False
    segments = parts.path.split("/")
    return not any(segment in (".", "..") for segment in segments)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme.lower()}://{host}{suffix}"


def is_same_origin_request(
    origin: str | None, fetch_site: str | None, expected_origin: str
) -> bool:
    """True when the browser says the request comes from our own pages.

    ``Origin`` (sent by browsers on every POST) must equal ``expected_origin`` — the origin of
    ``CLERK_BASE_URL``, not of the ``Host`` header, which a proxy may rewrite. Without
    ``Origin`` — or with ``Origin: null``, which browsers send from pages with
    ``Referrer-Policy: no-referrer`` and from opaque origins alike — ``Sec-Fetch-Site:
    same-origin`` decides (browsers compute it themselves; an opaque origin gets
    ``cross-site``). With neither, the request is refused: a browser that sends neither header
    cannot prove where the request came from, and a non-browser client has no business
    posting our forms.
    """
    if origin is not None and origin.strip().lower() != "null":
        try:
            return origin_of(origin.strip()) == expected_origin
        except ValueError:
            return False
    return (fetch_site or "").strip().lower() == "same-origin"
