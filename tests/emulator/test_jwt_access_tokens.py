"""JWT access tokens as Clerk's new OAuth apps issue them: format, audience, keys, revocation."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorConfig, EmulatorServer
from flask_clerk_mcp.emulator.config import ALICE
from flask_clerk_mcp.emulator.driver import DriverError, authorize_in_browserless_flow, pkce_pair
from tests.support.emulator import running_emulator

from .conftest import (
    BASIC,
    CLIENT_ID,
    REDIRECT_URI,
    FakeClock,
    authorize_url,
    introspect,
    jwt_parts,
    query_of,
    sign_in,
    userinfo,
)

RESOURCE = "https://mcp.example.com/mcp"


def _jwks(emu: EmulatorServer) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict(requests.get(emu.url("/.well-known/jwks.json"), timeout=5).json())


def _verified(emu: EmulatorServer, token: str, **options: Any) -> dict[str, Any]:
    """The claims of ``token`` after PyJWT checked its signature against the emulator's JWKS."""
    kid = jwt.get_unverified_header(token)["kid"]
    claims: dict[str, Any] = jwt.decode(
        token,
        _jwks(emu)[kid],
        algorithms=["RS256"],
        issuer=emu.issuer,
        options={"verify_aud": False, **options},
    )
    return claims


def _operator(emu: EmulatorServer, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, emu.url("/__emulator" + path), json=body, timeout=5)


def _token_error(answer: requests.Response) -> str:
    assert answer.status_code == 400, answer.text
    return str(answer.json()["error"])


def _exchange_code(emu: EmulatorServer, resource_at_authorize: str | None, **form: str) -> Any:
    verifier, challenge = pkce_pair()
    location = authorize_in_browserless_flow(
        authorize_url(emu, code_challenge=challenge, resource=resource_at_authorize)
    )
    body = {
        "grant_type": "authorization_code",
        "code": query_of(location)["code"],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **form,
    }
    return requests.post(emu.url("/oauth/token"), data=body, auth=BASIC, timeout=5)


# -- format -----------------------------------------------------------------------------------


def test_access_token_is_an_rs256_at_jwt_with_clerks_claims(
    emu: EmulatorServer, clock: FakeClock
) -> None:
    tokens = sign_in(emu, scopes=("email", "profile"))
    header, _ = jwt_parts(tokens["access_token"])
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": emu.emulator.keys.kid}
    claims = _verified(emu, tokens["access_token"])
    assert claims["iss"] == emu.issuer
    assert claims["sub"] == ALICE.user_id
    assert claims["client_id"] == CLIENT_ID
    assert claims["scope"] == "email profile"
    assert claims["iat"] == claims["nbf"] == int(clock())
    assert claims["exp"] == claims["iat"] + 86400
    assert claims["jti"].startswith("oat_")
    # no resource was sent: no aud (Clerk documents none), no azp, no profile claims
    assert set(claims) == {"iss", "sub", "client_id", "scope", "iat", "nbf", "exp", "jti"}


def test_each_token_has_its_own_jti(emu: EmulatorServer) -> None:
    first = jwt_parts(sign_in(emu, scopes=("email",))["access_token"])[1]
    second = jwt_parts(sign_in(emu, scopes=("email",))["access_token"])[1]
    assert first["jti"] != second["jti"]


