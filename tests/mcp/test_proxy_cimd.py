"""Client ID Metadata Documents through the proxy: a URL client id, fetched over HTTPS (a
trustme test CA) from loopback, allowed only with ``CLERK_CIMD_ALLOW_LOOPBACK``."""

from __future__ import annotations

import pytest

from tests.login.conftest import BASE_URL, HTML
from tests.mcp.flow import (
    CLIENT_REDIRECT,
    Authorization,
    authorization_code,
    bearer,
    consent_page,
    redeem,
)

PATH = "/oauth/client-metadata.json"


@pytest.fixture
def client_url(server, trust_test_ca):
    url = server.url(PATH, host="127.0.0.1")
    server.document(
        PATH,
        {
            "client_id": url,
            "client_name": "CIMD Test Client",
            "redirect_uris": [CLIENT_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
        Cache_Control="max-age=300",
    )
    return url


@pytest.fixture
def cimd_app(make_proxy_app):
    return make_proxy_app(CLERK_CIMD_ALLOW_LOOPBACK=True)


def refused_on_our_page(response):
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_cimd_client_logs_in_without_registering(cimd_app, client_url, server):
    browser = cimd_app.test_client()
    auth = Authorization(client_url)
    page = consent_page(browser, auth)
    html = page.get_data(as_text=True)
    assert "CIMD Test Client" in html and "published at that address" in html
    answer = redeem(browser, auth, authorization_code(browser, auth))
    assert answer.status_code == 200, answer.get_json()
    me = browser.get("/api/me", headers=bearer(answer.get_json()["access_token"]))
    assert me.status_code == 200
    assert server.hits.count(PATH) == 1  # cached for what its headers allow


def test_a_document_whose_client_id_differs_is_refused(cimd_app, server, trust_test_ca):
    url = server.url(PATH, host="127.0.0.1")
    server.document(PATH, {"client_id": url + "?other", "redirect_uris": [CLIENT_REDIRECT]})
    response = consent_page(cimd_app.test_client(), Authorization(url))
    refused_on_our_page(response)
    assert "client_id differs" in response.get_data(as_text=True)


def test_a_private_addressed_document_is_not_fetched(make_proxy_app, client_url, server):
    browser = make_proxy_app().test_client()  # CLERK_CIMD_ALLOW_LOOPBACK left off
    response = consent_page(browser, Authorization(client_url))
    refused_on_our_page(response)
    assert "loopback" in response.get_data(as_text=True)
    assert server.hits == []  # refused before any packet was sent


def test_the_redirect_uri_must_be_one_of_the_documents(cimd_app, client_url):
    auth = Authorization(client_url, redirect_uri="http://127.0.0.1:33418/elsewhere")
    refused_on_our_page(consent_page(cimd_app.test_client(), auth))


def test_with_cimd_off_a_url_client_id_is_unknown(make_proxy_app, client_url, server):
    browser = make_proxy_app(CLERK_CIMD=False, CLERK_CIMD_ALLOW_LOOPBACK=True).test_client()
    refused_on_our_page(consent_page(browser, Authorization(client_url)))
    assert server.hits == []


def test_a_client_that_cannot_be_identified_never_consumes_the_code(cimd_app, client_url):
    browser = cimd_app.test_client()
    auth = Authorization(client_url)
    code = authorization_code(browser, auth)
    other = Authorization("https://127.0.0.1:1/not-the-client.json")
    other.verifier = auth.verifier
    response = redeem(browser, other, code, redirect_uri=auth.redirect_uri)
    assert response.status_code == 503  # its document cannot be fetched (nothing listens)
    assert response.get_json()["error"] == "temporarily_unavailable"
    assert redeem(browser, auth, code).status_code == 200  # client checked before the pop


def test_iss_on_the_cimd_flow_is_this_server(cimd_app, client_url):
    browser = cimd_app.test_client()
    auth = Authorization(client_url)
    response = browser.get(auth.url(response_type="token"), headers=HTML)
    assert "iss=" + BASE_URL.replace(":", "%3A").replace("/", "%2F") in response.headers["Location"]
