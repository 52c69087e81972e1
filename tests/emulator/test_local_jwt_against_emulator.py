"""local_jwt against the real emulator: what it issues passes, rotation costs one refetch.

The emulator plays Clerk; these tests check that the library's local JWT checks and the
emulator's tokens agree, over HTTP, with the JWKS fetch counted by the emulator itself.
"""

from __future__ import annotations

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.config import ALICE
from flask_clerk_mcp.errors import InvalidToken, UpstreamUnavailable
from flask_clerk_mcp.local_jwt import AudiencePolicy, JwksCache, LocalJwtVerifier, looks_like_jwt

from .conftest import CLIENT_ID, FakeClock, jwt_parts, sign_in

RESOURCE = "http://127.0.0.1:8000/mcp"
INTERVAL = 10.0


def fetch_json(url: str) -> object:
    return requests.get(url, timeout=5).json()


def jwks_fetches(emu: EmulatorServer) -> int:
    return emu.emulator.controls.counters().get("jwks", 0)


@pytest.fixture
def verifier(emu: EmulatorServer, clock: FakeClock) -> LocalJwtVerifier:
    """The library's verifier for this emulator, on the emulator's own clock."""
    jwks = JwksCache(
        emu.url("/.well-known/jwks.json"), fetch_json, clock=clock, refetch_interval=INTERVAL
    )
    return LocalJwtVerifier(
        issuer=emu.issuer,
        jwks=jwks,
        audience=AudiencePolicy.of([CLIENT_ID], [RESOURCE]),
        clock=clock,
    )


def rotate(emu: EmulatorServer, *, keep_previous: bool) -> str:
    answer = requests.post(
        emu.url("/__emulator/keys/rotate"), json={"keep_previous": keep_previous}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    kid: str = answer.json()["current"]
    return kid


def test_an_emulator_token_passes_the_local_checks(
    emu: EmulatorServer, verifier: LocalJwtVerifier, clock: FakeClock
) -> None:
    token = sign_in(emu, scopes=("email", "profile"), resource=RESOURCE)["access_token"]
    assert looks_like_jwt(token)
    verified = verifier.verify(token)
    assert verified.subject == ALICE.user_id
    assert verified.client_id == CLIENT_ID
    assert verified.scopes == ("email", "profile")
    assert verified.expires_at == int(clock()) + 86400
    assert verified.claims["aud"] == RESOURCE
    assert jwks_fetches(emu) == 1


def test_without_resource_the_client_id_is_the_audience(
    emu: EmulatorServer, verifier: LocalJwtVerifier
) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    assert "aud" not in verifier.verify(token).claims


def test_emulator_tokens_for_others_are_refused(
    emu: EmulatorServer, verifier: LocalJwtVerifier
) -> None:
    other_resource = sign_in(emu, scopes=("email",), resource="https://other.example/mcp")
    with pytest.raises(InvalidToken, match="not meant for this server"):
        verifier.verify(other_resource["access_token"])
    id_token = sign_in(emu, scopes=("openid", "email"))["id_token"]
    with pytest.raises(InvalidToken, match="not an access token"):
        verifier.verify(id_token)
    for_another_client = LocalJwtVerifier(
        issuer=emu.issuer, jwks=verifier.jwks, audience=AudiencePolicy.of(["client_else"])
    )
    with pytest.raises(InvalidToken, match="not meant for this server"):
        for_another_client.verify(sign_in(emu, scopes=("email",))["access_token"])


def test_after_rotation_a_new_kid_passes_after_one_refetch(
    emu: EmulatorServer, verifier: LocalJwtVerifier, clock: FakeClock
) -> None:
    old_token = sign_in(emu, scopes=("email",))["access_token"]
    verifier.verify(old_token)
    assert jwks_fetches(emu) == 1
    new_kid = rotate(emu, keep_previous=False)
    new_token = sign_in(emu, scopes=("email",))["access_token"]
    assert jwt_parts(new_token)[0]["kid"] == new_kid
    clock.advance(INTERVAL)  # past the refetch limit of the first fetch
    assert verifier.verify(new_token).key_id == new_kid
    assert jwks_fetches(emu) == 2
    for _ in range(5):
        verifier.verify(new_token)
    assert jwks_fetches(emu) == 2
    # the old key left the JWKS with that refetch: its token now meets an unknown kid
    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(old_token)
    assert jwks_fetches(emu) == 2


def test_a_key_kept_published_keeps_its_tokens_valid(
    emu: EmulatorServer, verifier: LocalJwtVerifier, clock: FakeClock
) -> None:
    old_token = sign_in(emu, scopes=("email",))["access_token"]
    verifier.verify(old_token)
    rotate(emu, keep_previous=True)
    new_token = sign_in(emu, scopes=("email",))["access_token"]
    clock.advance(INTERVAL)
    assert verifier.verify(new_token).key_id != verifier.verify(old_token).key_id
    assert jwks_fetches(emu) == 2


def test_a_jwks_outage_is_503_for_a_new_kid(
    emu: EmulatorServer, verifier: LocalJwtVerifier, clock: FakeClock
) -> None:
    verifier.verify(sign_in(emu, scopes=("email",))["access_token"])
    rotate(emu, keep_previous=True)
    new_token = sign_in(emu, scopes=("email",))["access_token"]
    for mode in ("500", "html"):
        requests.post(
            emu.url("/__emulator/faults"), json={"endpoint": "jwks", "mode": mode}, timeout=5
        )
        clock.advance(INTERVAL)
        with pytest.raises(UpstreamUnavailable):
            verifier.verify(new_token)
    clock.advance(INTERVAL)
    assert verifier.verify(new_token).subject == ALICE.user_id
