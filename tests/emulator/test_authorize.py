"""``/oauth/authorize`` and the sign-in and consent pages: every refusal, and the happy path."""

from __future__ import annotations

import re

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer, OAuthClient
from flask_clerk_mcp.emulator.driver import DriverError, authorize_in_browserless_flow, pkce_pair
from tests.support.emulator import running_emulator

from .conftest import CLIENT_ID, REDIRECT_URI, authorize_url, query_of


def _get(http: requests.Session, url: str) -> requests.Response:
    return http.get(url, allow_redirects=False, timeout=5)


def _hidden_id(page: requests.Response) -> str:
    match = re.search(r'name="authorization_id" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _error_redirect(http: requests.Session, url: str) -> dict[str, str]:
    answer = _get(http, url)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return query_of(location)


# -- refusals shown as a page, never a redirect ------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "no_such_client"},
        {"client_id": None},
        {"redirect_uri": "http://127.0.0.1:5000/elsewhere"},
        {"redirect_uri": "http://127.0.0.1:5001/auth/callback"},  # another port: exact match
        {"redirect_uri": None},
    ],
    ids=["unknown-client", "no-client", "other-path", "other-port", "no-redirect-uri"],
)
def test_untrusted_client_or_redirect_gets_error_page_not_redirect(
    emu: EmulatorServer, http: requests.Session, overrides: dict[str, str | None]
) -> None:
    answer = _get(http, authorize_url(emu, **overrides))
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert answer.headers["Content-Type"].startswith("text/html")
    assert 'id="error-title"' in answer.text


# -- refusals sent back to the client ---------------------------------------------------------


def test_response_type_other_than_code_is_unsupported(
    emu: EmulatorServer, http: requests.Session
) -> None:
    params = _error_redirect(http, authorize_url(emu, response_type="token"))
    assert params["error"] == "unsupported_response_type"
    assert params["state"] == "state-1234567"


def test_plain_pkce_is_refused(emu: EmulatorServer, http: requests.Session) -> None:
    verifier = "v" * 43
    params = _error_redirect(
        http, authorize_url(emu, code_challenge=verifier, code_challenge_method="plain")
    )
    assert params["error"] == "invalid_request"
    assert "S256" in params["error_description"]


def test_challenge_without_method_means_plain_and_is_refused(
    emu: EmulatorServer, http: requests.Session
) -> None:
    params = _error_redirect(http, authorize_url(emu, code_challenge_method=None))
    assert params["error"] == "invalid_request"


def test_malformed_challenge_is_refused(emu: EmulatorServer, http: requests.Session) -> None:
    assert _error_redirect(http, authorize_url(emu, code_challenge="short"))["error"] == (
        "invalid_request"
    )


def test_short_state_is_refused(emu: EmulatorServer, http: requests.Session) -> None:
    params = _error_redirect(http, authorize_url(emu, state="1234567"))
    assert params["error"] == "invalid_request"
    assert "state" in params["error_description"]


def test_state_may_be_omitted_only_with_pkce(emu: EmulatorServer, http: requests.Session) -> None:
    url = authorize_url(emu, state=None, code_challenge=None, code_challenge_method=None)
    params = _error_redirect(http, url)
    assert params["error"] == "invalid_request"
    assert "state" not in params
    assert _get(http, authorize_url(emu, state=None)).status_code == 200  # PKCE given: fine


def test_public_client_without_challenge_is_refused(clock: object) -> None:
    public = OAuthClient("pub", None, [REDIRECT_URI], token_endpoint_auth_method="none")
    with running_emulator(clients={"pub": public}) as emu, requests.Session() as http:
        url = authorize_url(emu, client_id="pub", code_challenge=None, code_challenge_method=None)
        params = _error_redirect(http, url)
        assert params["error"] == "invalid_request"
        assert "public" in params["error_description"]


def test_unknown_scope_is_invalid_scope(emu: EmulatorServer, http: requests.Session) -> None:
    params = _error_redirect(http, authorize_url(emu, scope="openid admin:everything"))
    assert params["error"] == "invalid_scope"


