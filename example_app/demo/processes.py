"""Starting and stopping the demo's child processes without leaving any behind.

The one mechanism for child processes, shared by ``python -m example_app``, the integration
tests (``tests/support/gunicorn.py``, ``tests/support/emulator.py``) and the benchmarks:

- the listening socket is bound here, on a free port if asked, and handed to gunicorn as
  ``fd://N``, so the port is known before the app starts (its ``CLERK_BASE_URL`` needs it) and no
  other process can take it in between;
- every child gets its own session (process group), so a Ctrl-C in the terminal reaches only the
  parent, which then stops the children in order, and a group kill also reaches gunicorn's
  workers.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
#: Threads per worker for cold-heavy loads (README, deployment): a thread waits on Clerk for
#: every cold opaque token, so threads, not CPU, are the ceiling below this.
COLD_HEAVY_THREADS = 16
#: What ``python -m flask_clerk_mcp.emulator`` prints, then its issuer, once it is listening.
EMULATOR_READY = "EMULATOR_READY "


class StartupError(RuntimeError):
    """A child process died or never answered; the message says which and why if known."""


def listening_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port) and listening, inheritable."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def gunicorn_command(
    target: str,
    fd: int,
    *,
    workers: int = DEFAULT_WORKERS,
    threads: int = DEFAULT_THREADS,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The venv's gunicorn (``sys.executable -m gunicorn``), threaded workers, on ``fd``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"fd://{fd}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        # Seconds a stopping worker may take to finish its requests: short, these are quick.
        "--graceful-timeout",
        "5",
        *_no_control_socket(),
        *extra_args,
        target,
    ]


def _no_control_socket() -> list[str]:
    """Recent gunicorn opens a control socket at one fixed path per user: several instances
    side by side (the tests run a few) would fight over it, and nothing here uses it."""
    settings = getattr(importlib.import_module("gunicorn.config"), "KNOWN_SETTINGS", [])
    known = any(getattr(s, "name", None) == "control_socket_disable" for s in settings)
    return ["--no-control-socket"] if known else []


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    pass_fds: Sequence[int] = (),
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own (see the module docstring)."""
    return subprocess.Popen(  # noqa: S603 - argv is built by this package, never by a user
        list(argv),
        env=dict(env),
        pass_fds=tuple(pass_fds),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def start_emulator(
    args: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    command: Sequence[str] = (sys.executable, "-m", "flask_clerk_mcp.emulator"),
) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m flask_clerk_mcp.emulator`` (or another ``command`` taking its options, such
    as ``flask clerk emulator``) on a free loopback port, in a session of its own, its output
    in ``log_path``; returns the process and the issuer from its ready line."""
    argv = [*command, "--host", "127.0.0.1"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        process = spawn([*argv, "--port", "0", *args], environment, stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith(EMULATOR_READY):
                return process, line[len(EMULATOR_READY) :].strip()
        if process.poll() is not None:
            raise StartupError(
                f"the Clerk emulator exited with status {process.returncode}; see {log_path}"
            )
        time.sleep(0.05)
    stop(process)
    raise StartupError(f"the Clerk emulator did not start within {timeout:.0f}s; see {log_path}")


def wait_until_answering(
    url: str, process: subprocess.Popen[bytes], *, timeout: float = 30.0, name: str = "server"
) -> None:
    """Return once ``url`` answers HTTP at all (any status); raise if ``process`` dies first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise StartupError(f"{name} exited with status {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a loopback http URL
                return
        except urllib.error.HTTPError:
            return  # an HTTP answer, whatever its status: the server is up
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StartupError(f"{name} did not answer {url} within {timeout:.0f}s")
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """Whether any process is left in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """Stop ``process`` and everything in its process group, politely first.

    SIGTERM to the group (gunicorn's master then stops its workers gracefully), wait, then
    SIGKILL whatever is left of the group, so no worker outlives its master.
    """
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout)
    # The leader is gone; a straggler in its group (an orphaned worker) must not survive it.
    _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
