"""Outbound fetches to URLs a client chose (CIMD documents), kept off internal addresses.

A client id that is a URL makes this server send a GET wherever the client likes. Without a
guard that reaches the cloud metadata service (169.254.169.254 hands out credentials), admin
ports on loopback, or the private network behind the firewall. The CIMD draft: the server
MUST NOT fetch URLs that resolve to special-use addresses (RFC 6890).

**Mechanism: resolve once, check every address, connect to a checked address.** The check has
to happen on the address actually connected to; checking a name and then letting the HTTP
library resolve it again is open to DNS rebinding (the first answer public, the second
127.0.0.1, both with a zero TTL). So ``GuardedAdapter`` is a requests transport adapter whose
connections override urllib3's ``_new_conn``: they resolve the host once, refuse the request
if *any* address is not allowed (a name with one public and one private address is refused,
rather than trusting the order of the answers), and open the socket to the checked IP
literal. Everything else stays urllib3's: TLS is still negotiated with the *host name* for
SNI and certificate verification, and the ``Host`` header still comes from the URL, so
nothing about HTTPS is weakened. The check runs before any packet is sent, so a refusal does
not reveal whether something listens at the internal address.

**Deadline.** Per-operation socket timeouts do not bound a fetch: a server that sends one
byte (one TLS record) just inside the read timeout keeps a read, a header line or a body
chunk going for as long as it likes, holding a worker thread (slowloris).
``fetch_deadline(seconds)`` bounds everything this thread does through guarded connections
inside it: a timer shuts the connections' sockets down when the time is up, which ends any
blocked read at once. The connections are watched both when opened and when reused.

The adapter also drops any ``Authorization`` header (requests adds ``~/.netrc``
credentials on its own, and a netrc ``default`` entry matches every host), and refuses
what would route around it: plain http, a proxy (the proxy would do the resolving; CIMD
fetches never use ``HTTPS_PROXY``), and switching certificate checks off
(``verify=False`` is overridden; ``REQUESTS_CA_BUNDLE`` still chooses the trusted CAs).

``AddressPolicy`` is the list of refused addresses: everything that is not global unicast —
private (RFC 1918, fc00::/7), loopback, link-local (169.254/16, fe80::/10), shared (100.64/10),
multicast, reserved, unspecified, documentation and benchmarking ranges, IPv4 embedded in
IPv6 (mapped, 6to4, NAT64) judged by the embedded address — plus named cloud metadata
addresses, including Azure's public-looking 168.63.129.16. ``allow_loopback`` (the emulator
demo and tests; never production, as the draft says) lets 127/8 and ::1 through, nothing else.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import os
import socket
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

Resolver = Callable[[str, int], Sequence[str]]

#: Cloud metadata and platform service addresses, refused by name in the error message.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle metadata
        "169.254.169.253",  # AWS VPC DNS
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fd00:ec2::23",  # AWS Time Sync / DNS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata
        "168.63.129.16",  # Azure WireServer (a public address, hence listed)
    )
)

_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The destination is not allowed. Not an ``OSError`` on purpose: urllib3 and requests
    let it through unwrapped and unretried, so the caller sees exactly this."""


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses, as urllib3 would look them up (IPv6 only where available)."""
    family = urllib3_connection.allowed_gai_family()
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressPolicy:
    """Which resolved addresses an outbound fetch may connect to (see the module doc)."""

    def __init__(self, *, allow_loopback: bool = False, resolver: Resolver = system_resolver):
        self.allow_loopback = allow_loopback
        self._resolver = resolver

    def check(self, address: str) -> None:
        """Raise ``BlockedAddress`` unless ``address`` (an IP literal) may be connected to."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise BlockedAddress("resolved to something that is not an IP address") from None
        why = self._refusal(ip)
        if why:
            raise BlockedAddress(f"resolves to a {why} address, which is never fetched")

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` once and check every address; the addresses, in resolver order."""
        addresses = list(dict.fromkeys(self._resolver(host, port)))
        if not addresses:
            raise BlockedAddress("does not resolve to any address")
        for address in addresses:
            self.check(address)
        return addresses

    def _refusal(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        if ip in METADATA_ADDRESSES:
            return "cloud metadata"
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.scope_id:
                return "scoped IPv6"
            embedded = ip.ipv4_mapped
            if embedded is None and ip in _SIX_TO_FOUR:
                embedded = ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
            if embedded is None and ip in _NAT64:
                embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            if embedded is not None:
                return self._refusal(embedded)
            if ip.is_site_local:
                return "site-local"
        if ip.is_loopback:
            return None if self.allow_loopback else "loopback"
        for name in ("unspecified", "link_local", "multicast", "private", "reserved"):
            if getattr(ip, f"is_{name}"):
                return name.replace("_", "-")
        if not ip.is_global:
            return "non-global"
        return None


class Deadline:
    """The time limit of one ``fetch_deadline`` block; ``expired`` once it has cut in."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._watched: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()
        self._sockets: list[socket.socket] = []  # duplicates: shutdown acts on the connection
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, conn: HTTPConnection, sock: socket.socket | None) -> None:
        """Cut ``sock`` (the connection's socket) when the time is up; at once if it is."""
        if sock is None or conn in self._watched:
            return
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        with self._lock:
            self._watched.add(conn)
            self._sockets.append(duplicate)
            expired = self.expired
        if expired:
            _cut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)

    def _close(self) -> None:
        self._timer.cancel()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()  # the duplicate only: a connection still in use stays open


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its peer or by us


_active = threading.local()


@contextmanager
def fetch_deadline(seconds: float) -> Iterator[Deadline]:
    """Bound every guarded connection this thread opens or reuses inside the block to
    ``seconds`` from now, whatever the server does; check ``expired`` on any failure."""
    deadline = Deadline(seconds)
    previous = getattr(_active, "deadline", None)
    _active.deadline = deadline
    deadline._timer.start()
    try:
        yield deadline
    finally:
        _active.deadline = previous
        deadline._close()


def _watch(conn: HTTPConnection, sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_active, "deadline", None)
    if deadline is not None:
        deadline.watch(conn, sock)


def _guarded_connect(conn: HTTPConnection, policy: AddressPolicy) -> socket.socket:
    """urllib3's ``_new_conn`` with the policy between resolving and connecting."""
    host = conn._dns_host
    try:
        addresses = policy.resolve(host, conn.port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    failure: Exception | None = None
    for address in addresses:
        try:
            sock = urllib3_connection.create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            failure = ConnectTimeoutError(conn, f"connection to {conn.host} timed out")
            failure.__cause__ = exc
            continue
        except OSError as exc:
            failure = NewConnectionError(conn, f"failed to connect: {exc}")
            continue
        try:  # what we connected to is what we checked: a second look costs nothing
            policy.check(str(sock.getpeername()[0]))
        except BlockedAddress:
            sock.close()
            raise
        _watch(conn, sock)
        return sock
    assert failure is not None
    raise failure


class GuardedAdapter(HTTPAdapter):
    """A requests adapter that connects only to addresses ``policy`` allows, over https."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        self.policy = policy  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Swap in pools whose connections dial only addresses the policy allowed."""
        super().init_poolmanager(*args, **kwargs)
        policy = self.policy

        class Connection(HTTPConnection):
            def _new_conn(self) -> socket.socket:
                return _guarded_connect(self, policy)

            def request(self, *args: Any, **kwargs: Any) -> None:
                _watch(self, self.sock)  # a connection reused from the pool
                super().request(*args, **kwargs)

        class TLSConnection(HTTPSConnection):
            def _new_conn(self) -> socket.socket:
                return _guarded_connect(self, policy)

            def request(self, *args: Any, **kwargs: Any) -> None:
                _watch(self, self.sock)
                super().request(*args, **kwargs)

        class Pool(HTTPConnectionPool):
            ConnectionCls = Connection

        class TLSPool(HTTPSConnectionPool):
            ConnectionCls = TLSConnection

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        """Send over https only, certificates always verified, never through a proxy."""
        if not (request.url or "").lower().startswith("https://"):
            raise BlockedAddress("is not an https URL, and only https is fetched")
        # No credentials to a URL a client chose: requests adds ~/.netrc ($NETRC) ones to
        # any request without auth, and a netrc "default" entry matches every host.
        request.headers.pop("Authorization", None)
        return super().send(
            request,
            stream=stream,
            timeout=timeout,
            verify=True if verify is False else verify,
            cert=cert,
            proxies=None,  # a proxy would resolve the name itself, out of the guard's sight
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Refuse: a proxy would resolve the name out of the guard's sight."""
        raise BlockedAddress("would go through a proxy, which the address guard cannot see past")


def guarded_session(policy: AddressPolicy) -> requests.Session:
    """A fresh session whose every request goes through a ``GuardedAdapter``.

    Cookies are never kept (a fetched document must not set state for the next one), and
    both prefixes are mounted so no request can fall back to requests' default adapter.
    One per thread, like every requests session here.
    """
    session = requests.Session()
    adapter = GuardedAdapter(policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.cookies.set_policy(_NoCookies())
    return session


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False
