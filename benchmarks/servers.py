"""The servers the benchmarks drive, each one process tree on a loopback port.

- ``our_server``: a WSGI app of ours under gunicorn, through ``tests/support/gunicorn.py``
  (which binds the port, passes the socket, waits, and stops the whole group), with a
  ``GunicornConfig`` so deployment configurations can be compared;
- ``fastmcp_server``: ``benchmarks/fastmcp_app.py`` under uvicorn, run by the Python of a
  throwaway virtualenv (``fastmcp_python``) holding FastMCP, started and stopped with the same
  primitives (``example_app.demo.processes``) as everything else here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from example_app.demo.processes import (
    DEFAULT_THREADS,
    DEFAULT_WORKERS,
    StartupError,
    base_url_of,
    listening_socket,
    spawn,
    stop,
    wait_until_answering,
)
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.support.gunicorn import start_gunicorn

ROOT = Path(__file__).resolve().parents[1]
FASTMCP_VENV = ROOT / "benchmarks" / ".venv-fastmcp"
FASTMCP_VERSION = "4.2.3"
WORKER_CLASSES = ("gthread", "gevent")


class Running(Protocol):
    """What the load generator needs of a server: where it is and whose CPU to count."""

    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int: ...


@dataclass(frozen=True)
class GunicornConfig:
    """Workers, threads per worker and worker class: ``2x4`` or ``2x64:gthread``.

    For ``gevent`` the second number is ``--worker-connections`` (greenlets per worker), and
    gevent must be installed in this virtualenv (it is no dependency of ours).
    """

    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS
    worker_class: str = "gthread"

    @classmethod
    def parse(cls, text: str) -> GunicornConfig:
        shape, _, worker_class = text.partition(":")
        workers, _, threads = shape.partition("x")
        try:
            config = cls(int(workers), int(threads), worker_class or "gthread")
        except ValueError:
            raise ValueError(f"{text!r}: expected WORKERSxTHREADS[:CLASS], e.g. 2x16") from None
        if config.workers < 1 or config.threads < 1:
            raise ValueError(f"{text!r}: workers and threads must be >= 1")
        if config.worker_class not in WORKER_CLASSES:
            raise ValueError(f"{text!r}: worker class is one of {', '.join(WORKER_CLASSES)}")
        if config.worker_class == "gevent" and importlib.util.find_spec("gevent") is None:
            raise ValueError(f"{text!r}: gevent is not installed in {sys.prefix}")
        return config

    def __str__(self) -> str:
        return f"{self.workers}x{self.threads}:{self.worker_class}"

    def extra_args(self) -> list[str]:
        """Arguments after ``gunicorn_command``'s own (gunicorn takes the last of each)."""
        if self.worker_class == "gevent":
            return ["--worker-class", "gevent", "--worker-connections", str(self.threads)]
        return []


@contextmanager
def our_server(
    name: str,
    target: str,
    issuer: str,
    secret_key: str,
    directory: Path,
    settings: Mapping[str, str],
    gunicorn: GunicornConfig | None = None,
) -> Iterator[Running]:
    """``target`` (``module:app``, one of ours) under gunicorn, configured as a deployment is."""
    gunicorn = gunicorn or GunicornConfig()
    notes = directory / name / "notes"
    notes.mkdir(parents=True)

    def env(url: str) -> dict[str, str]:
        return {
            "FLASK_SECRET_KEY": secret_key,
            "FLASK_CLERK_ISSUER_URL": issuer,
            "FLASK_CLERK_CLIENT_ID": DEMO_CLIENT_ID,
            "FLASK_CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "FLASK_CLERK_BASE_URL": url,
            "FLASK_CLERK_LOGIN": "false",
            "FLASK_NOTES_DIR": str(notes),
            # One header, so the figures can say which worker served which token.
            "FLASK_EXPOSE_WORKER_PID": "true",
            **{f"FLASK_{key}": value for key, value in settings.items()},
        }

    with start_gunicorn(
        target,
        env,
        workers=gunicorn.workers,
        threads=gunicorn.threads,
        extra_args=["--chdir", str(ROOT), *gunicorn.extra_args()],
        log_dir=directory / name,
    ) as server:
        yield server


def fastmcp_python(version: str = FASTMCP_VERSION, venv: Path = FASTMCP_VENV) -> Path:
    """The Python of a throwaway virtualenv with ``fastmcp==version`` and uvicorn from PyPI.

    ``uvicorn[standard]`` (uvloop, httptools): the production install uvicorn recommends,
    so FastMCP gets its fastest usual server. Reused when it already holds exactly that;
    created (or brought to it) otherwise. It is never a dependency of this package: nothing
    of ours imports FastMCP.
    """
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = [f"fastmcp=={version}", "uvicorn[standard]"]
    if python.exists() and stamp.exists() and stamp.read_text().split() == wanted:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"installing {' '.join(wanted)} into {venv}", file=sys.stderr)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True)
    stamp.write_text(" ".join(wanted) + "\n")
    return python


def installed_versions(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    """``{distribution: version}`` as ``python`` sees them (the throwaway virtualenv's)."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(found))"
    )
    answer = subprocess.run(
        [str(python), "-c", script, *names], capture_output=True, text=True, check=True
    )
    versions: dict[str, str] = json.loads(answer.stdout)
    return versions


@dataclass
class ProcessTree:
    """A server started here: its URL, its leader process (a session of its own), its log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def fastmcp_server(
    python: Path, issuer: str, directory: Path, *, workers: int = DEFAULT_WORKERS, pooled: bool
) -> Iterator[Running]:
    """``benchmarks/fastmcp_app.py`` under uvicorn (``workers`` processes) on a loopback port."""
    sock = listening_socket()
    url = base_url_of(sock)
    log_path = directory / f"fastmcp-{url.rsplit(':', 1)[1]}.log"
    argv = [
        str(python),
        "-m",
        "uvicorn",
        "benchmarks.fastmcp_app:app",
        "--app-dir",
        str(ROOT),
        "--fd",
        str(sock.fileno()),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    # A clean environment: nothing of this virtualenv (PYTHONPATH, VIRTUAL_ENV) leaks in.
    env = {
        **{key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ},
        "BENCH_CLERK_ISSUER": issuer,
        "BENCH_CLERK_CLIENT_ID": DEMO_CLIENT_ID,
        "BENCH_CLERK_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "BENCH_FASTMCP_POOLED": "1" if pooled else "0",
    }
    with log_path.open("wb") as log:
        try:
            process = spawn(argv, env, pass_fds=[sock.fileno()], stdout=log, stderr=log)
        finally:
            sock.close()  # uvicorn holds its own copy now
    try:
        wait_until_answering(url + "/mcp", process, timeout=60, name="uvicorn (FastMCP)")
    except StartupError as exc:
        stop(process)
        raise StartupError(f"{exc}\n--- log ---\n{log_path.read_text(errors='replace')}") from None
    except BaseException:
        stop(process)
        raise
    try:
        yield ProcessTree(url, process, log_path)
    finally:
        stop(process)
