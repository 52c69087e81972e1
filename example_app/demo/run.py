"""``python -m example_app`` (``make demo``): the example MCP server, running, in one command.

Offline by default: it starts the Clerk emulator (``python -m flask_clerk_mcp.emulator``) and the
example app under gunicorn (2 workers, threaded), both as child processes on free loopback
ports, registers the app's callback URL with the emulator, signs the demo user in through the
emulator's real authorization-code + PKCE flow (sign-in and consent forms, no back door), checks
that the token lists the tools, and prints the URLs, the token and a ``curl`` to try.

``CLERK_MCP_MODE`` chooses how MCP clients log in: ``proxy`` (the default) makes the app their
authorization server (registration, consent, then the emulator's sign-in, Clerk's tokens passed
through); ``direct`` sends them to the emulator itself, where they register under their own
ids; their JWT access tokens are bound to this server by ``aud`` (the RFC 8707 ``resource``
they sent), which the default verification accepts with no ``CLERK_ACCEPTED_CLIENT_IDS``.
Either way an OAuth-capable MCP client pointed at the printed ``/mcp`` URL logs in by itself.
CIMD documents may be served from loopback (``CLERK_CIMD_ALLOW_LOOPBACK``): a local client's
metadata URL works with the demo.

With ``CLERK_DOMAIN``, ``CLERK_CLIENT_ID`` and ``CLERK_CLIENT_SECRET`` in the environment it
serves against that real Clerk instance instead: no emulator, no token minting; it prints what
to register in the Clerk dashboard. Every other ``CLERK_*`` variable is passed on too.

Ctrl-C, SIGTERM or SIGHUP stops everything: each child runs in its own process group (so the
terminal's Ctrl-C reaches only this process) and is stopped group and all, gunicorn's workers
included, before this process exits.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn

import requests
from flask import Flask

from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import DriverError, sign_in_with_pkce

from ..tools import NOTES_WRITE
from .banner import DEMO_USER, SCOPES, TOOLS_LIST, emulator_banner, mcp_headers, real_clerk_banner
from .processes import (
    COLD_HEAVY_THREADS,
    StartupError,
    base_url_of,
    group_alive,
    gunicorn_command,
    listening_socket,
    spawn,
    start_emulator,
    stop,
    wait_until_answering,
)

WSGI_TARGET = "example_app.wsgi:app"
REAL_CLERK_KEYS = ("CLERK_DOMAIN", "CLERK_CLIENT_ID", "CLERK_CLIENT_SECRET")
STARTUP_TIMEOUT = 30.0
REAL_CLERK_PORT = 8000
MODES = ("proxy", "direct")


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived: stop everything (not an error)."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m example_app",
        description="Run the example MCP server behind Clerk OAuth: offline with the Clerk "
        "emulator, or against a real Clerk instance when CLERK_DOMAIN, CLERK_CLIENT_ID and "
        "CLERK_CLIENT_SECRET are set.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to serve on; 0 picks a free one. Default: a free one with the emulator, "
        f"{REAL_CLERK_PORT} with a real Clerk instance (its redirect URI must stay the same)",
    )
    args = parser.parse_args(argv)
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    real = _real_clerk_settings(os.environ)
    mode = _mode(os.environ)
    if args.port is None:
        args.port = 0 if real is None else REAL_CLERK_PORT
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    children: list[Child] = []
    try:
        return _run(args, real, mode, children)
    except Interrupted:
        return 0
    except StartupError as exc:
        print(f"\nThe demo could not start: {exc}", file=sys.stderr)
        for child in children:
            print(f"  {child.name} log: {child.log_path}", file=sys.stderr)
        return 1
    finally:
        # From here on a second Ctrl-C must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if children:
            print("\nStopping ...", flush=True)
        for child in reversed(children):
            stop(child.process)
        left = [child.name for child in children if group_alive(child.process.pid)]
        if left:
            print(f"Could not stop: {', '.join(left)}", file=sys.stderr, flush=True)
        elif children:
            print("Stopped: no process left behind.", flush=True)


def _run(
    args: argparse.Namespace, real: Mapping[str, str] | None, mode: str, children: list[Child]
) -> int:
    try:
        listener = listening_socket(args.host, args.port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    with listener:
        local_url = _listening_url(listener)
        base_url = _public_url(listener, real)
        callback_url = base_url + os.environ.get("CLERK_REDIRECT_PATH", "/auth/callback")
        log_dir = Path(Flask(__package__ or "example_app").instance_path) / "demo-logs"
        log_dir.mkdir(parents=True, exist_ok=True)

        env = dict(os.environ)
        env.setdefault("FLASK_SECRET_KEY", secrets.token_urlsafe(32))
        env["FLASK_CLERK_BASE_URL"] = base_url
        env["FLASK_CLERK_MCP_MODE"] = mode
        if real is None:
            print("Starting the Clerk emulator ...", flush=True)
            issuer = _start_emulator(callback_url, log_dir, children)
            env.update(
                FLASK_CLERK_ISSUER_URL=issuer,
                FLASK_CLERK_CLIENT_ID=DEMO_CLIENT_ID,
                FLASK_CLERK_CLIENT_SECRET=DEMO_CLIENT_SECRET,
            )
            env.setdefault("FLASK_CLERK_CIMD_ALLOW_LOOPBACK", "true")  # local clients' CIMD
            if "CLERK_ACCEPTED_CLIENT_IDS" in os.environ:
                env["FLASK_CLERK_ACCEPTED_CLIENT_IDS"] = os.environ["CLERK_ACCEPTED_CLIENT_IDS"]
        else:
            issuer = f"https://{real['CLERK_DOMAIN']}"
            env.update({f"FLASK_{k}": v for k, v in os.environ.items() if k.startswith("CLERK_")})

        print(f"Starting the example app under gunicorn on {local_url} ...", flush=True)
        app = _start_gunicorn(listener, env, log_dir, children)
    wait_until_answering(local_url + "/", app.process, timeout=STARTUP_TIMEOUT, name="gunicorn")

    if real is None:
        token = _sign_in(issuer, callback_url)
        tools = _list_tools(base_url, token)
        print(emulator_banner(base_url, issuer, token, tools, log_dir, mode), flush=True)
    else:
        print(real_clerk_banner(base_url, issuer, callback_url, log_dir, mode), flush=True)
    return _wait(children)


def _listening_url(listener: socket.socket) -> str:
    """Where this machine reaches the server (loopback for a wildcard bind)."""
    host, port = listener.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        return f"http://127.0.0.1:{port}"
    return base_url_of(listener)


def _public_url(listener: socket.socket, real: Mapping[str, str] | None) -> str:
    """The app's ``CLERK_BASE_URL``: given (real Clerk, e.g. behind a tunnel), else local."""
    given = os.environ.get("CLERK_BASE_URL") if real is not None else None
    return given.rstrip("/") if given else _listening_url(listener)