def test_introspection_and_userinfo_serve_jwt_access_tokens(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",), resource=RESOURCE)["access_token"]
    info = introspect(emu, token).json()
    assert info["active"] is True and info["client_id"] == CLIENT_ID
    assert "aud" not in info and "exp" not in info  # Clerk's thin schema, JWT or not
    assert userinfo(emu, token).json()["email"] == "alice@example.com"


def test_a_forged_jwt_is_unknown_to_introspection(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert introspect(emu, tampered).json() == {"active": False}
    assert userinfo(emu, tampered).status_code == 401


def test_id_token_and_access_token_share_the_key_but_not_the_type(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("openid", "email"))
    id_header, _ = jwt_parts(tokens["id_token"])
    access_header, _ = jwt_parts(tokens["access_token"])
    assert id_header["kid"] == access_header["kid"]
    assert (id_header["typ"], access_header["typ"]) == ("JWT", "at+jwt")


# -- RFC 8707 audience --------------------------------------------------------------------------


def test_resource_becomes_the_audience(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",), resource=RESOURCE)["access_token"]
    assert _verified(emu, token)["aud"] == RESOURCE


def test_resource_at_authorize_only_still_binds_the_token(emu: EmulatorServer) -> None:
    answer = _exchange_code(emu, RESOURCE)
    assert answer.status_code == 200, answer.text
    assert jwt_parts(answer.json()["access_token"])[1]["aud"] == RESOURCE


def test_resource_at_the_token_endpoint_only_binds_the_token(emu: EmulatorServer) -> None:
    answer = _exchange_code(emu, None, resource=RESOURCE)
    assert answer.status_code == 200, answer.text
    assert jwt_parts(answer.json()["access_token"])[1]["aud"] == RESOURCE


def test_token_request_cannot_change_the_granted_resource(emu: EmulatorServer) -> None:
    answer = _exchange_code(emu, RESOURCE, resource="https://other.example.com/mcp")
    assert _token_error(answer) == "invalid_target"


@pytest.mark.parametrize(
    "resource",
    ["/mcp", "mcp.example.com", "https://mcp.example.com/mcp#frag"],
    ids=["relative", "no-scheme", "fragment"],
)
def test_malformed_resource_is_invalid_target(emu: EmulatorServer, resource: str) -> None:
    location = authorize_in_browserless_flow(authorize_url(emu, resource=resource))
    assert query_of(location)["error"] == "invalid_target"
    assert _token_error(_exchange_code(emu, None, resource=resource)) == "invalid_target"


def test_two_resources_are_invalid_target(emu: EmulatorServer) -> None:
    url = authorize_url(emu, resource=RESOURCE) + "&resource=https%3A%2F%2Fb.example%2Fmcp"
    assert query_of(authorize_in_browserless_flow(url))["error"] == "invalid_target"
    verifier, challenge = pkce_pair()
    code = query_of(authorize_in_browserless_flow(authorize_url(emu, code_challenge=challenge)))
    answer = requests.post(
        emu.url("/oauth/token"),
        data={
            "grant_type": "authorization_code",
            "code": code["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "resource": [RESOURCE, "https://b.example/mcp"],
        },
        auth=BASIC,
        timeout=5,
    )
    assert _token_error(answer) == "invalid_target"


def test_refresh_keeps_the_grants_resource_and_refuses_another(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("email", "offline_access"), resource=RESOURCE)

    def refresh(refresh_token: str, **form: str) -> requests.Response:
        body = {"grant_type": "refresh_token", "refresh_token": refresh_token, **form}
        return requests.post(emu.url("/oauth/token"), data=body, auth=BASIC, timeout=5)

    refused = refresh(tokens["refresh_token"], resource="https://other.example.com/mcp")
    assert _token_error(refused) == "invalid_target"
    renewed = refresh(tokens["refresh_token"])  # the refusal did not consume it
    assert renewed.status_code == 200, renewed.text
    assert jwt_parts(renewed.json()["access_token"])[1]["aud"] == RESOURCE
    again = refresh(renewed.json()["refresh_token"], resource=RESOURCE)
    assert jwt_parts(again.json()["access_token"])[1]["aud"] == RESOURCE


# -- revocation --------------------------------------------------------------------------------


def _revoke(emu: EmulatorServer, token: str, hint: str = "access_token") -> requests.Response:
    return requests.post(
        emu.url("/oauth/token/revoke"),
        data={"token": token, "token_type_hint": hint},
        auth=BASIC,
        timeout=5,
    )


def test_revoking_a_jwt_makes_it_inactive(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    assert _revoke(emu, token).status_code == 200
    assert introspect(emu, token).json() == {"active": False}
    assert userinfo(emu, token).status_code == 401


def test_clerks_documented_refusal_to_revoke_jwts(clock: FakeClock) -> None:
    with running_emulator(clock=clock, jwt_access_tokens_revocable=False) as emu:
        tokens = sign_in(emu, scopes=("email", "offline_access"))
        assert _token_error(_revoke(emu, tokens["access_token"])) == "unsupported_token_type"
        assert introspect(emu, tokens["access_token"]).json()["active"] is True
        # revoking the grant's refresh token still ends its JWT access tokens
        assert _revoke(emu, tokens["refresh_token"], "refresh_token").status_code == 200
        assert introspect(emu, tokens["access_token"]).json() == {"active": False}


def test_an_expired_jwt_is_inactive(emu: EmulatorServer, clock: FakeClock) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    clock.advance(86400)
    assert introspect(emu, token).json() == {"active": False}


# -- the opaque format --------------------------------------------------------------------------


def test_opaque_format_issues_oat_tokens(clock: FakeClock) -> None:
    with running_emulator(clock=clock, access_token_format="opaque") as emu:
        token = sign_in(emu, scopes=("email",), resource=RESOURCE)["access_token"]
        assert token.startswith("oat_") and "." not in token
        assert introspect(emu, token).json()["active"] is True
        assert _revoke(emu, token).status_code == 200
        assert introspect(emu, token).json() == {"active": False}


def test_unknown_token_format_is_refused() -> None:
    with pytest.raises(ValueError, match="access token format"):
        EmulatorConfig(access_token_format="paseto")


def test_operator_switches_the_token_format(emu: EmulatorServer) -> None:
    assert _operator(emu, "GET", "/token-format").json() == {"format": "jwt"}
    assert _operator(emu, "POST", "/token-format", {"format": "opaque"}).json() == {
        "format": "opaque"
    }
    assert sign_in(emu, scopes=("email",))["access_token"].startswith("oat_")
    _operator(emu, "POST", "/token-format", {"format": "jwt"})
    assert jwt_parts(sign_in(emu, scopes=("email",))["access_token"])[0]["typ"] == "at+jwt"
    for body in ({"format": "paseto"}, {}, None, ["jwt"]):
        answer = _operator(emu, "POST", "/token-format", body)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert _operator(emu, "GET", "/token-format").json() == {"format": "jwt"}


# -- key rotation -------------------------------------------------------------------------------


def test_rotation_keeps_the_old_key_published_by_default(emu: EmulatorServer) -> None:
    old_token = sign_in(emu, scopes=("email",))["access_token"]
    old_kid = jwt_parts(old_token)[0]["kid"]
    rotated = _operator(emu, "POST", "/keys/rotate")
    assert rotated.status_code == 200
    new_kid = rotated.json()["current"]
    assert new_kid != old_kid and rotated.json()["published"] == [new_kid, old_kid]
    new_token = sign_in(emu, scopes=("email",))["access_token"]
    assert jwt_parts(new_token)[0]["kid"] == new_kid
    assert [key.key_id for key in _jwks(emu).keys] == [new_kid, old_kid]
    assert _verified(emu, old_token)["sub"] == _verified(emu, new_token)["sub"]
    # the end of "for a while": the retired key leaves the JWKS
    dropped = _operator(emu, "DELETE", "/keys/retired")
    assert dropped.json() == {"current": new_kid, "published": [new_kid]}
    assert [key.key_id for key in _jwks(emu).keys] == [new_kid]


def test_rotation_can_drop_the_old_key_at_once(emu: EmulatorServer) -> None:
    old_token = sign_in(emu, scopes=("email",))["access_token"]
    rotated = _operator(emu, "POST", "/keys/rotate", {"keep_previous": False}).json()
    assert rotated["published"] == [rotated["current"]]
    with pytest.raises(KeyError):
        _jwks(emu)[jwt_parts(old_token)[0]["kid"]]
    # the emulator still remembers the token it issued: introspection is about the token
    assert introspect(emu, old_token).json()["active"] is True


def test_keys_endpoint_and_bad_rotation_bodies(emu: EmulatorServer) -> None:
    doc = _operator(emu, "GET", "/keys").json()
    assert doc == {"current": emu.emulator.keys.kid, "published": [emu.emulator.keys.kid]}
    for body in ({"keep_previous": "no"}, ["x"]):
        answer = _operator(emu, "POST", "/keys/rotate", body)
        assert answer.status_code == 400
    assert _operator(emu, "GET", "/keys").json() == doc  # nothing rotated


def test_driver_reports_a_refused_resource(emu: EmulatorServer) -> None:
    """The driver sends resource to authorize and raises on the error redirect."""
    with pytest.raises(DriverError, match="invalid_target"):
        sign_in(emu, scopes=("email",), resource="not a uri")
