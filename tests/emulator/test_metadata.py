"""Discovery documents and the JWKS, field for field as Clerk publishes them."""

from __future__ import annotations

import requests

from flask_clerk_mcp.emulator import EmulatorServer
from tests.support.emulator import running_emulator

AS_REQUIRED = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "revocation_endpoint",
    "jwks_uri",
    "response_types_supported",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
    "scopes_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "claims_supported",
    "code_challenge_methods_supported",
}
OIDC_REQUIRED = AS_REQUIRED | {
    "introspection_endpoint",
    "userinfo_endpoint",
    "response_modes_supported",
    "backchannel_logout_supported",
    "frontchannel_logout_supported",
}


def test_openid_configuration_has_clerk_fields_and_endpoints(emu: EmulatorServer) -> None:
    answer = requests.get(emu.url("/.well-known/openid-configuration"), timeout=5)
    assert answer.status_code == 200
    doc = answer.json()
    assert OIDC_REQUIRED <= set(doc)
    assert doc["issuer"] == emu.issuer
    assert doc["introspection_endpoint"] == emu.issuer + "/oauth/token_info"
    assert doc["userinfo_endpoint"] == emu.issuer + "/oauth/userinfo"
    assert doc["revocation_endpoint"] == emu.issuer + "/oauth/token/revoke"
    assert doc["registration_endpoint"] == emu.issuer + "/oauth/register"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert "offline_access" in doc["scopes_supported"]
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_authorization_server_metadata_is_rfc8414_without_oidc_extras(emu: EmulatorServer) -> None:
    doc = requests.get(emu.url("/.well-known/oauth-authorization-server"), timeout=5).json()
    assert AS_REQUIRED <= set(doc)
    assert doc["issuer"] == emu.issuer
    assert "introspection_endpoint" not in doc  # not in Clerk's RFC 8414 schema
    assert "userinfo_endpoint" not in doc
    assert doc["registration_endpoint"] == emu.issuer + "/oauth/register"
    assert "authorization_response_iss_parameter_supported" not in doc


def test_registration_endpoint_only_when_dcr_enabled() -> None:
    with running_emulator(dcr_enabled=False) as emu:
        for path in (
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ):
            assert "registration_endpoint" not in requests.get(emu.url(path), timeout=5).json()


def test_iss_support_is_advertised_only_when_enabled() -> None:
    with running_emulator(authorization_response_iss=True) as emu:
        doc = requests.get(emu.url("/.well-known/oauth-authorization-server"), timeout=5).json()
        assert doc["authorization_response_iss_parameter_supported"] is True


def test_jwks_publishes_one_rs256_key(emu: EmulatorServer) -> None:
    keys = requests.get(emu.url("/.well-known/jwks.json"), timeout=5).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert {"kid", "n", "e"} <= set(keys[0])


def test_unknown_path_answers_clerk_json_error(emu: EmulatorServer) -> None:
    answer = requests.get(emu.url("/oauth/nope"), timeout=5)
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["code"] == "resource_not_found"