def test_repeated_parameter_is_refused(emu: EmulatorServer, http: requests.Session) -> None:
    url = authorize_url(emu) + "&scope=email"
    assert _error_redirect(http, url)["error"] == "invalid_request"


def test_prompt_none_is_login_required(emu: EmulatorServer, http: requests.Session) -> None:
    assert _error_redirect(http, authorize_url(emu, prompt="none"))["error"] == "login_required"


def test_unknown_response_mode_is_refused(emu: EmulatorServer, http: requests.Session) -> None:
    assert _error_redirect(http, authorize_url(emu, response_mode="fragment"))["error"] == (
        "invalid_request"
    )


# -- the pages ----------------------------------------------------------------------------------


def test_sign_in_and_consent_pages_have_stable_controls(
    emu: EmulatorServer, http: requests.Session
) -> None:
    page = _get(http, authorize_url(emu))
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    for control in ('name="user" value="alice"', 'name="user" value="bob"', 'id="email"'):
        assert control in page.text
    consent = http.post(
        emu.url("/sign-in"), data={"authorization_id": _hidden_id(page), "user": "alice"}, timeout=5
    )
    assert consent.status_code == 200
    assert 'name="decision" value="allow"' in consent.text
    assert 'name="decision" value="deny"' in consent.text
    assert "Emulator demo app" in consent.text
    assert 'data-scope="email"' in consent.text


def test_full_browserless_flow_redirects_with_code_and_state(
    emu: EmulatorServer, http: requests.Session
) -> None:
    location = authorize_in_browserless_flow(authorize_url(emu), session=http)
    params = query_of(location)
    assert location.startswith(REDIRECT_URI + "?")
    assert params["state"] == "state-1234567"
    assert len(params["code"]) >= 32
    assert "iss" not in params  # Clerk does not advertise RFC 9207


def test_deny_redirects_access_denied(emu: EmulatorServer, http: requests.Session) -> None:
    location = authorize_in_browserless_flow(authorize_url(emu), approve=False, session=http)
    params = query_of(location)
    assert params["error"] == "access_denied"
    assert params["state"] == "state-1234567"
    assert "code" not in params


def test_sign_in_by_email(emu: EmulatorServer, http: requests.Session) -> None:
    location = authorize_in_browserless_flow(
        authorize_url(emu), user="BOB@example.com", session=http
    )
    assert "code" in query_of(location)


def test_unknown_email_shows_sign_in_again(emu: EmulatorServer, http: requests.Session) -> None:
    with pytest.raises(DriverError, match="consent-form"):
        authorize_in_browserless_flow(authorize_url(emu), user="eve@example.com", session=http)


def test_pending_ids_are_single_use(emu: EmulatorServer, http: requests.Session) -> None:
    pending = _hidden_id(_get(http, authorize_url(emu)))
    form = {"authorization_id": pending, "user": "alice"}
    assert http.post(emu.url("/sign-in"), data=form, timeout=5).status_code == 200
    replay = http.post(emu.url("/sign-in"), data=form, timeout=5)
    assert replay.status_code == 400
    assert "expired" in replay.text


def test_consent_id_is_single_use(emu: EmulatorServer, http: requests.Session) -> None:
    page = _get(http, authorize_url(emu))
    consent = http.post(
        emu.url("/sign-in"), data={"authorization_id": _hidden_id(page), "user": "alice"}, timeout=5
    )
    form = {"authorization_id": _hidden_id(consent), "decision": "allow"}
    first = http.post(emu.url("/consent"), data=form, allow_redirects=False, timeout=5)
    assert first.status_code == 302
    second = http.post(emu.url("/consent"), data=form, allow_redirects=False, timeout=5)
    assert second.status_code == 400
    assert "Location" not in second.headers


