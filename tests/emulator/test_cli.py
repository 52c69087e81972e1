"""``python -m flask_clerk_mcp.emulator``: announces itself, serves, and stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.__main__ import build_config, parse_args
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce
from tests.support.emulator import EmulatorProcess

from .conftest import jwt_parts


def test_entry_point_prints_ready_serves_and_exits_on_sigterm() -> None:
    emu = EmulatorProcess().start()
    try:
        assert emu.issuer == f"http://127.0.0.1:{emu.port}"
        assert any("development and tests only" in line for line in emu.output)
        assert not any("emu_secret_demo" in line for line in emu.output)
        doc = requests.get(emu.issuer + "/.well-known/openid-configuration", timeout=5).json()
        assert doc["issuer"] == emu.issuer
        tokens = sign_in_with_pkce(
            emu.issuer,
            "emu_client_demo",
            "http://127.0.0.1:5000/auth/callback",
            client_secret="emu_secret_demo",
        )
        header, claims = jwt_parts(tokens["access_token"])
        assert header["typ"] == "at+jwt" and claims["iss"] == emu.issuer
    finally:
        code = emu.stop()
    assert code == 0
    assert any("emulator stopped" in line for line in emu.output)
    # quiet by default: no werkzeug request lines, so no code or token ever reaches the log
    assert not any("GET /" in line or "POST /" in line for line in emu.output)


def test_token_format_opaque_flag_gives_the_older_apps_tokens() -> None:
    with EmulatorProcess("--token-format", "opaque") as emu:
        assert any("access tokens: opaque" in line for line in emu.output)
        tokens = sign_in_with_pkce(
            emu.issuer,
            "emu_client_demo",
            "http://127.0.0.1:5000/auth/callback",
            client_secret="emu_secret_demo",
        )
        assert tokens["access_token"].startswith("oat_")
        assert tokens["access_token"].count(".") == 0


def test_token_flags_reach_the_config() -> None:
    default = build_config(parse_args([]))
    assert default.access_token_format == "jwt" and default.jwt_access_tokens_revocable
    flagged = build_config(parse_args(["--token-format", "opaque", "--no-jwt-revocation"]))
    assert flagged.access_token_format == "opaque"
    assert flagged.jwt_access_tokens_revocable is False
    with pytest.raises(SystemExit):
        parse_args(["--token-format", "paseto"])


def test_entry_point_exits_cleanly_on_sigint() -> None:
    emu = EmulatorProcess("--no-dcr").start()
    assert emu.process is not None
    doc = requests.get(emu.issuer + "/.well-known/oauth-authorization-server", timeout=5).json()
    assert "registration_endpoint" not in doc
    emu.process.send_signal(signal.SIGINT)
    assert emu.process.wait(10) == 0
    assert emu.stop() == 0


def test_flags_build_the_instance() -> None:
    config = build_config(
        parse_args(
            [
                "--client-id",
                "ci",
                "--client-secret",
                "s3cret",
                "--redirect-uri",
                "http://127.0.0.1:1/cb",
                "--redirect-uri",
                "http://127.0.0.1:2/cb",
                "--latency-ms",
                "25",
                "--no-dcr",
            ]
        )
    )
    assert list(config.clients) == ["ci"]
    assert config.clients["ci"].redirect_uris == ["http://127.0.0.1:1/cb", "http://127.0.0.1:2/cb"]
    assert not config.clients["ci"].is_public
    assert config.latency_ms == 25 and config.dcr_enabled is False


def test_client_without_secret_is_public_and_extra_uris_extend_the_demo_client() -> None:
    public = build_config(parse_args(["--client-id", "pub", "--redirect-uri", "http://h/cb"]))
    assert public.clients["pub"].is_public
    demo = build_config(parse_args(["--redirect-uri", "http://127.0.0.1:9/cb"]))
    assert "http://127.0.0.1:9/cb" in demo.clients["emu_client_demo"].redirect_uris


def test_port_in_use_is_an_error_not_an_exit(emu: EmulatorServer) -> None:
    with pytest.raises(OSError, match="cannot listen"):
        EmulatorServer(port=emu.port)
    finished = subprocess.run(
        [sys.executable, "-m", "flask_clerk_mcp.emulator", "--port", str(emu.port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "EMULATOR_READY" not in finished.stdout
