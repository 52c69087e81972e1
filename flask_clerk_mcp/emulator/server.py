"""``EmulatorServer``: the emulator on a real loopback port, in a background thread.

Tests and the demo need real HTTP (the library under test talks to Clerk with ``requests``), so
this binds a socket, picks a free port when asked for port 0, and only then fixes the issuer,
since the issuer must name the port. Werkzeug's threaded server is enough here; its request
log lines are silenced unless asked for, so test output stays readable and no URL with a code
ever reaches a log.
"""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app, emulator_of
from .config import EmulatorConfig, OAuthClient
from .instance import Emulator


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


class EmulatorServer:
    """Run an emulator app on ``host:port`` (127.0.0.1 and a free port by default).

    ``with EmulatorServer() as emu: requests.get(emu.issuer + "/.well-known/…")``
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.app: Flask = create_app(self.config)
        try:
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                self.app,
                threaded=True,
                request_handler=QuietRequestHandler if quiet else None,
            )
        except SystemExit:  # werkzeug exits the process when it cannot bind; a library must not
            raise OSError(f"cannot listen on {host}:{port}") from None
        self.port: int = self._server.port
        if not self.config.issuer:
            self.config.issuer = f"http://{_url_host(host)}:{self.port}"
        self.issuer: str = self.config.issuer.rstrip("/")
        self._thread: threading.Thread | None = None

    @property
    def emulator(self) -> Emulator:
        return emulator_of(self.app)

    def url(self, path: str) -> str:
        return self.issuer + path

    def start(self) -> EmulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"clerk-emulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; wakes any request sleeping in a fault."""
        self.emulator.controls.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def register_client(self, client: OAuthClient) -> None:
        """Add or replace a pre-registered client while running."""
        self.emulator.state.register_client(client)

    def add_redirect_uri(self, client_id: str, redirect_uri: str) -> None:
        self.emulator.state.add_redirect_uri(client_id, redirect_uri)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(issuer={self.issuer!r})"

    def __del__(self) -> None:
        # A server never started (or already stopped) must not leak its listening socket.
        if getattr(self, "_thread", None) is None and hasattr(self, "_server"):
            self._server.server_close()
