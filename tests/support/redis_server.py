"""A real ``redis-server`` on a free loopback port, for tests that need Redis semantics.

A fake would prove nothing about ``GETDEL``, ``SET NX EX`` or expiry, so the Redis tests run
against the real server, which ``make test`` installs (scripts/system-deps.sh). A missing
server is a failure, never a skip: a skipped Redis test looks like a passing one in CI.

Other test packages use the fixture from their conftest::

    from tests.support.redis_server import redis_url  # noqa: F401
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MISSING = (
    "redis-server is not installed; run `make test`, which installs it "
    "(scripts/system-deps.sh), or `sudo apt-get install redis-server`"
)
_START_TIMEOUT = 10.0


class RedisServerError(RuntimeError):
    """redis-server is missing or would not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _start(
    executable: str, workdir: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server on ``port`` (a free one when None); ``(process, port)``."""
    log_path = workdir / "redis.log"
    wanted = port
    for _ in range(3):  # the free port may be taken between probing and binding
        port = wanted or _free_port()
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                [
                    executable,
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(workdir),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _answers_ping(port):
                return process, port
            time.sleep(0.02)
        _stop(process)
    raise RedisServerError(
        "redis-server did not answer PING; its log:\n" + log_path.read_text(errors="replace")
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisProcess:
    """A redis-server a test may kill (SIGKILL: no goodbye to clients) and start again on the
    same port, empty, as a crashed Redis without persistence comes back.

    ``with RedisProcess() as redis: redis.url; redis.kill(); redis.start()``.
    """

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisServerError(MISSING)
        self._executable = executable
        self._workdir = Path(tempfile.mkdtemp(prefix="flask-clerk-mcp-redis-"))
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.process, self.port = _start(self._executable, self._workdir, self.port)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            _stop(self.process)
        shutil.rmtree(self._workdir, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Start redis-server, yield its URL (``redis://127.0.0.1:PORT/0``), stop it."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisServerError(MISSING)
    workdir = Path(tempfile.mkdtemp(prefix="flask-clerk-mcp-redis-"))
    try:
        process, port = _start(executable, workdir)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real redis-server shared by the whole session; fails if there is none."""
    try:
        with redis_server() as url:
            yield url
    except RedisServerError as exc:
        pytest.fail(str(exc), pytrace=False)
