"""Redis URLs and clients: one parser, and one client per URL per process.

The verification cache (``CLERK_CACHE``) and the store (``CLERK_STORE``) may name the same
Redis; they share its client (and so its connection pool) rather than each opening their own.
Clients are made lazily, once per URL per process; redis-py's pools notice a ``fork`` (gunicorn
workers) and open fresh connections in the child. Knows nothing of Flask. The ``redis`` package
is an optional extra, imported only when a client is first needed.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError

SCHEMES = ("redis", "rediss", "unix")
#: Seconds: a dead Redis must cost a request about a second, never a worker for a minute.
CONNECT_TIMEOUT = 0.5
SOCKET_TIMEOUT = 1.0

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def is_redis_url(value: object) -> bool:
    """Whether ``value`` claims to be a Redis URL (``redis://``, ``rediss://``, ``unix://``)."""
    if not isinstance(value, str) or "://" not in value:
        return False
    return value.split("://", 1)[0].lower() in SCHEMES


def check_redis_url(url: str, key: str) -> str:
    """``url`` if it is a usable Redis URL, else a ``ConfigurationError`` naming ``key``.

    Messages show the scheme at most: a Redis URL may carry a password.
    """
    scheme = url.split("://", 1)[0].lower()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        raise ConfigurationError(key, f"is not a valid {scheme}:// URL") from None
    if parts.fragment:
        raise ConfigurationError(key, f"a {scheme}:// URL carries no fragment")
    if scheme == "unix":
        if not parts.path or parts.path == "/":
            raise ConfigurationError(key, "a unix:// URL needs the socket's path")
        return url
    if not parts.hostname:
        raise ConfigurationError(key, f"a {scheme}:// URL needs a host")
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise ConfigurationError(key, f"the database of a {scheme}:// URL is a number")
    del port
    return url


def mask_url(url: str) -> str:
    """``url`` fit for a log or a repr: user info and query (may hold a password) hidden."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))
    except ValueError:
        return url.split(":", 1)[0] + "://***"


def import_redis() -> Any:
    """The ``redis`` module, or an ``ImportError`` that says which extra to install."""
    try:
        import redis
    except ImportError:
        raise ImportError(
            "a redis:// cache or store needs the redis package: "
            "pip install 'flask-clerk-mcp[redis]'"
        ) from None
    return redis


def shared_client(url: str) -> Any:
    """This process's client for ``url``, made on first use with short timeouts."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = import_redis().Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=CONNECT_TIMEOUT,
                health_check_interval=30,
            )
            _clients[url] = client
        return client
