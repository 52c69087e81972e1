"""Test helpers for the Clerk emulator: in a thread, or as a real subprocess.

``running_emulator`` is the cheap one (a thread in the test process). ``EmulatorProcess``
starts ``python -m flask_clerk_mcp.emulator --port 0`` and reads the port from its
``EMULATOR_READY`` line: integration tests with gunicorn use it so that the emulator is a
separate process, as Clerk is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from flask_clerk_mcp.emulator import EmulatorConfig, EmulatorServer

READY_PREFIX = "EMULATOR_READY "


@contextmanager
def running_emulator(**config: Any) -> Iterator[EmulatorServer]:
    """An ``EmulatorServer`` on a free loopback port for the duration of the block.

    Keyword arguments are ``EmulatorConfig`` fields, e.g. ``consent_required=False``.
    """
    server = EmulatorServer(EmulatorConfig(**config))
    with server:
        yield server


class EmulatorProcess:
    """``python -m flask_clerk_mcp.emulator`` as a child process.

    ``with EmulatorProcess("--no-dcr") as emu: emu.issuer``. Output after the ready line is
    drained in a thread (kept in ``output``) so the child never blocks on a full pipe.
    """

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.args: Sequence[str] = args
        self.env = env
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.issuer = ""
        self.port = 0
        self.output: list[str] = []
        self._drain: threading.Thread | None = None

    def start(self) -> EmulatorProcess:
        command = [sys.executable, "-m", "flask_clerk_mcp.emulator", "--port", "0", *self.args]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
        ready = threading.Event()
        self._drain = threading.Thread(target=self._read, args=(ready,), daemon=True)
        self._drain.start()
        if not ready.wait(self.startup_timeout) or not self.issuer:
            self.stop()
            raise RuntimeError("emulator did not start:\n" + "".join(self.output))
        return self

    def _read(self, ready: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith(READY_PREFIX) and not ready.is_set():
                self.issuer = line[len(READY_PREFIX) :].strip()
                self.port = int(self.issuer.rsplit(":", 1)[1])
                ready.set()
        ready.set()  # the child exited before it was ready

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then wait (SIGKILL only if it does not exit); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._drain is not None:
            self._drain.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
