"""``flask clerk ...``: check the setup, verify a token by hand, run the offline emulator.

Registered for every Flask app through the ``flask.commands`` entry point rather than by
``init_app``, so ``flask clerk check`` still runs, and names the key, when the app's
configuration is wrong enough that ``ClerkMCP`` refuses to start. Exit statuses: 0 when all
holds, 1 when something must be fixed (or a token is refused), 2 when there is no verdict
(Clerk unreachable or unavailable).
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import ScriptInfo

from .bearer import needed_scopes, parse_bearer
from .diagnosis import Finding, check_clerk, check_settings, dashboard_settings
from .errors import ClerkAuthError, ConfigurationError, UpstreamUnavailable
from .scopes import check_scopes
from .state import ClerkState, get_state

_MARKS = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}


@click.group("clerk")
def clerk() -> None:
    """Clerk OAuth for this app: check the setup, verify a token, run the emulator."""


def _load(ctx: click.Context) -> tuple[ClerkState | None, list[Finding]]:
    """The app's ClerkState, or the findings that say why there is none."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            app: Flask = ctx.ensure_object(ScriptInfo).load_app()
        except ConfigurationError as exc:
            return None, [Finding("fail", "configuration", str(exc), _fix_for(exc.key))]
        except Exception as exc:  # the app's own import error: say which, keep going
            return None, [Finding("fail", "app", f"could not load the app: {exc}")]
    texts = list(dict.fromkeys(str(w.message) for w in caught if "CLERK_" in str(w.message)))
    try:
        state = get_state(app)
    except RuntimeError as exc:
        return None, [Finding("fail", "app", str(exc))]
    return state, [Finding("warn", "configuration", text) for text in texts]


def _fix_for(key: str) -> str:
    return f"set {key} (in app.config, FLASK_{key} in the environment, or ClerkMCP(app, ...))"


def _print_findings(findings: Sequence[Finding]) -> None:
    for finding in findings:
        click.echo(f"[{_MARKS[finding.level]}] {finding.topic}: {finding.message}")


@clerk.command("check")
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the configuration, Clerk's discovery document and JWKS, and the client
    credentials; print the Clerk dashboard settings this app needs."""
    state, findings = _load(ctx)
    if state is not None:
        load_warnings = [f.message for f in findings]
        findings = check_settings(state.settings, load_warnings)
        findings += check_clerk(state.settings, state.upstream)
    _print_findings(findings)
    if state is not None:
        click.echo(f"\nClerk dashboard settings ({state.settings.mcp_mode} mode):")
        for name, value in dashboard_settings(state.settings):
            click.echo(f"  {name}: {value}")
    failures = [f for f in findings if f.level == "fail"]
    if not failures:
        click.echo("\nVerdict: ready. Clerk answers and accepts this app's credentials.")
        return
    click.echo(f"\nVerdict: NOT READY, {len(failures)} problem(s) to fix:")
    for failure in failures:
        click.echo(f"  - {failure.message}" + (f"\n    fix: {failure.fix}" if failure.fix else ""))
    unreachable = any(f.topic == "reachability" for f in failures)
    ctx.exit(2 if unreachable else 1)


@clerk.command("introspect")
@click.argument("token")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="a scope the route needs (repeatable), on top of CLERK_REQUIRED_SCOPES",
)
@click.pass_context
def introspect(ctx: click.Context, token: str, scopes: tuple[str, ...]) -> None:
    """Verify TOKEN as a request would ('-' reads it from stdin, keeping it out of the shell
    history); print the verdict and the claims, never the token."""
    state, findings = _load(ctx)
    if state is None:
        _print_findings(findings)
        ctx.exit(1)
    raw = sys.stdin.readline() if token == "-" else token  # noqa: S105 - "-" means stdin
    raw = raw.strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    needed = needed_scopes(state.settings, scopes)
    try:
        # The header rules first, as for a request: a malformed token never reaches Clerk.
        access_token = state.verifier.verify(parse_bearer([f"Bearer {raw}"]) or "")
        check_scopes(access_token, needed, state.settings.scope_implies)
    except ClerkAuthError as exc:
        no_verdict = isinstance(exc, UpstreamUnavailable)
        label = "NO VERDICT" if no_verdict else "REFUSED"
        code = f" {exc.error}" if exc.error else ""
        click.echo(f"Verdict: {label}: HTTP {exc.status}{code}: {exc.description}")
        ctx.exit(2 if no_verdict else 1)
    click.echo(f"Verdict: VALID for a route needing: {' '.join(needed) or '(no scope)'}")
    expires = access_token.expires_at
    rows = {
        "subject": access_token.subject,
        "client_id": access_token.client_id,
        "scopes": " ".join(access_token.scopes),
        "expires_at": "unknown (Clerk's introspection gives no exp)"
        if expires is None
        else f"{expires} ({datetime.fromtimestamp(expires, UTC).isoformat()})",
    }
    for name, value in rows.items():
        click.echo(f"{name}: {value}")
    click.echo("claims: " + json.dumps(dict(access_token.claims), indent=2, sort_keys=True))


@clerk.command(
    "emulator",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def emulator(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run the offline Clerk emulator (the options of python -m flask_clerk_mcp.emulator;
    --help lists them)."""
    from .emulator.__main__ import main

    ctx.exit(main(list(args), prog="flask clerk emulator"))
