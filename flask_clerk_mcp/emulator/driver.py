"""Get tokens from an emulator the way a person would: no back door.

``sign_in_with_pkce`` runs the real authorization-code + PKCE (S256) flow over HTTP: it opens
``/oauth/authorize``, submits the sign-in form as a demo user, approves the consent form, reads
``code`` and ``state`` from the redirect's ``Location`` without following it (nothing needs to
listen at the redirect URI), checks ``state``, and exchanges the code at ``/oauth/token``.
Forms are read from the HTML the emulator serves, as a browser would, so the pages and the
driver cannot drift apart unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urljoin, urlsplit

import requests

DEFAULT_TIMEOUT = 10.0


class DriverError(RuntimeError):
    """The flow did not go as a successful sign-in would; the message says where."""


class _Forms(HTMLParser):
    """Collect each ``<form>``: its id, action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = {"action": attributes.get("action", ""), "fields": {}}
            self.forms[attributes.get("id", f"form{len(self.forms)}")] = self._current
        elif tag == "input" and self._current is not None:
            if attributes.get("type") == "hidden" and attributes.get("name"):
                self._current["fields"][attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _form(response: requests.Response, form_id: str) -> tuple[str, dict[str, str]]:
    parser = _Forms()
    parser.feed(response.text)
    form = parser.forms.get(form_id)
    if form is None:
        raise DriverError(
            f"expected a page with #{form_id}, got HTTP {response.status_code}: "
            f"{response.text[:300]!r}"
        )
    return urljoin(response.url, form["action"]), dict(form["fields"])


def _location(response: requests.Response) -> str:
    location = response.headers.get("Location")
    if response.status_code not in (301, 302, 303, 307, 308) or not location:
        raise DriverError(f"expected a redirect, got HTTP {response.status_code}")
    return urljoin(response.url, location)


def authorize_in_browserless_flow(
    authorize_url: str,
    user: str = "alice",
    approve: bool = True,
    session: requests.Session | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Walk an authorization URL up to the redirect back to the client; return its Location.

    ``user`` is a demo user's handle, or an email address (typed into the email field).
    The Location carries ``code`` and ``state`` on success, ``error`` otherwise (an error
    redirect straight from ``/oauth/authorize`` is returned as is). Raises ``DriverError``
    when a page or redirect is missing, e.g. on the emulator's error page.
    """
    http = session or requests.Session()
    page = http.get(authorize_url, allow_redirects=False, timeout=timeout)
    if page.is_redirect:
        return _location(page)
    action, fields = _form(page, "sign-in-email-form" if "@" in user else "sign-in-form")
    fields["email" if "@" in user else "user"] = user
    page = http.post(action, data=fields, allow_redirects=False, timeout=timeout)
    if page.is_redirect:  # no consent page on this instance
        return _location(page)
    action, fields = _form(page, "consent-form")
    fields["decision"] = "allow" if approve else "deny"
    return _location(http.post(action, data=fields, allow_redirects=False, timeout=timeout))


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)`` for S256 (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_in_with_pkce(
    issuer: str,
    client_id: str,
    redirect_uri: str,
    *,
    client_secret: str | None = None,
    user: str = "alice",
    scopes: tuple[str, ...] | list[str] = ("openid", "email", "profile"),
    session: requests.Session | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    resource: str | None = None,
) -> dict[str, Any]:
    """Sign ``user`` in to ``client_id`` and return the token endpoint's JSON answer.

    Confidential clients (``client_secret`` given) authenticate with HTTP Basic; public
    clients send ``client_id`` in the body. ``resource`` (RFC 8707) is sent to both the
    authorization and the token endpoint, as MCP clients must. Raises ``DriverError`` on any
    refusal.
    """
    http = session or requests.Session()
    base = issuer.rstrip("/")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if resource is not None:
        query["resource"] = resource
    location = authorize_in_browserless_flow(
        f"{base}/oauth/authorize?{urlencode(query)}", user=user, session=http, timeout=timeout
    )
    if not location.startswith(redirect_uri):
        raise DriverError("redirected somewhere other than the redirect URI")
    params = parse_qs(urlsplit(location).query)
    if "error" in params:
        raise DriverError(f"authorization refused: {params['error'][0]}")
    if params.get("state") != [state]:
        raise DriverError("state in the redirect does not match the one sent")
    codes = params.get("code") or []
    if len(codes) != 1:
        raise DriverError("the redirect carries no code")
    form = {
        "grant_type": "authorization_code",
        "code": codes[0],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    if resource is not None:
        form["resource"] = resource
    auth: tuple[str, str] | None = None
    if client_secret is None:
        form["client_id"] = client_id
    else:
        auth = (quote_plus(client_id), quote_plus(client_secret))  # RFC 6749 §2.3.1
    answer = http.post(f"{base}/oauth/token", data=form, auth=auth, timeout=timeout)
    if answer.status_code != 200:
        raise DriverError(f"token exchange failed: HTTP {answer.status_code} {answer.text[:300]}")
    tokens: dict[str, Any] = answer.json()
    return tokens
