"""Security review probes of the emulator's JWT issuance: a stand-in that signs too loosely
would let the verifier's tests pass against tokens Clerk never issues."""

from __future__ import annotations

import jwt
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.keys import KeyRing
from tests.support.emulator import running_emulator

from .conftest import jwt_parts, sign_in

PUBLIC_MEMBERS = {"use", "kty", "kid", "alg", "n", "e"}


def test_the_jwks_publishes_public_members_only(emu: EmulatorServer) -> None:
    sign_in(emu)  # the key exists once something was signed
    emu.emulator.keys.rotate(keep_previous=True)
    keys = requests.get(emu.url("/.well-known/jwks.json"), timeout=5).json()["keys"]
    assert len(keys) == 2
    for entry in keys:
        assert set(entry) == PUBLIC_MEMBERS
        assert entry["alg"] == "RS256" and entry["use"] == "sig"


def test_each_emulator_signs_with_its_own_key(emu: EmulatorServer) -> None:
    token = sign_in(emu)["access_token"]
    with running_emulator() as other:
        other_keys = jwt.PyJWKSet.from_dict(
            requests.get(other.url("/.well-known/jwks.json"), timeout=5).json()
        )
        kid = jwt_parts(token)[0]["kid"]
        assert kid not in {key.key_id for key in other_keys.keys}


def test_a_dropped_key_signs_nothing_more() -> None:
    ring = KeyRing()
    old = ring.kid
    ring.rotate(keep_previous=False)
    header = jwt.get_unverified_header(ring.sign({"sub": "x"}, typ="at+jwt"))
    assert header["kid"] != old and old not in ring.published_kids()
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": ring.kid}
