"""Operator controls for the fault and soak tests: the fault modes that break a body rather than
a connection (truncated JSON, JSON that is not an object, an endpoint gone: 404), each lasting
for its ``count`` and no longer; and the lifetime of the access tokens issued from now on."""

from __future__ import annotations

import json

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer

from .conftest import introspect, sign_in


def _fault(emu: EmulatorServer, endpoint: str, mode: str, count: int = 1) -> None:
    answer = requests.post(
        emu.url("/__emulator/faults"),
        json={"endpoint": endpoint, "mode": mode, "count": count},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text


def test_truncated_is_json_cut_short(emu: EmulatorServer) -> None:
    _fault(emu, "token_info", "truncated")
    answer = introspect(emu, "x")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.text.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    assert introspect(emu, "x").json() == {"active": False}


def test_not_object_is_json_of_another_type(emu: EmulatorServer) -> None:
    _fault(emu, "token_info", "not_object", count=2)
    for _ in range(2):
        answer = introspect(emu, "x")
        assert answer.status_code == 200
        assert isinstance(answer.json(), list)
    assert introspect(emu, "x").json() == {"active": False}


def test_gone_is_an_empty_404(emu: EmulatorServer) -> None:
    _fault(emu, "jwks", "gone")
    gone = requests.get(emu.url("/.well-known/jwks.json"), timeout=5)
    assert gone.status_code == 404
    assert gone.content == b""
    assert requests.get(emu.url("/.well-known/jwks.json"), timeout=5).json()["keys"]


def test_a_long_fault_lasts_until_cleared(emu: EmulatorServer) -> None:
    _fault(emu, "jwks", "gone", count=1_000_000)
    for _ in range(5):
        assert requests.get(emu.url("/.well-known/jwks.json"), timeout=5).status_code == 404
    requests.delete(emu.url("/__emulator/faults"), timeout=5)
    assert requests.get(emu.url("/.well-known/jwks.json"), timeout=5).status_code == 200


def test_access_token_ttl_sets_the_lifetime_of_new_tokens(emu: EmulatorServer) -> None:
    control = emu.url("/__emulator/access-token-ttl")
    assert requests.get(control, timeout=5).json() == {"seconds": 86400}
    assert requests.post(control, json={"seconds": -60}, timeout=5).json() == {"seconds": -60}
    expired = sign_in(emu, scopes=("email",))["access_token"]
    assert introspect(emu, expired).json() == {"active": False}
    requests.post(control, json={"seconds": 3600}, timeout=5)
    assert introspect(emu, sign_in(emu, scopes=("email",))["access_token"]).json()["active"]


@pytest.mark.parametrize("body", [{"seconds": "60"}, {"seconds": True}, {"seconds": 10**12}, {}])
def test_access_token_ttl_refuses_nonsense(emu: EmulatorServer, body: object) -> None:
    answer = requests.post(emu.url("/__emulator/access-token-ttl"), json=body, timeout=5)
    assert answer.status_code == 400
    after = requests.get(emu.url("/__emulator/access-token-ttl"), timeout=5)
    assert after.json()["seconds"] == 86400
