"""``/oauth/token``: the code exchange with PKCE, client authentication, refresh rotation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from flask_clerk_mcp.emulator import EmulatorServer, OAuthClient
from flask_clerk_mcp.emulator.driver import (
    DriverError,
    authorize_in_browserless_flow,
    pkce_pair,
    sign_in_with_pkce,
)
from tests.support.emulator import running_emulator

from .conftest import (
    BASIC,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    FakeClock,
    authorize_url,
    introspect,
    jwt_parts,
    query_of,
    sign_in,
    userinfo,
)


def _code(emu: EmulatorServer, challenge: str | None, **overrides: Any) -> str:
    params: dict[str, Any] = {"code_challenge": challenge}
    if challenge is None:
        params["code_challenge_method"] = None
    params.update(overrides)
    return query_of(authorize_in_browserless_flow(authorize_url(emu, **params)))["code"]


def _exchange(emu: EmulatorServer, auth: Any = BASIC, **form: str | None) -> requests.Response:
    body = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI, **form}
    data = {k: v for k, v in body.items() if v is not None}
    return requests.post(emu.url("/oauth/token"), data=data, auth=auth, timeout=5)


def _error(answer: requests.Response, status: int = 400) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    return str(body["error"])


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# -- the happy path -----------------------------------------------------------------------------


def test_driver_runs_the_full_pkce_flow_for_a_confidential_client(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("openid", "email", "profile", "offline_access"))
    assert jwt_parts(tokens["access_token"])[0]["typ"] == "at+jwt"  # Clerk's new apps
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 86400
    assert tokens["scope"] == "openid email profile offline_access"
    assert tokens["refresh_token"] and not tokens["refresh_token"].startswith("oat_")
    assert "id_token" in tokens


def test_public_client_exchanges_with_client_id_and_verifier(clock: FakeClock) -> None:
    public = OAuthClient("pub", None, [REDIRECT_URI], token_endpoint_auth_method="none")
    with running_emulator(clients={"pub": public}, clock=clock) as emu:
        tokens = sign_in_with_pkce(emu.issuer, "pub", REDIRECT_URI, scopes=("email",))
        assert tokens["scope"] == "email"
        assert "refresh_token" not in tokens and "id_token" not in tokens


def test_client_secret_post_is_equivalent_to_basic(emu: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    answer = _exchange(
        emu,
        auth=None,
        code=code,
        code_verifier=verifier,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"


def test_no_refresh_token_without_offline_access(emu: EmulatorServer) -> None:
    assert "refresh_token" not in sign_in(emu, scopes=("email",))


def test_id_token_is_rs256_signed_by_the_jwks_key(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("openid", "email"))
    header_b64, claims_b64, signature_b64 = tokens["id_token"].split(".")
    header = json.loads(_b64(header_b64))
    claims = json.loads(_b64(claims_b64))
    jwk = requests.get(emu.url("/.well-known/jwks.json"), timeout=5).json()["keys"][0]
    assert header == {"alg": "RS256", "kid": jwk["kid"], "typ": "JWT"}
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
    ).public_key()
    public.verify(
        _b64(signature_b64),
        f"{header_b64}.{claims_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert claims["iss"] == emu.issuer and claims["aud"] == CLIENT_ID
    assert claims["email"] == "alice@example.com"
    assert "name" not in claims  # no profile scope


# -- refusals of the code exchange -----------------------------------------------------------


def test_wrong_verifier_is_invalid_grant(emu: EmulatorServer) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = _code(emu, challenge)
    assert _error(_exchange(emu, code=code, code_verifier=other_verifier)) == "invalid_grant"


def test_missing_verifier_is_invalid_grant(emu: EmulatorServer) -> None:
    _, challenge = pkce_pair()
    assert _error(_exchange(emu, code=_code(emu, challenge))) == "invalid_grant"


def test_verifier_for_code_without_challenge_is_refused(emu: EmulatorServer) -> None:
    verifier, _ = pkce_pair()
    code = _code(emu, None)
    assert _error(_exchange(emu, code=code, code_verifier=verifier)) == "invalid_grant"


def test_confidential_client_without_pkce_works(emu: EmulatorServer) -> None:
    assert _exchange(emu, code=_code(emu, None)).status_code == 200


def test_replayed_code_fails_and_revokes_its_tokens(emu: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    first = _exchange(emu, code=code, code_verifier=verifier)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert introspect(emu, access).json()["active"] is True
    assert _error(_exchange(emu, code=code, code_verifier=verifier)) == "invalid_grant"
    assert introspect(emu, access).json() == {"active": False}


def test_code_is_consumed_even_by_a_failed_attempt(emu: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    assert _error(_exchange(emu, code=code, code_verifier=pkce_pair()[0])) == "invalid_grant"
    assert _error(_exchange(emu, code=code, code_verifier=verifier)) == "invalid_grant"


def test_expired_code_is_invalid_grant(emu: EmulatorServer, clock: FakeClock) -> None:
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    clock.advance(601)
    assert _error(_exchange(emu, code=code, code_verifier=verifier)) == "invalid_grant"


def test_code_just_inside_its_lifetime_works(emu: EmulatorServer, clock: FakeClock) -> None:
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    clock.advance(599)
    assert _exchange(emu, code=code, code_verifier=verifier).status_code == 200


def test_redirect_uri_mismatch_at_token_is_invalid_grant(emu: EmulatorServer) -> None:
    emu.add_redirect_uri(CLIENT_ID, "http://127.0.0.1:5000/other")
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    answer = _exchange(
        emu, code=code, code_verifier=verifier, redirect_uri="http://127.0.0.1:5000/other"
    )
    assert _error(answer) == "invalid_grant"


def test_missing_redirect_uri_is_invalid_request(emu: EmulatorServer) -> None:
    verifier, challenge = pkce_pair()
    answer = _exchange(emu, code=_code(emu, challenge), code_verifier=verifier, redirect_uri=None)
    assert _error(answer) == "invalid_request"


def test_code_of_another_client_is_invalid_grant(emu: EmulatorServer) -> None:
    emu.register_client(OAuthClient("other", "other-secret", [REDIRECT_URI]))
    verifier, challenge = pkce_pair()
    code = _code(emu, challenge)
    answer = _exchange(emu, auth=("other", "other-secret"), code=code, code_verifier=verifier)
    assert _error(answer) == "invalid_grant"


def test_unknown_code_is_invalid_grant(emu: EmulatorServer) -> None:
    assert _error(_exchange(emu, code="nope", code_verifier=pkce_pair()[0])) == "invalid_grant"


@pytest.mark.parametrize(
    "auth",
    [("emu_client_demo", "wrong"), ("nobody", "x"), None],
    ids=["wrong-secret", "unknown-client", "no-credentials"],
)
def test_bad_client_authentication_is_401_with_basic_challenge(
    emu: EmulatorServer, auth: Any
) -> None:
    answer = _exchange(emu, auth=auth, code="whatever")
    assert _error(answer, 401) == "invalid_client"
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_confidential_client_cannot_pose_as_public(emu: EmulatorServer) -> None:
    answer = _exchange(emu, auth=None, code="whatever", client_id=CLIENT_ID)
    assert _error(answer, 401) == "invalid_client"


def test_two_authentication_methods_at_once_are_refused(emu: EmulatorServer) -> None:
    answer = _exchange(emu, code="x", client_secret=CLIENT_SECRET)
    assert _error(answer) == "invalid_request"


def test_unsupported_grant_type(emu: EmulatorServer) -> None:
    answer = requests.post(
        emu.url("/oauth/token"), data={"grant_type": "client_credentials"}, auth=BASIC, timeout=5
    )
    assert _error(answer) == "unsupported_grant_type"


def test_json_body_is_refused(emu: EmulatorServer) -> None:
    answer = requests.post(
        emu.url("/oauth/token"), json={"grant_type": "authorization_code"}, auth=BASIC, timeout=5
    )
    assert _error(answer) == "invalid_request"


# -- refresh ------------------------------------------------------------------------------------


def _refresh(emu: EmulatorServer, token: str, **form: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, **form}
    return requests.post(emu.url("/oauth/token"), data=data, auth=BASIC, timeout=5)


def test_refresh_rotates_and_old_refresh_token_fails(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("email", "offline_access"))
    first = _refresh(emu, tokens["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    assert _error(_refresh(emu, tokens["refresh_token"])) == "invalid_grant"
    assert _refresh(emu, rotated["refresh_token"]).status_code == 200


def test_refresh_may_narrow_scope_but_not_widen_it(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("email", "profile", "offline_access"))
    narrowed = _refresh(emu, tokens["refresh_token"], scope="email").json()
    assert narrowed["scope"] == "email"
    assert "name" not in userinfo(emu, narrowed["access_token"]).json()
    # the new refresh token still carries the original grant
    again = _refresh(emu, narrowed["refresh_token"]).json()
    assert again["scope"] == "email profile offline_access"
    assert _error(_refresh(emu, again["refresh_token"], scope="email openid")) == "invalid_scope"


def test_access_token_is_not_a_refresh_token(emu: EmulatorServer) -> None:
    tokens = sign_in(emu, scopes=("email", "offline_access"))
    assert _error(_refresh(emu, tokens["access_token"])) == "invalid_grant"


def test_refresh_token_of_another_client_is_refused(emu: EmulatorServer) -> None:
    emu.register_client(OAuthClient("other", "other-secret", [REDIRECT_URI]))
    tokens = sign_in(emu, scopes=("email", "offline_access"))
    answer = requests.post(
        emu.url("/oauth/token"),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("other", "other-secret"),
        timeout=5,
    )
    assert _error(answer) == "invalid_grant"
    assert _refresh(emu, tokens["refresh_token"]).status_code == 200  # not burnt by the attempt


def test_access_token_expires_after_its_ttl(emu: EmulatorServer, clock: FakeClock) -> None:
    tokens = sign_in(emu, scopes=("email",))
    clock.advance(86399)
    assert introspect(emu, tokens["access_token"]).json()["active"] is True
    clock.advance(2)
    assert introspect(emu, tokens["access_token"]).json() == {"active": False}
    assert userinfo(emu, tokens["access_token"]).status_code == 401


def test_driver_raises_on_refusal(emu: EmulatorServer) -> None:
    with pytest.raises(DriverError, match="invalid_scope"):
        sign_in(emu, scopes=("nonsense",))
    with pytest.raises(DriverError, match="401"):
        sign_in(emu, client_secret="wrong")
