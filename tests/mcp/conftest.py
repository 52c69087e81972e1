"""A real HTTPS server on loopback, certified by a trustme test CA, serving CIMD documents.

Each test puts handlers on ``server.routes`` (path -> callable writing the answer) and reads
``server.hits`` (the paths requested, in order). The test CA is trusted the way an operator
would trust a private CA: ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme

from flask_clerk_mcp.mcp.ssrf import AddressPolicy, guarded_session, system_resolver
from flask_clerk_mcp.store import MemoryStore
from tests.support.clock import FakeClock

Handler = Callable[[BaseHTTPRequestHandler], None]

#: Names the test certificate is valid for; tests resolve the .test ones to 127.0.0.1.
NAMES = ("localhost", "127.0.0.1", "cimd.test", "other.test")


class DocumentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.routes: dict[str, Handler] = {}
        self.hits: list[str] = []
        self.headers_seen: list[dict[str, str]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "cimd.test") -> str:
        return f"https://{host}:{self.port}{path}"

    def document(self, path: str, doc: Any, **headers: str) -> None:
        """Serve ``doc`` (JSON-encoded unless bytes) at ``path`` with ``headers``."""
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        headers.setdefault("Content-Type", "application/json")

        def handler(request: BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            for name, value in headers.items():
                request.send_header(name.replace("_", "-"), value)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)

        self.routes[path] = handler


class _Handler(BaseHTTPRequestHandler):
    server: DocumentServer

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.server.headers_seen.append(dict(self.headers.items()))
        handler = self.server.routes.get(self.path)
        if handler is None:
            self.send_error(404)
            return
        try:
            handler(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client hung up on purpose (size limit, deadline)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(test_ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def trust_test_ca(monkeypatch, ca_bundle) -> str:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
    return ca_bundle


@pytest.fixture
def server(test_ca) -> Iterator[DocumentServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert(*NAMES).configure_cert(context)
    httpd = DocumentServer(context)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


class FakeDNS:
    """A resolver: ``.test`` names to the addresses given, anything else to the system's."""

    def __init__(self, **names: list[str]) -> None:
        self.names = {"cimd.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
        self.names.update({k.replace("_", "."): v for k, v in names.items()})
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host in self.names:
            return self.names[host]
        return system_resolver(host, port)


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS()


@pytest.fixture
def loopback_session(dns):
    """A guarded session that may reach loopback (the emulator demo's setting)."""
    session = guarded_session(AddressPolicy(allow_loopback=True, resolver=dns))
    yield session
    session.close()


@pytest.fixture
def strict_session(dns):
    """A guarded session with the production policy: loopback refused."""
    session = guarded_session(AddressPolicy(resolver=dns))
    yield session
    session.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock) -> MemoryStore:
    return MemoryStore(clock=clock)


# -- the proxy against the emulator (the login tests' fixtures and helpers, reused) ---------
from tests.login.conftest import build_app, emulator  # noqa: E402, F401  (fixture re-used)


@pytest.fixture
def make_proxy_app(emulator):  # noqa: F811 - the imported fixture
    """An app in proxy mode against the emulator (the login tests' app: /api/me is bearer)."""
    return lambda **config: build_app(emulator.issuer, CLERK_MCP_MODE="proxy", **config)


@pytest.fixture
def proxy_app(make_proxy_app):
    return make_proxy_app()


@pytest.fixture
def browser(proxy_app):
    """The user's browser (and, since the token endpoint reads no cookie, the MCP client)."""
    return proxy_app.test_client()
