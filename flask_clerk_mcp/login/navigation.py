"""Where a browser may be sent: ``next`` targets.

Guards against the classic login-flow abuse of an open redirect (``/login?next=//evil`` turns
our trusted domain into a phishing springboard). Pure functions over strings, so they are
tested with tables of hostile values. Who may *ask* (same-origin checks) is ``..origins``.
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
