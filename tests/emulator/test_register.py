"""``/oauth/register``: RFC 7591 dynamic client registration, and its refusals."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce
from tests.support.emulator import running_emulator

from .conftest import introspect, jwt_parts

CALLBACK = "http://127.0.0.1:33418/callback"


def _register(emu: EmulatorServer, body: Any) -> requests.Response:
    return requests.post(emu.url("/oauth/register"), json=body, timeout=5)


def test_confidential_registration_returns_201_with_secret(emu: EmulatorServer) -> None:
    answer = _register(emu, {"redirect_uris": [CALLBACK], "client_name": "Inspector"})
    assert answer.status_code == 201
    doc = answer.json()
    assert set(doc) == {
        "client_id",
        "client_secret",
        "client_id_issued_at",
        "client_secret_expires_at",
        "client_name",
        "redirect_uris",
        "grant_types",
        "response_types",
        "scope",
        "token_endpoint_auth_method",
    }
    assert doc["client_secret_expires_at"] == 0
    assert doc["token_endpoint_auth_method"] == "client_secret_basic"
    assert doc["redirect_uris"] == [CALLBACK]
    assert doc["grant_types"] == ["authorization_code", "refresh_token"]
    assert doc["response_types"] == ["code"]
    assert doc["scope"] == "openid profile email offline_access"
    tokens = sign_in_with_pkce(
        emu.issuer, doc["client_id"], CALLBACK, client_secret=doc["client_secret"]
    )
    assert introspect(emu, tokens["access_token"]).json()["client_id"] == doc["client_id"]


def test_public_registration_has_no_secret_and_works_with_pkce(emu: EmulatorServer) -> None:
    body = {
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "native",
        "scope": "openid email offline_access",
    }
    doc = _register(emu, body).json()
    assert "client_secret" not in doc
    tokens = sign_in_with_pkce(emu.issuer, doc["client_id"], CALLBACK, scopes=("email",))
    assert jwt_parts(tokens["access_token"])[1]["client_id"] == doc["client_id"]


def test_registered_scope_bounds_requests(emu: EmulatorServer) -> None:
    doc = _register(
        emu, {"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none", "scope": "email"}
    ).json()
    with pytest.raises(Exception, match="invalid_scope"):
        sign_in_with_pkce(emu.issuer, doc["client_id"], CALLBACK, scopes=("profile",))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": "http://127.0.0.1/cb"}, "invalid_client_metadata"),
        ({"redirect_uris": ["myapp://callback"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://127.0.0.1/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [CALLBACK], "jwks_uri": "https://x"}, "invalid_client_metadata"),
        ({"redirect_uris": [CALLBACK], "foo": 1}, "invalid_client_metadata"),
        (
            {"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": [CALLBACK], "grant_types": ["implicit"]}, "invalid_client_metadata"),
        ({"redirect_uris": [CALLBACK], "response_types": ["token"]}, "invalid_client_metadata"),
        ({"redirect_uris": [CALLBACK], "scope": "openid admin"}, "invalid_client_metadata"),
        ({"redirect_uris": [CALLBACK], "application_type": "tv"}, "invalid_client_metadata"),
        ({"redirect_uris": [CALLBACK], "client_uri": "javascript:x"}, "invalid_client_metadata"),
        ([CALLBACK], "invalid_client_metadata"),
    ],
)
def test_bad_metadata_is_400(emu: EmulatorServer, body: Any, error: str) -> None:
    answer = _register(emu, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_non_json_body_is_400(emu: EmulatorServer) -> None:
    answer = requests.post(emu.url("/oauth/register"), data={"redirect_uris": CALLBACK}, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client_metadata"


def test_strict_schema_refuses_standard_fields_outside_clerks() -> None:
    with running_emulator(dcr_strict_schema=True) as emu:
        answer = _register(
            emu, {"redirect_uris": [CALLBACK], "grant_types": ["authorization_code"]}
        )
        assert answer.status_code == 400
        assert "grant_types" in answer.json()["error_description"]
        assert _register(emu, {"redirect_uris": [CALLBACK]}).status_code == 201


def test_disabled_dcr_is_422() -> None:
    with running_emulator(dcr_enabled=False) as emu:
        answer = _register(emu, {"redirect_uris": [CALLBACK]})
        assert answer.status_code == 422
        assert "errors" in answer.json()
