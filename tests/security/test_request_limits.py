"""Probes: every endpoint the package owns reads a bounded request, whatever the app's own
``MAX_CONTENT_LENGTH``, and answers a larger one with a clear refusal (never a 500, never by
reading on). Bodies are tried with a ``Content-Length`` and without one (chunked: the server
says ``wsgi.input_terminated``), since a limit checked only against the header is no limit.
"""

from __future__ import annotations

import io

import pytest

from flask_clerk_mcp.mcp.inbound import FORM_LIMIT, JSON_LIMIT, QUERY_LIMIT
from tests.login.conftest import HTML
from tests.mcp.flow import Authorization, consent_fields, consent_page, register

FORM = "application/x-www-form-urlencoded"
BIG_FORM = b"client_id=x&junk=" + b"y" * (FORM_LIMIT + 1)
BIG_JSON = b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "junk": "' + b"y" * JSON_LIMIT + b'"}'


def _chunked(client, path, body, content_type, **kwargs):
    """``body`` posted without a Content-Length, as a chunked request reaches a WSGI app."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type=content_type,
        environ_overrides={"wsgi.input_terminated": True},
        **kwargs,
    )


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_token_and_revoke_bodies_are_bounded(browser, path):
    sized = browser.post(path, data=BIG_FORM, content_type=FORM)
    chunked = _chunked(browser, path, BIG_FORM, FORM)
    for answer in (sized, chunked):
        assert answer.status_code == 413
        assert answer.get_json()["error"] == "invalid_request"


def test_chunked_requests_are_read_without_a_content_length(browser):
    """The control: a small chunked body is read (so the probe above is a real one)."""
    answer = _chunked(browser, "/oauth/token", b"client_id=nobody&grant_type=x", FORM)
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"


def test_registration_bodies_are_bounded(browser):
    sized = browser.post("/oauth/register", data=BIG_JSON, content_type="application/json")
    chunked = _chunked(browser, "/oauth/register", BIG_JSON, "application/json")
    for answer in (sized, chunked):
        assert answer.status_code == 413
        assert answer.get_json()["error"] == "invalid_request"


def test_consent_bodies_are_bounded(browser):
    auth = Authorization(register(browser)["client_id"])
    fields = consent_fields(consent_page(browser, auth))
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    body += b"&action=approve&junk=" + b"y" * FORM_LIMIT
    sized = browser.post("/oauth/consent", data=body, content_type=FORM, headers=HTML)
    chunked = _chunked(browser, "/oauth/consent", body, FORM, headers=HTML)
    for answer in (sized, chunked):
        assert answer.status_code == 413
        assert answer.mimetype == "text/html"


def test_the_authorization_query_is_bounded(browser):
    auth = Authorization(register(browser)["client_id"])
    answer = consent_page(browser, auth, junk="y" * QUERY_LIMIT)
    assert answer.status_code == 414
    assert "Location" not in answer.headers


def test_the_callback_query_is_bounded(browser):
    """The callback is ours too (``CLERK_REDIRECT_PATH``, login and proxy): a query past the
    limit is refused before anything in it is looked at."""
    answer = browser.get(
        "/auth/callback", query_string={"state": "s" * 40, "junk": "y" * QUERY_LIMIT}, headers=HTML
    )
    assert answer.status_code == 414
    assert "too large" in answer.get_data(as_text=True)


def test_a_callback_query_within_the_limit_is_read(browser):
    """The control: an ordinary (unknown) state is answered on its merits."""
    answer = browser.get("/auth/callback", query_string={"state": "s" * 40}, headers=HTML)
    assert answer.status_code == 400
    assert "unknown, expired or was already used" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp"]
)
def test_metadata_reads_nothing_of_the_request(browser, path):
    """The documents are built from the configuration alone: a huge query or body changes
    nothing, and other methods are refused without reading the body."""
    plain = browser.get(path)
    noisy = browser.get(path, query_string={"junk": "y" * QUERY_LIMIT}, data=b"y" * 100_000)
    assert plain.status_code == noisy.status_code == 200
    assert plain.get_data() == noisy.get_data()
    posted = browser.post(path, data=b"y" * 100_000, content_type=FORM)
    assert posted.status_code == 405
