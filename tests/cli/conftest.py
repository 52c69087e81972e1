"""The ``flask clerk`` commands against the emulator in a thread: up, down, or misconfigured."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_clerk_mcp import ClerkMCP
from flask_clerk_mcp.emulator import EmulatorServer
from flask_clerk_mcp.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.support.emulator import running_emulator

#: A base URL whose callback the emulator's demo client already allows.
BASE_URL = "http://127.0.0.1:8000"


def make_app(issuer: str, **config: Any) -> Flask:
    app = Flask("cli_sample")
    app.config.update(
        CLERK_ISSUER_URL=issuer,
        CLERK_CLIENT_ID=DEMO_CLIENT_ID,
        CLERK_CLIENT_SECRET=DEMO_CLIENT_SECRET,
        CLERK_BASE_URL=BASE_URL,
        CLERK_LOGIN=False,
        CLERK_CACHE_TTL=0,
        # Proxy mode (the default) needs a SECRET_KEY and a store; without them it falls
        # back to direct mode, whose dashboard rows differ.
        SECRET_KEY="cli-test-secret-key",
        CLERK_STORE="memory:",
    )
    app.config.update(config)
    ClerkMCP(app)
    return app


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with running_emulator(consent_required=False, dcr_enabled=True) as server:
        yield server


@pytest.fixture
def app_for(emulator: EmulatorServer) -> Callable[..., Flask]:
    """An app pointed at the running emulator, with config overrides."""
    return lambda **config: make_app(emulator.issuer, **config)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
