"""Test helpers for the Clerk emulator: in a thread, or as a real subprocess.

``running_emulator`` is the cheap one (a thread in the test process). ``EmulatorProcess``
starts ``python -m flask_clerk_mcp.emulator --port 0`` and reads the issuer from its
``EMULATOR_READY`` line: integration tests with gunicorn use it so that the emulator is a
separate process, as Clerk is.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from example_app.demo.processes import StartupError, start_emulator, stop
from flask_clerk_mcp.emulator import EmulatorConfig, EmulatorServer


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

    ``with EmulatorProcess("--no-dcr") as emu: emu.issuer``. Started and stopped by the same
    mechanism as the demo's (``example_app.demo.processes``): a session of its own, its output
    in a log file (``output``, its lines), stopped with its whole process group.
    """

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        startup_timeout: float = 15.0,
        command: Sequence[str] | None = None,
    ) -> None:
        self.args: Sequence[str] = args
        #: What to run instead of ``python -m flask_clerk_mcp.emulator`` (same options).
        self.command = command
        self.env = env
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.issuer = ""
        self.port = 0
        self._log = Path(tempfile.mkdtemp(prefix="emulator-")) / "emulator.log"

    @property
    def output(self) -> list[str]:
        """Everything the emulator printed so far, line by line."""
        try:
            return self._log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def start(self) -> EmulatorProcess:
        try:
            extra = {} if self.command is None else {"command": self.command}
            self.process, self.issuer = start_emulator(
                self.args, self._log, env=self.env, timeout=self.startup_timeout, **extra
            )
        except StartupError as exc:
            raise RuntimeError(f"{exc}:\n" + "\n".join(self.output)) from None
        self.port = int(self.issuer.rsplit(":", 1)[1])
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM to its group, then wait (SIGKILL only if it lingers); returns the exit code."""
        if self.process is None:
            return None
        stop(self.process, timeout=timeout)
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