def test_form_posted_from_another_browser_finds_nothing(
    emu: EmulatorServer, http: requests.Session
) -> None:
    """CSRF: the pending id is bound to the cookie of the browser that started the flow."""
    pending = _hidden_id(_get(http, authorize_url(emu)))
    with requests.Session() as attacker:
        forged = attacker.post(
            emu.url("/sign-in"), data={"authorization_id": pending, "user": "alice"}, timeout=5
        )
    assert forged.status_code == 400
    # ...and the forged attempt consumed it: the victim's own submission now fails too.
    again = http.post(emu.url("/sign-in"), data={"authorization_id": pending, "user": "alice"})
    assert again.status_code == 400


def test_invalid_decision_is_refused(emu: EmulatorServer, http: requests.Session) -> None:
    answer = http.post(emu.url("/consent"), data={"authorization_id": "x", "decision": "maybe"})
    assert answer.status_code == 400


def test_no_consent_page_when_disabled_and_dcr_off(clock: object) -> None:
    with running_emulator(consent_required=False, dcr_enabled=False) as emu:
        with requests.Session() as http:
            page = _get(http, authorize_url(emu))
            done = http.post(
                emu.url("/sign-in"),
                data={"authorization_id": _hidden_id(page), "user": "alice"},
                allow_redirects=False,
                timeout=5,
            )
        assert done.status_code == 302
        assert "code" in query_of(done.headers["Location"])


def test_dcr_forces_consent_even_when_disabled(clock: object) -> None:
    with running_emulator(consent_required=False) as emu, requests.Session() as http:
        page = _get(http, authorize_url(emu))
        consent = http.post(
            emu.url("/sign-in"), data={"authorization_id": _hidden_id(page), "user": "alice"}
        )
        assert 'id="consent-form"' in consent.text


def test_iss_is_added_when_enabled(clock: object) -> None:
    with running_emulator(authorization_response_iss=True) as emu:
        location = authorize_in_browserless_flow(authorize_url(emu))
        assert query_of(location)["iss"] == emu.issuer


def test_form_post_response_mode_renders_auto_posting_form(
    emu: EmulatorServer, http: requests.Session
) -> None:
    page = _get(http, authorize_url(emu, response_mode="form_post"))
    consent = http.post(
        emu.url("/sign-in"), data={"authorization_id": _hidden_id(page), "user": "alice"}
    )
    answer = http.post(
        emu.url("/consent"),
        data={"authorization_id": _hidden_id(consent), "decision": "allow"},
        allow_redirects=False,
    )
    assert answer.status_code == 200
    assert f'action="{REDIRECT_URI}"' in answer.text
    assert 'name="code"' in answer.text and 'value="state-1234567"' in answer.text


def test_default_scope_is_profile_email(emu: EmulatorServer, http: requests.Session) -> None:
    page = _get(http, authorize_url(emu, scope=None))
    consent = http.post(
        emu.url("/sign-in"), data={"authorization_id": _hidden_id(page), "user": "alice"}
    )
    scopes = re.findall(r'data-scope="([^"]+)"', consent.text)
    assert scopes == ["profile", "email"]


def test_client_registered_at_runtime_is_accepted(emu: EmulatorServer) -> None:
    emu.add_redirect_uri(CLIENT_ID, "http://127.0.0.1:6123/cb")
    location = authorize_in_browserless_flow(
        authorize_url(emu, redirect_uri="http://127.0.0.1:6123/cb")
    )
    assert location.startswith("http://127.0.0.1:6123/cb?code=")


def test_authorize_accepts_post(emu: EmulatorServer, http: requests.Session) -> None:
    _, challenge = pkce_pair()
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "state-1234567",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = http.post(emu.url("/oauth/authorize"), data=form, allow_redirects=False, timeout=5)
    assert page.status_code == 200
    assert 'id="sign-in-form"' in page.text


def test_rfc8707_resource_is_ignored_like_clerk(emu: EmulatorServer) -> None:
    url = authorize_url(emu, resource="http://127.0.0.1:8000/mcp")
    assert "code" in query_of(authorize_in_browserless_flow(url))
