"""Who may ask: whether a browser request comes from this site's own pages.

Guards against cross-site requests that change state with the session cookie alone (a hostile
page auto-submitting a form to ``/logout``, or to a ``browser=True`` route that accepts POST).
``SameSite=Lax`` does not suffice: browsers still send the cookie from same-site origins
(sibling subdomains, other ports). Pure functions over strings and headers, free of Flask, so
the login and the core's ``require_clerk`` share one rule, tested with tables of hostile values.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit


class Headers(Protocol):
    """What is read of a request's headers (werkzeug's ``Headers``, a dict, …)."""

    def get(self, key: str) -> str | None:
        """The header's value, or None."""


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


def is_from_own_pages(headers: Headers, base_url: str) -> bool:
    """``is_same_origin_request`` for a request's headers against ``CLERK_BASE_URL``'s origin."""
    return is_same_origin_request(
        headers.get("Origin"), headers.get("Sec-Fetch-Site"), origin_of(base_url)
    )
