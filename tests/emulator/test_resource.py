"""Introspection, userinfo and revocation: Clerk's thin answers and its quirks, on purpose."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer, OAuthClient

from .conftest import BASIC, REDIRECT_URI, introspect, sign_in, userinfo

THIN_FIELDS = {"active", "client_id", "iat", "scope", "sub"}
ALICE = "user_2alice000000000000000000000"


# -- introspection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("emu_client_demo", "wrong"), ("nobody", "x")],
    ids=["no-basic", "wrong-secret", "unknown-client"],
)
def test_introspection_without_valid_basic_is_401(emu: EmulatorServer, auth: Any) -> None:
    token = sign_in(emu)["access_token"]
    answer = introspect(emu, token, auth=auth)
    assert answer.status_code == 401
    assert "errors" in answer.json()
    assert "active" not in answer.json()


def test_introspection_refuses_body_credentials(emu: EmulatorServer) -> None:
    token = sign_in(emu)["access_token"]
    answer = introspect(
        emu, token, auth=None, client_id="emu_client_demo", client_secret="emu_secret_demo"
    )
    assert answer.status_code == 401


def test_introspection_refuses_public_clients(emu: EmulatorServer) -> None:
    emu.register_client(OAuthClient("pub", None, [REDIRECT_URI], token_endpoint_auth_method="none"))
    raw = base64.b64encode(b"pub:").decode()
    answer = requests.post(
        emu.url("/oauth/token_info"),
        data={"token": "x"},
        headers={"Authorization": f"Basic {raw}"},
        timeout=5,
    )
    assert answer.status_code == 401


def test_active_access_token_has_exactly_the_thin_fields(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("openid", "email"))
    answer = introspect(emu, tokens["access_token"], token_type_hint="access_token")
    assert answer.status_code == 200
    info = answer.json()
    assert set(info) == THIN_FIELDS  # no exp, aud, token_type; no org_id without user:org:read
    assert info["active"] is True
    assert info["client_id"] == "emu_client_demo"
    assert info["sub"] == ALICE
    assert info["scope"] == "openid email"
    assert isinstance(info["iat"], int)
    assert answer.headers["Cache-Control"] == "no-store"


def test_org_id_only_with_user_org_read_and_an_org(emu: EmulatorServer) -> None:
    alice = sign_in(emu, scopes=("email", "user:org:read"))["access_token"]
    assert set(introspect(emu, alice).json()) == THIN_FIELDS | {"org_id"}
    bob = sign_in(emu, user="bob", scopes=("email", "user:org:read"))["access_token"]
    assert set(introspect(emu, bob).json()) == THIN_FIELDS


def test_refresh_token_is_active_too_like_clerk(emu: EmulatorServer) -> None:
    """Clerk's introspection cannot tell a refresh token from an access token."""
    refresh = sign_in(emu, scopes=("email", "offline_access"))["refresh_token"]
    info = introspect(emu, refresh, token_type_hint="access_token").json()
    assert info["active"] is True
    assert set(info) == THIN_FIELDS


def test_unknown_token_is_inactive(emu: EmulatorServer) -> None:
    assert introspect(emu, "oat_NOPE").json() == {"active": False}


def test_missing_token_is_400(emu: EmulatorServer) -> None:
    answer = requests.post(emu.url("/oauth/token_info"), data={}, auth=BASIC, timeout=5)
    assert answer.status_code == 400


def test_token_of_another_client_is_active_with_its_client_id(emu: EmulatorServer) -> None:
    emu.register_client(OAuthClient("other", "other-secret", [REDIRECT_URI]))
    token = sign_in(emu)["access_token"]
    info = introspect(emu, token, auth=("other", "other-secret")).json()
    assert info["active"] is True
    assert info["client_id"] == "emu_client_demo"


