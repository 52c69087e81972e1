"""Custom scopes, as Clerk's dashboard makes them: requestable, granted, advertised, refreshed."""

from __future__ import annotations

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorConfig
from flask_clerk_mcp.emulator.__main__ import build_config, parse_args
from flask_clerk_mcp.emulator.driver import DriverError
from tests.support.emulator import running_emulator

from .conftest import BASIC, introspect, jwt_parts, sign_in


def test_a_custom_scope_is_granted_and_advertised() -> None:
    with running_emulator(custom_scopes=("notes:write",)) as emu:
        tokens = sign_in(emu, scopes=("openid", "email", "notes:write", "offline_access"))
        assert tokens["scope"].split() == ["openid", "email", "notes:write", "offline_access"]
        assert jwt_parts(tokens["access_token"])[1]["scope"].split()[-2] == "notes:write"
        info = introspect(emu, tokens["access_token"]).json()
        assert info["active"] is True and "notes:write" in info["scope"].split()
        for path in (
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ):
            document = requests.get(emu.url(path), timeout=5).json()
            assert document["scopes_supported"][-1] == "notes:write"
        # A refresh may narrow to the custom scope, which the instance knows.
        refreshed = requests.post(
            emu.url("/oauth/token"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "scope": "notes:write offline_access",
            },
            auth=BASIC,
            timeout=5,
        )
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["scope"].split() == ["notes:write", "offline_access"]


def test_without_it_the_scope_is_unknown() -> None:
    with running_emulator() as emu:
        with pytest.raises(DriverError, match="invalid_scope"):
            sign_in(emu, scopes=("openid", "notes:write"))
        document = requests.get(emu.url("/.well-known/oauth-authorization-server"), timeout=5)
        assert "notes:write" not in document.json()["scopes_supported"]


@pytest.mark.parametrize("bad", ["", "two words", 'quo"te', "back\\slash", "tab\there"])
def test_a_malformed_custom_scope_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="custom scope"):
        EmulatorConfig(custom_scopes=(bad,))


def test_the_flag_reaches_the_config() -> None:
    assert build_config(parse_args([])).custom_scopes == ()
    config = build_config(parse_args(["--custom-scope", "notes:write", "--custom-scope", "a:b"]))
    assert config.custom_scopes == ("notes:write", "a:b")
    assert config.known_scopes[-2:] == ("notes:write", "a:b")
