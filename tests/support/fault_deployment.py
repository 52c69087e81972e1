"""One deployment to break on purpose: Clerk behind a gate, Redis, the example under gunicorn.

- Clerk: the emulator as a real process, reached through a ``TcpGate`` (closing it is "Clerk
  down": connection refused), started with ``--issuer`` set to the gate's URL so the tokens
  name the URL the app calls;
- Redis: a real redis-server (``RedisProcess``, which a test may kill and restart), holding
  ``CLERK_STORE`` (database 1) and ``CLERK_CACHE`` (database 2);
- the example app under gunicorn, 2 workers, proxy mode, ``CLERK_TIMEOUT=1`` (a hanging Clerk
  costs a request one second), its worker pid on every answer.

``running_deployment(directory)`` starts it all and stops it all; the fault tests
(``tests/faults``) and ``benchmarks/soak.py`` use it. Tokens come from the emulator's real
sign-in (``Deployment.mint``), opaque or JWT.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from flask_clerk_mcp.emulator.config import ALICE, BOB, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from flask_clerk_mcp.emulator.driver import sign_in_with_pkce

from .emulator import EmulatorProcess
from .example_oauth import emulator_operator, start_example_app
from .gunicorn import GunicornServer
from .redis_server import RedisProcess
from .tcp_gate import TcpGate
from .verdict_load import Probe

#: The example's scopes, and the same without ``add_note``'s ``notes:write``.
SCOPES = ("openid", "email", "profile", "notes:write")
READ_ONLY = ("openid", "email", "profile")
SUBJECTS = {user.handle: user.user_id for user in (ALICE, BOB)}
#: Seconds per upstream call in the app.
CLERK_TIMEOUT = 1
#: A fault that lasts until cleared.
FOREVER = 1_000_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Deployment:
    gate: TcpGate
    emulator: EmulatorProcess
    redis: RedisProcess
    app: GunicornServer

    @property
    def issuer(self) -> str:
        return self.gate.url

    @property
    def mcp_url(self) -> str:
        return self.app.url + "/mcp"

    def operator(self, method: str, path: str, body: Any = None) -> Any:
        return emulator_operator(self.issuer, method, path, body)

    def fault(self, endpoints: Sequence[str], mode: str, **extra: Any) -> None:
        """Every call to these endpoints fails with ``mode`` until ``heal``."""
        for endpoint in endpoints:
            self.operator(
                "POST", "faults", {"endpoint": endpoint, "mode": mode, "count": FOREVER, **extra}
            )

    def heal(self) -> None:
        """Clerk reachable again and answering well."""
        if not self.gate.is_open:
            self.gate.open()
        self.operator("DELETE", "faults")

    def mint(
        self,
        count: int,
        *,
        token_format: str = "jwt",  # noqa: S107 - a format name, not a secret
        user: str = "alice",
        scopes: tuple[str, ...] = SCOPES,
    ) -> list[str]:
        """``count`` fresh access tokens from the real sign-in, in this format."""
        self.operator("POST", "token-format", {"format": token_format})

        def one(_: int) -> str:
            answer = sign_in_with_pkce(
                self.issuer,
                DEMO_CLIENT_ID,
                self.app.url + "/auth/callback",
                client_secret=DEMO_CLIENT_SECRET,
                user=user,
                scopes=scopes,
            )
            token: str = answer["access_token"]
            return token

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(one, range(count)))

    def revoke(self, token: str) -> None:
        answer = requests.post(
            self.issuer + "/oauth/token/revoke",
            data={"token": token, "token_type_hint": "access_token"},
            auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def workers(self) -> set[int]:
        """The pids of gunicorn's workers now (the master's children)."""
        pids: set[int] = set()
        for task in Path(f"/proc/{self.app.pid}/task").iterdir():
            pids.update(int(p) for p in (task / "children").read_text().split())
        return pids

    def kill_worker(self) -> int:
        """SIGKILL one worker (gunicorn's master starts another); its pid."""
        victim = min(self.workers())
        os.kill(victim, signal.SIGKILL)
        return victim

    def wait_for_workers(self, count: int = 2, timeout: float = 30.0) -> set[int]:
        """Until gunicorn has ``count`` workers (a killed one replaced); their pids."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.workers()
            if len(pids) >= count:
                return pids
            time.sleep(0.1)
        raise AssertionError(f"gunicorn has {self.workers()} workers after {timeout:.0f} s")


@contextlib.contextmanager
def running_deployment(
    directory: Path, *, clerk_timeout: float = CLERK_TIMEOUT
) -> Iterator[Deployment]:
    """Gate, Redis, emulator and gunicorn, started in that order and stopped in reverse;
    ``clerk_timeout`` is the app's ``CLERK_TIMEOUT``."""
    emulator_port = _free_port()
    with TcpGate(emulator_port) as gate, RedisProcess() as redis:
        with EmulatorProcess(
            "--port", str(emulator_port), "--issuer", gate.url, "--custom-scope", "notes:write"
        ) as emulator:
            base = redis.url.rsplit("/", 1)[0]
            with start_example_app(
                gate.url,
                directory,
                mode="proxy",
                store=f"{base}/1",
                settings={"CLERK_CACHE": f"{base}/2", "CLERK_TIMEOUT": str(clerk_timeout)},
            ) as app:
                yield Deployment(gate, emulator, redis, app)


def good(token: str, user: str = "alice", *, cold: bool = False, kind: str = "good") -> Probe:
    """A good token's probe: whoami, a 200 naming ``user``."""
    return Probe(kind, token, 200, subject=SUBJECTS[user], cold=cold)
