"""``flask clerk check``: the verdict, what to fix, and the dashboard settings."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskCliRunner

from flask_clerk_mcp.cli import clerk
from flask_clerk_mcp.emulator import EmulatorConfig, EmulatorServer
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_SECRET

from .conftest import BASE_URL, make_app


def run_check(app: Flask):
    return app.test_cli_runner().invoke(clerk, ["check"])


def test_a_good_setup_is_ready(app_for, emulator):
    result = run_check(app_for())
    assert result.exit_code == 0, result.output
    assert "[OK  ] discovery: discovery document found" in result.output
    assert "[OK  ] jwks: 1 signing key(s)" in result.output
    assert "[OK  ] credentials: Clerk accepted the client credentials" in result.output
    assert "Verdict: ready" in result.output
    assert f"redirect URI (callback URL): {BASE_URL}/auth/callback" in result.output
    assert "OAuth application: scopes: openid email profile offline_access" in result.output
    assert DEMO_CLIENT_SECRET not in result.output
    assert emulator.emulator.controls.counters()["token_info"] == 1


def test_a_wrong_secret_is_named_with_its_fix(app_for):
    result = run_check(app_for(CLERK_CLIENT_SECRET="not-the-secret"))
    assert result.exit_code == 1
    assert (
        "[FAIL] credentials: Clerk refused the client credentials at introspection (HTTP 401)"
        in result.output
    )
    assert "fix: set CLERK_CLIENT_ID and CLERK_CLIENT_SECRET" in result.output
    assert "Verdict: NOT READY, 1 problem(s) to fix" in result.output
    assert "not-the-secret" not in result.output


def test_an_unknown_client_id_is_refused_too(app_for):
    result = run_check(app_for(CLERK_CLIENT_ID="someone_else"))
    assert result.exit_code == 1
    assert "Clerk refused the client credentials" in result.output


def test_an_unreachable_clerk_is_named_as_such(closed_port):
    app = make_app(f"http://127.0.0.1:{closed_port}")
    result = run_check(app)
    assert result.exit_code == 2
    assert (
        f"[FAIL] reachability: Clerk cannot be reached at http://127.0.0.1:{closed_port} "
        "(ConnectionError)" in result.output
    )
    assert "fix: check CLERK_DOMAIN (or CLERK_ISSUER_URL)" in result.output
    assert "Verdict: NOT READY, 1 problem(s)" in result.output


def test_a_missing_secret_fails_before_clerk_says_so(app_for):
    with pytest.warns(UserWarning, match="CLERK_CLIENT_SECRET is not set"):
        app = app_for(CLERK_CLIENT_SECRET=None)
    result = run_check(app)
    assert result.exit_code == 1
    assert "[FAIL] configuration: CLERK_CLIENT_SECRET is not set" in result.output
    assert "[FAIL] credentials: Clerk refused the client credentials" in result.output


def test_warnings_while_the_app_loads_are_reported():
    def misspelt() -> Flask:
        return make_app("http://127.0.0.1:1", CLERK_CACHE_TLL=5)

    runner = FlaskCliRunner(Flask("unused"))
    result = runner.invoke(clerk, ["check"], obj=ScriptInfo(create_app=misspelt))
    assert "[WARN] configuration: CLERK_CACHE_TLL is not a flask-clerk-mcp setting" in (
        result.output
    )


def test_a_configuration_error_is_named_by_its_key_without_a_traceback():
    def broken() -> Flask:
        return make_app("https://example.clerk.accounts.dev", CLERK_BASE_URL=None)

    runner = FlaskCliRunner(Flask("unused"))
    result = runner.invoke(clerk, ["check"], obj=ScriptInfo(create_app=broken))
    assert result.exit_code == 1
    assert "[FAIL] configuration: CLERK_BASE_URL: is required" in result.output
    assert "fix: set CLERK_BASE_URL" in result.output
    assert "Traceback" not in result.output


def test_an_app_without_the_extension_is_told_how_to_add_it():
    result = Flask("bare").test_cli_runner().invoke(clerk, ["check"])
    assert result.exit_code == 1
    assert "this app has no ClerkMCP" in result.output


def test_direct_mode_warns_about_registration_and_foreign_client_ids():
    with EmulatorServer(EmulatorConfig(dcr_enabled=False)) as emu:
        emu.start()
        result = run_check(make_app(emu.issuer, CLERK_MCP_MODE="direct"))
    assert result.exit_code == 0, result.output  # warnings, not failures
    assert "[WARN] discovery: dynamic client registration is off" in result.output
    assert "[WARN] configuration: direct mode accepts only tokens issued to CLERK_CLIENT_ID" in (
        result.output
    )
    assert "Dynamic client registration: on (MCP clients register at Clerk)" in result.output


def test_an_issuer_that_does_not_match_the_document_fails(closed_port):
    config = EmulatorConfig(issuer=f"http://localhost:{closed_port}")
    with EmulatorServer(config) as emu:
        emu.start()
        result = run_check(make_app(f"http://127.0.0.1:{emu.port}"))
    assert result.exit_code == 1
    assert f"[FAIL] discovery: the document's issuer is 'http://localhost:{closed_port}'" in (
        result.output
    )


def test_plain_http_outside_loopback_is_a_warning(app_for):
    result = run_check(app_for(CLERK_BASE_URL="http://mcp.example.com"))
    assert "[WARN] configuration: CLERK_BASE_URL http://mcp.example.com is plain http" in (
        result.output
    )
