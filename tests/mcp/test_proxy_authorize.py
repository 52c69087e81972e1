"""``/oauth/authorize`` and the consent page: the checks, their two answers (our page vs a
redirect with ``state`` and ``iss``), the page, its CSRF and its one-time use."""

from __future__ import annotations

import pytest

from tests.login.conftest import BASE_URL, HTML
from tests.mcp.flow import (
    CLIENT_REDIRECT,
    Authorization,
    answer_consent,
    approve,
    client_redirect,
    consent_fields,
    consent_page,
    register,
    through_clerk,
)


@pytest.fixture
def auth(browser):
    return Authorization(register(browser)["client_id"])


def refused_on_our_page(response, status=400):
    assert response.status_code == status
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


# -- tier 1: never a redirect ---------------------------------------------------------------
def test_unknown_client_gets_our_error_page(browser, auth):
    response = consent_page(browser, auth, client_id="mcp_" + "x" * 32)
    refused_on_our_page(response)
    assert "register" in response.get_data(as_text=True)


def test_missing_client_id_gets_our_error_page(browser, auth):
    refused_on_our_page(consent_page(browser, auth, client_id=None))


def test_unregistered_redirect_uri_is_refused_without_redirect(browser, auth):
    for uri in (
        "http://127.0.0.1:33418/other",
        "https://evil.example/callback",
        "http://127.0.0.1:33418/callback?x=1",
        "http://localhost:33418/callback",  # another host spelling is another URI
    ):
        refused_on_our_page(consent_page(browser, auth, redirect_uri=uri))


def test_repeated_redirect_uri_is_refused_without_redirect(browser, auth):
    url = auth.url() + "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"
    refused_on_our_page(browser.get(url, headers=HTML))


def test_an_oversized_query_is_refused(browser, auth):
    refused_on_our_page(consent_page(browser, auth, state="s" * 9000), 414)


def test_the_single_registered_redirect_uri_is_used_when_none_is_sent(browser, auth):
    response = consent_page(browser, auth, redirect_uri=None)
    assert response.status_code == 200
    assert "127.0.0.1" in response.get_data(as_text=True)


# -- tier 2: an error redirect with state and iss -------------------------------------------
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"resource": "https://other.example/mcp"}, "invalid_target"),
        ({"resource": BASE_URL + "/mcp/"}, "invalid_target"),
        ({"scope": "openid  email"}, "invalid_scope"),
        ({"scope": 'bad"scope'}, "invalid_scope"),
        ({"prompt": "none"}, "consent_required"),
    ],
)
def test_bad_requests_are_redirected_with_state_and_iss(browser, auth, changes, error):
    answer = client_redirect(consent_page(browser, auth, **changes), auth)
    assert answer["error"] == error
    assert answer["state"] == auth.state
    assert answer["iss"] == BASE_URL


def test_a_repeated_parameter_is_invalid_request(browser, auth):
    answer = client_redirect(browser.get(auth.url() + "&scope=email", headers=HTML), auth)
    assert answer["error"] == "invalid_request" and answer["iss"] == BASE_URL


def test_the_root_resource_is_this_server_too(browser, auth):
    assert consent_page(browser, auth, resource=BASE_URL).status_code == 200


# -- the consent page ------------------------------------------------------------------------
def test_consent_page_names_client_redirect_host_scopes_and_warns_for_localhost(browser, auth):
    response = consent_page(browser, auth)
    html = response.get_data(as_text=True)
    assert "Test MCP Client" in html
    assert 'class="redirect-host"' in html and "127.0.0.1</p>" in html
    assert "Only this computer" in html
    assert "(offline_access)" in html and "(email)" in html
    assert auth.client_id in html


def test_consent_page_headers_forbid_framing_and_caching(browser, auth):
    response = consent_page(browser, auth)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_client_name_is_escaped(browser):
    auth = Authorization(register(browser, client_name="<script>x</script>")["client_id"])
    html = consent_page(browser, auth).get_data(as_text=True)
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_a_repeated_get_does_not_invalidate_the_first_form(browser, auth):
    first = consent_fields(consent_page(browser, auth))
    second = consent_fields(consent_page(browser, auth))
    assert first["csrf_token"] != second["csrf_token"]  # a token per render
    assert answer_consent(browser, first).status_code == 303
    assert answer_consent(browser, second).status_code == 303


def test_consent_without_csrf_token_is_refused(browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    del fields["csrf_token"]
    refused_on_our_page(answer_consent(browser, fields), 403)


def test_consent_with_a_wrong_csrf_token_is_refused(browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    other = consent_fields(consent_page(browser, auth))
    refused_on_our_page(answer_consent(browser, {**fields, "csrf_token": "0" * 64}), 403)
    # a valid token of another render does not fit this request either
    refused_on_our_page(answer_consent(browser, {**fields, "csrf_token": other["csrf_token"]}), 403)


def test_consent_posted_from_another_browser_is_refused(proxy_app, browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    refused_on_our_page(answer_consent(proxy_app.test_client(), fields), 403)


def test_a_tampered_request_is_refused(browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    tampered = fields["request"][:-3] + ("AAA" if not fields["request"].endswith("AAA") else "BBB")
    refused_on_our_page(answer_consent(browser, {**fields, "request": tampered}))


def test_an_answered_form_cannot_be_answered_again(browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    assert answer_consent(browser, fields).status_code == 303
    refused_on_our_page(answer_consent(browser, fields))
    refused_on_our_page(answer_consent(browser, fields, "deny"))


def test_an_unknown_action_is_refused(browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    refused_on_our_page(answer_consent(browser, fields, "maybe"))


def test_deny_redirects_access_denied_with_state_and_iss(browser, auth):
    fields = consent_fields(consent_page(browser, auth))
    answer = client_redirect(answer_consent(browser, fields, "deny"), auth)
    assert answer["error"] == "access_denied"
    assert answer["state"] == auth.state and answer["iss"] == BASE_URL


# -- the callback ----------------------------------------------------------------------------
def test_binding_cookie_from_another_browser_is_refused(proxy_app, browser, auth):
    from tests.login.conftest import at_clerk, callback

    callback_url = at_clerk(approve(browser, auth))
    response = callback(proxy_app.test_client(), callback_url)
    refused_on_our_page(response)


def test_state_reuse_at_the_callback_is_refused(browser, auth):
    from tests.login.conftest import at_clerk, callback

    callback_url = at_clerk(approve(browser, auth))
    assert callback(browser, callback_url).status_code == 302
    refused_on_our_page(callback(browser, callback_url))


def test_clerk_denying_goes_back_to_the_client_as_access_denied(browser, auth):
    from tests.login.conftest import at_clerk, callback

    response = callback(browser, at_clerk(approve(browser, auth), approve=False))
    answer = client_redirect(response, auth)
    assert answer["error"] == "access_denied"
    assert answer["state"] == auth.state and answer["iss"] == BASE_URL


def test_a_client_without_state_gets_none_back(browser, auth):
    auth.state = None  # type: ignore[assignment]
    clerk = approve(browser, auth)
    answer = client_redirect(through_clerk(browser, clerk), auth)
    assert "state" not in answer and answer["code"] and answer["iss"] == BASE_URL


def test_a_client_redirect_uri_with_a_query_keeps_it(browser):
    uri = CLIENT_REDIRECT + "?session=abc"
    auth = Authorization(register(browser, redirect_uris=[uri])["client_id"], redirect_uri=uri)
    response = through_clerk(browser, approve(browser, auth))
    assert response.headers["Location"].startswith(uri + "&code=")
