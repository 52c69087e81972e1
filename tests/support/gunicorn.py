"""Run a WSGI app under real gunicorn (the venv's) on a free loopback port, for a test.

    with start_gunicorn("example_app.wsgi:app", lambda url: {"FLASK_CLERK_BASE_URL": url}) as srv:
        requests.get(srv.url + "/")

``env`` is added to this process's environment; it may be a function of the server's base URL,
since apps usually need their own public URL in their configuration. The port is bound here and
passed to gunicorn as an inherited socket, so it is known before the app starts and cannot be
taken in between. ``stop()`` (or leaving the ``with``) ends the master and its workers (the whole
process group) and never leaves a process behind. A server that does not come up is a test
failure carrying gunicorn's log, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from example_app.demo.processes import (
    DEFAULT_THREADS,
    DEFAULT_WORKERS,
    StartupError,
    base_url_of,
    gunicorn_command,
    listening_socket,
    spawn,
    stop,
    wait_until_answering,
)

EnvSpec = Mapping[str, str] | Callable[[str], Mapping[str, str]]


@dataclass
class GunicornServer:
    """A running gunicorn: its URL, its master process and its log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """Everything gunicorn and the app wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if not self._stopped:
            self._stopped = True
            stop(self.process, timeout=timeout)

    def __enter__(self) -> GunicornServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_gunicorn(
    target: str,
    env: EnvSpec,
    *,
    workers: int = DEFAULT_WORKERS,
    threads: int = DEFAULT_THREADS,
    host: str = "127.0.0.1",
    ready_path: str = "/",
    timeout: float = 30.0,
    extra_args: Sequence[str] = (),
    log_dir: str | os.PathLike[str] | None = None,
) -> GunicornServer:
    """Start gunicorn serving ``target`` (``module:app``) and wait until it answers HTTP."""
    sock = listening_socket(host, 0)
    url = base_url_of(sock)
    extra_env = env(url) if callable(env) else env
    full_env = {**os.environ, **extra_env}
    directory = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="gunicorn-"))
    log_path = directory / f"gunicorn-{url.rsplit(':', 1)[1]}.log"
    argv = gunicorn_command(
        target, sock.fileno(), workers=workers, threads=threads, extra_args=extra_args
    )
    with log_path.open("wb") as log:
        try:
            process = spawn(
                argv, full_env, pass_fds=[sock.fileno()], stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            sock.close()  # gunicorn holds its own copy now
    server = GunicornServer(url=url, process=process, log_path=log_path)
    try:
        wait_until_answering(url + ready_path, process, timeout=timeout, name="gunicorn")
    except StartupError as exc:
        server.stop()
        raise AssertionError(f"{exc}\n--- gunicorn log ---\n{server.log()}") from None
    except BaseException:
        server.stop()
        raise
    return server
