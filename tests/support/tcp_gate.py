"""A loopback TCP forwarder that can be shut, so that a server seems down: connection refused.

The emulator can answer badly (``/__emulator/faults``) but cannot refuse connections while it
keeps its state (the tokens it issued). Put this gate between the app and the emulator (the
emulator started with ``--issuer`` set to the gate's URL, so tokens name the URL the app
calls), then ``close()`` it: the listening socket goes away (new connections are refused) and
every forwarded connection is reset (pooled keep-alive connections fail too). ``open()`` listens
again on the same port. Bytes are forwarded untouched, in both directions.

    with TcpGate(emulator_port) as gate:
        gate.url  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

_CHUNK = 65536


class TcpGate:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:target_port`` while open."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.port = port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def open(self) -> TcpGate:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def close(self) -> None:
        """Refuse new connections and reset the forwarded ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in connections:
            _reset(conn)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # closed meanwhile
                    _reset(client)
                    _reset(upstream)
                    return
                self._connections.update((client, upstream))
            pumps = [2]  # pumps of this pair still running
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, pumps), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pumps: list[int]) -> None:
        """Copy ``source`` to ``sink`` until EOF; the last pump of a pair closes both."""
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(source)
            _reset(sink)
        with self._lock:
            pumps[0] -= 1
            if pumps[0]:
                return
            self._connections.discard(source)
            self._connections.discard(sink)
        source.close()
        sink.close()

    def __enter__(self) -> TcpGate:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed peer's kernel would answer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