# -- children ------------------------------------------------------------------------------
def _start_emulator(callback_url: str, log_dir: Path, children: list[Child]) -> str:
    args = ["--client-id", DEMO_CLIENT_ID, "--client-secret", DEMO_CLIENT_SECRET]
    args += ["--client-name", "Example MCP server (demo)"]
    args += ["--redirect-uri", callback_url]  # the app's callback, registered before sign-in
    args += ["--custom-scope", NOTES_WRITE]  # add_note's own scope, as made in Clerk's dashboard
    log_path = log_dir / "emulator.log"
    process, issuer = start_emulator(args, log_path, timeout=STARTUP_TIMEOUT)
    children.append(Child("Clerk emulator", process, log_path))
    return issuer


def _start_gunicorn(
    listener: socket.socket, env: Mapping[str, str], log_dir: Path, children: list[Child]
) -> Child:
    argv = gunicorn_command(
        WSGI_TARGET,
        listener.fileno(),
        threads=COLD_HEAVY_THREADS,  # the README's deployment configuration
        extra_args=["--access-logfile", "-"],
    )
    log_path = log_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        process = spawn(
            argv, env, pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT
        )
    child = Child("gunicorn", process, log_path)
    children.append(child)
    return child


def _wait(children: Sequence[Child]) -> int:
    """Until a signal arrives (``Interrupted``), or a child dies, which is an error."""
    while True:
        for child in children:
            if child.process.poll() is not None:
                print(
                    f"\n{child.name} exited unexpectedly (status {child.process.returncode}); "
                    f"see {child.log_path}",
                    file=sys.stderr,
                )
                return 1
        time.sleep(0.5)


# -- the emulator path -----------------------------------------------------------------------
def _sign_in(issuer: str, callback_url: str) -> str:
    try:
        answer = sign_in_with_pkce(
            issuer,
            DEMO_CLIENT_ID,
            callback_url,
            client_secret=DEMO_CLIENT_SECRET,
            user=DEMO_USER,
            scopes=SCOPES,
        )
    except (DriverError, requests.RequestException) as exc:
        raise StartupError(f"signing {DEMO_USER} in at the emulator failed: {exc}") from None
    token = answer.get("access_token")
    if not isinstance(token, str):
        raise StartupError("the emulator's token answer holds no access_token")
    return token


def _list_tools(base_url: str, token: str) -> list[str]:
    """Call ``tools/list`` exactly as the printed curl does, so what is printed is known to work."""
    try:
        response = requests.post(
            base_url + "/mcp",
            headers=mcp_headers(token),
            data=json.dumps(TOOLS_LIST),
            timeout=15,
        )
        tools = response.json()["result"]["tools"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        raise StartupError("the example app did not list its tools with the fresh token") from None
    return [str(tool["name"]) for tool in tools]


def _mode(environ: Mapping[str, str]) -> str:
    mode = environ.get("CLERK_MCP_MODE", "proxy").strip().lower() or "proxy"
    if mode not in MODES:
        _fail(f"CLERK_MCP_MODE must be {' or '.join(MODES)}, not {mode!r}")
    return mode


# -- the real Clerk path ---------------------------------------------------------------------
def _real_clerk_settings(environ: Mapping[str, str]) -> dict[str, str] | None:
    present = {key: environ[key] for key in REAL_CLERK_KEYS if environ.get(key)}
    if not present:
        return None
    missing = [key for key in REAL_CLERK_KEYS if key not in present]
    if missing:
        _fail(
            f"to use a real Clerk instance set {', '.join(REAL_CLERK_KEYS)}; missing: "
            f"{', '.join(missing)} (unset them all to use the offline emulator)"
        )
    return present


# -- small helpers ---------------------------------------------------------------------------
def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise Interrupted(signum)


def _fail(message: str) -> NoReturn:
    print(f"python -m example_app: {message}", file=sys.stderr)
    raise SystemExit(2)
