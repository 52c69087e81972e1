"""``flask clerk introspect TOKEN`` (verdicts, never the token) and ``flask clerk emulator``."""

from __future__ import annotations

import os
import sys

import pytest
import requests

from flask_clerk_mcp.cli import clerk
from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce
from tests.support.emulator import EmulatorProcess

from .conftest import BASE_URL, make_app


def token_from(emulator: EmulatorServer, scopes=("openid", "email", "profile")) -> str:
    answer = sign_in_with_pkce(
        emulator.issuer,
        DEMO_CLIENT_ID,
        BASE_URL + "/auth/callback",
        client_secret=DEMO_CLIENT_SECRET,
        user="alice",
        scopes=scopes,
    )
    token: str = answer["access_token"]
    return token


def test_a_good_token_shows_its_verdict_and_claims_not_itself(app_for, emulator):
    token = token_from(emulator)
    result = app_for().test_cli_runner().invoke(clerk, ["introspect", token])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Verdict: VALID for a route needing: openid email profile")
    assert "subject: user_2alice" in result.output
    assert f"client_id: {DEMO_CLIENT_ID}" in result.output
    assert '"email": "alice@example.com"' in result.output
    assert token not in result.output
    assert token[-20:] not in result.output


def test_the_token_can_come_from_stdin_with_its_scheme(app_for, emulator):
    token = token_from(emulator)
    runner = app_for().test_cli_runner()
    result = runner.invoke(clerk, ["introspect", "-"], input=f"Bearer {token}\n")
    assert result.exit_code == 0, result.output
    assert "Verdict: VALID" in result.output
    assert token not in result.output


def test_a_revoked_token_is_refused_with_the_reason(app_for, emulator):
    token = token_from(emulator)
    revoked = requests.post(
        emulator.issuer + "/oauth/token/revoke",
        data={"token": token},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        timeout=10,
    )
    assert revoked.status_code == 200
    result = app_for().test_cli_runner().invoke(clerk, ["introspect", token])
    assert result.exit_code == 1
    assert "Verdict: REFUSED: HTTP 401 invalid_token: The access token is not active" in (
        result.output
    )
    assert token not in result.output


def test_a_route_scope_the_token_lacks_is_insufficient_scope(app_for, emulator):
    token = token_from(emulator)
    result = (
        app_for()
        .test_cli_runner()
        .invoke(clerk, ["introspect", "--scope", "public_metadata", token])
    )
    assert result.exit_code == 1
    assert "REFUSED: HTTP 403 insufficient_scope" in result.output
    assert "public_metadata" in result.output


def test_a_malformed_token_is_refused_before_any_call(app_for, emulator):
    result = app_for().test_cli_runner().invoke(clerk, ["introspect", "not a token"])
    assert result.exit_code == 1
    assert "REFUSED: HTTP 400 invalid_request: The Bearer token is malformed" in result.output
    assert emulator.emulator.controls.counters().get("token_info", 0) == 0


def test_clerk_down_is_no_verdict(closed_port):
    result = (
        make_app(f"http://127.0.0.1:{closed_port}")
        .test_cli_runner()
        .invoke(clerk, ["introspect", "oat_ABCDEF0123456789"])
    )
    assert result.exit_code == 2
    assert "Verdict: NO VERDICT: HTTP 503" in result.output
    assert "oat_ABCDEF0123456789" not in result.output


def test_emulator_help_lists_the_emulator_options(app_for):
    result = app_for().test_cli_runner().invoke(clerk, ["emulator", "--help"])
    assert result.exit_code == 0
    assert "usage: flask clerk emulator" in result.output
    for option in ("--port", "--client-id", "--no-dcr", "--token-format", "--latency-ms"):
        assert option in result.output


def test_emulator_refuses_a_bad_option(app_for):
    result = app_for().test_cli_runner().invoke(clerk, ["emulator", "--latency-ms", "-1"])
    assert result.exit_code == 2


@pytest.mark.integration
def test_flask_clerk_emulator_runs_the_emulator_with_its_options(tmp_path):
    """Through the real ``flask`` command and its entry point, no app needed."""
    command = [sys.executable, "-m", "flask", "clerk", "emulator"]
    env = {"FLASK_APP": "", "PATH": os.environ.get("PATH", "")}
    with EmulatorProcess("--no-dcr", command=command, env=env) as emu:
        document = requests.get(
            emu.issuer + "/.well-known/oauth-authorization-server", timeout=10
        ).json()
        assert document["issuer"] == emu.issuer
        assert "registration_endpoint" not in document
    assert emu.process is not None and emu.process.returncode == 0
    assert any("emulator stopped" in line for line in emu.output)
