"""The example app under gunicorn as MCP clients meet it: OAuth on, state in Redis, either mode.

``start_example_app(issuer, directory, mode=..., store=...)`` runs ``example_app.wsgi:app`` with
``start_gunicorn`` (2 workers, the one process supervisor of the test suite) configured from the
environment as a deployment would be: the emulator as Clerk with its demo client (a confidential
client: our secret), ``CLERK_STORE`` on a real redis-server so any worker can serve any step of
a login, browser login on (it shares the callback path with the proxy), and whatever
``settings`` add (``CLERK_…`` keys, prefixed with ``FLASK_`` here) plus ``env`` (plain variables,
e.g. ``REQUESTS_CA_BUNDLE``). The server's callback URL is registered at the emulator first,
as an operator registers it in Clerk's dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import requests

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

from .gunicorn import GunicornServer, start_gunicorn

TIMEOUT = 15


def emulator_operator(issuer: str, method: str, path: str, body: object = None) -> object:
    """Call one of the emulator's ``/__emulator/…`` operator controls; its JSON answer."""
    response = requests.request(method, f"{issuer}/__emulator/{path}", json=body, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json() if response.content else None


def emulator_count(issuer: str, endpoint: str) -> int:
    """How many calls the emulator's ``endpoint`` (e.g. ``"token"``) has answered so far."""
    counters = emulator_operator(issuer, "GET", "counters")
    assert isinstance(counters, dict)
    return int(counters[endpoint])


def start_example_app(
    issuer: str,
    directory: Path,
    *,
    mode: str,
    store: str,
    settings: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> GunicornServer:
    """gunicorn serving the example app against the emulator at ``issuer``; see the module doc."""

    def environment(url: str) -> dict[str, str]:
        return {
            "FLASK_SECRET_KEY": "mcp-oauth-e2e-secret-key",
            "FLASK_CLERK_ISSUER_URL": issuer,
            "FLASK_CLERK_CLIENT_ID": DEMO_CLIENT_ID,
            "FLASK_CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "FLASK_CLERK_BASE_URL": url,
            "FLASK_CLERK_MCP_MODE": mode,
            "FLASK_CLERK_STORE": store,
            "FLASK_NOTES_DIR": str(directory / "notes"),
            "FLASK_EXPOSE_WORKER_PID": "true",
            **{f"FLASK_{key}": value for key, value in (settings or {}).items()},
            **(env or {}),
        }

    server = start_gunicorn("example_app.wsgi:app", environment, log_dir=directory)
    try:
        emulator_operator(
            issuer,
            "POST",
            f"clients/{DEMO_CLIENT_ID}/redirect_uris",
            {"redirect_uri": server.url + "/auth/callback"},
        )
    except BaseException:
        server.stop()
        raise
    return server
