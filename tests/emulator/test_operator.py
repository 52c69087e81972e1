"""``/__emulator/…``: counters, latency, injected faults and runtime clients."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce

from .conftest import BASIC, introspect, sign_in, userinfo


def _post(emu: EmulatorServer, path: str, body: Any = None) -> requests.Response:
    return requests.post(emu.url("/__emulator" + path), json=body, timeout=5)


def _counters(emu: EmulatorServer) -> dict[str, int]:
    answer = requests.get(emu.url("/__emulator/counters"), timeout=5)
    assert answer.status_code == 200
    counts: dict[str, int] = answer.json()
    return counts


def _fault(emu: EmulatorServer, **body: Any) -> None:
    answer = _post(emu, "/faults", body)
    assert answer.status_code == 201, answer.text


def test_counters_count_each_endpoint_and_reset(emu: EmulatorServer) -> None:
    assert set(_counters(emu).values()) == {0}
    tokens = sign_in(emu, scopes=("email",))
    introspect(emu, tokens["access_token"])
    introspect(emu, tokens["access_token"])
    userinfo(emu, tokens["access_token"])
    counts = _counters(emu)
    assert counts["authorize"] == counts["sign_in"] == counts["consent"] == counts["token"] == 1
    assert counts["token_info"] == 2 and counts["userinfo"] == 1
    assert counts["revoke"] == 0
    assert _post(emu, "/reset-counters").status_code == 204
    assert set(_counters(emu).values()) == {0}


def test_counters_are_thread_safe(emu: EmulatorServer) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: introspect(emu, "oat_X"), range(40)))
    assert _counters(emu)["token_info"] == 40


def test_fault_500_then_back_to_normal(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    _fault(emu, endpoint="token_info", mode="500", count=2)
    for _ in range(2):
        broken = introspect(emu, token)
        assert broken.status_code == 500
        assert broken.headers["Content-Type"].startswith("application/json")
    assert introspect(emu, token).json()["active"] is True
    assert _counters(emu)["token_info"] == 3


def test_fault_html_answers_200_with_html(emu: EmulatorServer) -> None:
    token = sign_in(emu, scopes=("email",))["access_token"]
    _fault(emu, endpoint="userinfo", mode="html")
    answer = userinfo(emu, token)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        answer.json()
    assert userinfo(emu, token).json()["sub"]


def test_fault_hang_outlasts_the_client_timeout(emu: EmulatorServer) -> None:
    _fault(emu, endpoint="token_info", mode="hang", hang_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.post(emu.url("/oauth/token_info"), data={"token": "x"}, auth=BASIC, timeout=0.2)
    assert time.monotonic() - started < 0.9
    # the emulator itself is not stuck: other calls answer meanwhile
    assert introspect(emu, "x").json() == {"active": False}


def test_fault_drop_closes_the_connection_without_an_answer(emu: EmulatorServer) -> None:
    _fault(emu, endpoint="token", mode="drop")
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.url("/oauth/token"), data={"grant_type": "x"}, auth=BASIC, timeout=5)
    assert sign_in(emu)["access_token"]  # the next call is answered


def test_fault_drop_on_a_pooled_session(emu: EmulatorServer) -> None:
    with requests.Session() as session:
        _fault(emu, endpoint="userinfo", mode="drop")
        with pytest.raises(requests.ConnectionError):
            session.get(emu.url("/oauth/userinfo"), timeout=5)
        assert session.get(emu.url("/oauth/userinfo"), timeout=5).status_code == 401


def test_faults_can_be_listed_and_cleared(emu: EmulatorServer) -> None:
    _fault(emu, endpoint="token_info", mode="500", count=3)
    pending = requests.get(emu.url("/__emulator/faults"), timeout=5).json()["pending"]
    assert pending == {"token_info": 3}
    requests.delete(emu.url("/__emulator/faults"), timeout=5)
    assert introspect(emu, "x").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "nope", "mode": "500"},
        {"endpoint": "token", "mode": "explode"},
        {"endpoint": "token", "mode": "500", "count": 0},
        {"endpoint": "token", "mode": "hang", "hang_seconds": "long"},
        None,
    ],
)
def test_bad_fault_requests_are_400(emu: EmulatorServer, body: Any) -> None:
    assert _post(emu, "/faults", body).status_code == 400


def test_latency_slows_oauth_endpoints_only(emu: EmulatorServer) -> None:
    assert _post(emu, "/latency", {"ms": 150}).json() == {"ms": 150}
    started = time.monotonic()
    introspect(emu, "x")
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    _counters(emu)
    assert time.monotonic() - started < 0.15
    _post(emu, "/latency", {"ms": 0})
    assert _post(emu, "/latency", {"ms": -1}).status_code == 400


def test_stopping_wakes_a_hanging_request() -> None:
    server = EmulatorServer().start()
    _fault(server, endpoint="token_info", mode="hang", hang_seconds=30)
    caller = threading.Thread(target=lambda: introspect(server, "x"), daemon=True)
    caller.start()
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    caller.join(5)
    assert time.monotonic() - started < 2
    assert not caller.is_alive()


def test_clients_can_be_registered_at_runtime(emu: EmulatorServer) -> None:
    callback = "http://127.0.0.1:40123/auth/callback"
    created = _post(
        emu,
        "/clients",
        {"client_id": "ci_app", "client_secret": "ci_secret", "redirect_uris": [callback]},
    )
    assert created.status_code == 201
    tokens = sign_in_with_pkce(emu.issuer, "ci_app", callback, client_secret="ci_secret")
    assert introspect(emu, tokens["access_token"], auth=("ci_app", "ci_secret")).json()["active"]


def test_redirect_uri_can_be_added_to_an_existing_client(emu: EmulatorServer) -> None:
    callback = "http://127.0.0.1:40124/auth/callback"
    added = _post(emu, "/clients/emu_client_demo/redirect_uris", {"redirect_uri": callback})
    assert added.status_code == 200
    assert callback in added.json()["redirect_uris"]
    assert "client_secret" not in added.json()
    assert sign_in_with_pkce(emu.issuer, "emu_client_demo", callback, client_secret=BASIC[1])
    missing = _post(emu, "/clients/nobody/redirect_uris", {"redirect_uri": callback})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"redirect_uris": ["http://x/cb"]},
        {"client_id": "a", "redirect_uris": "http://x/cb", "client_secret": "s"},
        {"client_id": "a", "redirect_uris": ["http://x/cb"]},  # confidential without secret
        {
            "client_id": "a",
            "redirect_uris": ["http://x/cb"],
            "client_secret": "s",
            "token_endpoint_auth_method": "none",
        },
    ],
)
def test_bad_runtime_clients_are_400(emu: EmulatorServer, body: dict[str, Any]) -> None:
    assert _post(emu, "/clients", body).status_code == 400


def test_a_huge_fault_count_costs_no_memory(emu: EmulatorServer) -> None:
    _fault(emu, endpoint="token_info", mode="500", count=10**9)
    assert introspect(emu, "x").status_code == 500
    pending = requests.get(emu.url("/__emulator/faults"), timeout=5).json()["pending"]
    assert pending == {"token_info": 10**9 - 1}
