"""An https host on loopback that serves Client ID Metadata Documents, with a ``trustme`` test CA.

An MCP client that does CIMD names an https URL as its ``client_id``; the authorization server
fetches the document there. ``CIMDHost`` is that web site for tests: a threaded
``http.server`` behind TLS, a certificate for ``127.0.0.1`` and ``localhost`` issued by a
throwaway CA, and documents published per path (``publish(path, document)``; a document may
be any JSON value, or raw bytes to serve broken ones). ``ca_bundle`` is the CA certificate as
a PEM file: give it to the server under test as ``REQUESTS_CA_BUNDLE``, the same way an
operator would trust a private CA. ``requests_for(path)`` counts fetches, so a test can tell
a cached document from a fetched one.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme


class CIMDHost:
    """``with CIMDHost(directory) as host: host.publish("/client.json", {...}); host.url(...)``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self._ca = trustme.CA()
        self.ca_bundle = directory / "cimd-test-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_bundle))
        self._documents: dict[str, tuple[bytes, str]] = {}
        self._fetches: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.base_url = f"https://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def publish(self, path: str, document: Any, content_type: str = "application/json") -> str:
        """Serve ``document`` (JSON-encoded unless bytes) at ``path``; return its URL."""
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        with self._lock:
            self._documents[path] = (body, content_type)
        return self.url(path)

    def requests_for(self, path: str) -> int:
        with self._lock:
            return self._fetches[path]

    def _answer(self, path: str) -> tuple[bytes, str] | None:
        with self._lock:
            self._fetches[path] += 1
            return self._documents.get(path)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = host._answer(self.path)
                if found is None:
                    self.send_error(404)
                    return
                body, content_type = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=60")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows failures, not access logs

        return Handler

    def __enter__(self) -> CIMDHost:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
