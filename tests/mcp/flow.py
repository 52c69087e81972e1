"""Walking the proxy's flow the way an MCP client and its user's browser do.

Our app is driven through Flask's test client (its cookie jar is the browser's); the emulator
(Clerk) through real HTTP with its own driver, as the login tests do (``tests.login.conftest``:
the emulator fixture, ``at_clerk``, ``callback``). Nothing reaches into the store.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.login.conftest import BASE_URL, HTML, at_clerk, callback, query_of

RESOURCE = BASE_URL + "/mcp"
CLIENT_REDIRECT = "http://127.0.0.1:33418/callback"
DCR_REQUEST: dict[str, Any] = {
    "redirect_uris": [CLIENT_REDIRECT],
    "client_name": "Test MCP Client",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/oauth/register", json={**DCR_REQUEST, **fields})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


@dataclass
class Authorization:
    """One authorization in progress: what the MCP client knows."""

    client_id: str
    redirect_uri: str = CLIENT_REDIRECT
    state: str = "client-state-1"
    resource: str | None = RESOURCE
    scope: str | None = "openid email profile offline_access"

    def __post_init__(self) -> None:
        self.verifier, self.challenge = pkce()

    def params(self, **changes: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            "resource": self.resource,
            "scope": self.scope,
        }
        params.update(changes)
        return {k: v for k, v in params.items() if v is not None}

    def url(self, **changes: str | None) -> str:
        return "/oauth/authorize?" + urlencode(self.params(**changes))


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")


def consent_fields(page: TestResponse) -> dict[str, str]:
    """The hidden fields of the consent form."""
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return consent_fields_of_html(page.get_data(as_text=True))


def consent_fields_of_html(html: str) -> dict[str, str]:
    """The hidden fields of the consent form in ``html``."""
    parser = _Form()
    parser.feed(html)
    assert {"request", "csrf_token"} <= set(parser.fields), html[:500]
    return parser.fields


def consent_page(browser: FlaskClient, auth: Authorization, **changes: str | None) -> TestResponse:
    return browser.get(auth.url(**changes), headers=HTML)


def answer_consent(
    browser: FlaskClient, fields: dict[str, str], action: str = "approve"
) -> TestResponse:
    return browser.post("/oauth/consent", data={**fields, "action": action}, headers=HTML)


def approve(browser: FlaskClient, auth: Authorization) -> str:
    """Authorize and approve; the Clerk authorize URL the browser is sent to."""
    answer = answer_consent(browser, consent_fields(consent_page(browser, auth)))
    assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    return answer.headers["Location"]


def through_clerk(browser: FlaskClient, clerk_url: str, user: str = "alice") -> TestResponse:
    """Sign in at the emulator, then follow its redirect to our callback."""
    return callback(browser, at_clerk(clerk_url, user=user))


def client_redirect(response: TestResponse, auth: Authorization) -> dict[str, str]:
    """The query of a redirect to the client's redirect URI."""
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == auth.redirect_uri
    return query_of(location)


def authorization_code(browser: FlaskClient, auth: Authorization, user: str = "alice") -> str:
    """The whole browser part: consent, Clerk, callback; the proxy code."""
    answer = client_redirect(through_clerk(browser, approve(browser, auth), user), auth)
    assert answer["state"] == auth.state and answer["iss"] == BASE_URL
    return answer["code"]


def redeem(
    client: FlaskClient, auth: Authorization, code: str, **changes: str | None
) -> TestResponse:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": auth.client_id,
        "redirect_uri": auth.redirect_uri,
        "code_verifier": auth.verifier,
        "resource": auth.resource,
    }
    form.update(changes)
    return client.post("/oauth/token", data={k: v for k, v in form.items() if v is not None})


def refresh(client: FlaskClient, client_id: str, refresh_token: str, **extra: str) -> TestResponse:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            **extra,
        },
    )


def log_in(
    browser: FlaskClient, user: str = "alice", **dcr: Any
) -> tuple[Authorization, dict[str, Any]]:
    """DCR, authorize, consent, Clerk, callback, token: the client's tokens."""
    auth = Authorization(register(browser, **dcr)["client_id"])
    answer = redeem(browser, auth, authorization_code(browser, auth, user))
    assert answer.status_code == 200, answer.get_json()
    tokens: dict[str, Any] = answer.get_json()
    return auth, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