def test_scope_parameter_checks_the_granted_scopes(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    assert introspect(emu, token, scope="email").json()["active"] is True
    assert introspect(emu, token, scope="email profile").json() == {"active": False}


# -- userinfo ---------------------------------------------------------------------------------


def test_userinfo_claims_follow_scopes(emu: EmulatorServer) -> None:
    full = userinfo(emu, sign_in(emu, scopes=("openid", "email", "profile"))["access_token"])
    assert full.status_code == 200
    assert full.json() == {
        "object": "oauth_user_info",
        "instance_id": "ins_2emulator0000000000000000000",
        "sub": ALICE,
        "user_id": ALICE,
        "email": "alice@example.com",
        "email_verified": True,
        "given_name": "Alice",
        "family_name": "Liddell",
        "name": "Alice Liddell",
        "picture": "https://img.example.com/emulator/alice.png",
        "preferred_username": "alice",
    }


def test_userinfo_without_email_scope_has_no_email(emu: EmulatorServer) -> None:
    claims = userinfo(emu, sign_in(emu, scopes=("profile",))["access_token"]).json()
    assert "email" not in claims and "email_verified" not in claims
    assert claims["name"] == "Alice Liddell"


def test_userinfo_with_only_openid_has_just_the_ids(emu: EmulatorServer) -> None:
    claims = userinfo(emu, sign_in(emu, scopes=("openid",))["access_token"]).json()
    assert set(claims) == {"object", "instance_id", "sub", "user_id"}


def test_userinfo_metadata_and_org_scopes(emu: EmulatorServer) -> None:
    scopes = ("public_metadata", "private_metadata", "user:org:read")
    claims = userinfo(emu, sign_in(emu, scopes=scopes)["access_token"]).json()
    assert claims["public_metadata"] == {"role": "admin"}
    assert claims["unsafe_metadata"] == {}
    assert claims["private_metadata"] == {"plan": "pro"}
    assert (claims["org_id"], claims["org_slug"]) == ("org_2acme0000000000000000000000", "acme")


def test_userinfo_of_bob_reports_unverified_email(emu: EmulatorServer) -> None:
    claims = userinfo(emu, sign_in(emu, user="bob", scopes=("email",))["access_token"]).json()
    assert claims["email"] == "bob@example.com" and claims["email_verified"] is False


def test_userinfo_accepts_post(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    answer = requests.post(
        emu.url("/oauth/userinfo"), headers={"Authorization": f"bearer {token}"}, timeout=5
    )
    assert answer.status_code == 200


def test_userinfo_refuses_a_refresh_token(emu: EmulatorServer) -> None:
    refresh = sign_in(emu, scopes=("email", "offline_access"))["refresh_token"]
    answer = userinfo(emu, refresh)
    assert answer.status_code == 401
    assert "errors" in answer.json()
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer a b", "Bearer oat_NOPE"])
def test_userinfo_without_a_valid_bearer_is_401(emu: EmulatorServer, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = requests.get(emu.url("/oauth/userinfo"), headers=headers, timeout=5)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "authentication_invalid"


# -- revocation ---------------------------------------------------------------------------------


def _revoke(emu: EmulatorServer, token: str, auth: Any = BASIC, **form: str) -> requests.Response:
    data = {"token": token, **form}
    return requests.post(emu.url("/oauth/token/revoke"), data=data, auth=auth, timeout=5)


def test_revoking_an_access_token_leaves_the_refresh_token(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("email", "offline_access"))
    answer = _revoke(emu, tokens["access_token"], token_type_hint="access_token")
    assert answer.status_code == 200 and answer.content == b""
    assert introspect(emu, tokens["access_token"]).json() == {"active": False}
    assert userinfo(emu, tokens["access_token"]).status_code == 401
    assert introspect(emu, tokens["refresh_token"]).json()["active"] is True


def test_revoking_a_refresh_token_kills_its_access_tokens(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("email", "offline_access"))
    assert _revoke(emu, tokens["refresh_token"]).status_code == 200
    assert introspect(emu, tokens["refresh_token"]).json() == {"active": False}
    assert introspect(emu, tokens["access_token"]).json() == {"active": False}


def test_revoking_an_unknown_token_is_200(emu: EmulatorServer) -> None:
    assert _revoke(emu, "oat_NOPE").status_code == 200


def test_revocation_needs_basic(emu: EmulatorServer) -> None:
    token = sign_in(emu)["access_token"]
    answer = _revoke(emu, token, auth=None)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert introspect(emu, token).json()["active"] is True


def test_revocation_refuses_another_clients_token(emu: EmulatorServer) -> None:
    emu.register_client(OAuthClient("other", "other-secret", [REDIRECT_URI]))
    token = sign_in(emu)["access_token"]
    answer = _revoke(emu, token, auth=("other", "other-secret"))
    assert answer.status_code == 400
    assert introspect(emu, token).json()["active"] is True


def test_revocation_without_token_is_invalid_request(emu: EmulatorServer) -> None:
    answer = requests.post(emu.url("/oauth/token/revoke"), data={}, auth=BASIC, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
