"""Settings: read every ``CLERK_*`` key once, coerce it, and fail early naming the key.

Knows nothing of Flask: ``load_settings`` takes any mapping (``app.config`` in practice) so the
same rules serve the extension, the CLI and tests.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config_values import (
    absolute_url,
    boolean,
    id_list,
    is_host_name,
    non_negative_int,
    number,
    optional_text,
    publishable_key_host,
    str_list,
)
from .config_values import is_loopback_host as is_loopback_host  # public: used by the proxy
from .errors import ConfigurationError
from .redis_clients import check_redis_url, is_redis_url, mask_url
from .scopes import Implications, parse_implications, parse_supported, scope_list

log = logging.getLogger("flask_clerk_mcp")

PREFIX = "CLERK_"
ANY_CLIENT = "*"
DEFAULT_REQUIRED_SCOPES = ("openid", "email", "profile")
DEFAULT_TIMEOUT = (3.05, 10.0)
DEFAULT_ALLOWED_REDIRECT_URIS = (
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
)
MCP_MODES = ("direct", "proxy")
DEFAULT_MCP_MODE = "proxy"
MAX_REFRESH_GRACE = 300  # seconds
#: Characters (or bytes) of ``CLERK_STORE_KEY`` below which it is no secret worth the name.
MIN_STORE_KEY_LENGTH = 16

#: Every key this extension reads, with its default (``None``: no default / required).
KNOWN_KEYS: dict[str, Any] = {
    "CLERK_DOMAIN": None,
    "CLERK_PUBLISHABLE_KEY": None,
    "CLERK_ISSUER_URL": None,
    "CLERK_CLIENT_ID": None,
    "CLERK_CLIENT_SECRET": None,
    "CLERK_BASE_URL": None,
    "CLERK_MCP_PATH": "/mcp",
    "CLERK_REDIRECT_PATH": "/auth/callback",
    "CLERK_REQUIRED_SCOPES": " ".join(DEFAULT_REQUIRED_SCOPES),
    "CLERK_TIMEOUT": DEFAULT_TIMEOUT,
    "CLERK_CACHE": None,
    "CLERK_CACHE_TTL": 60,
    "CLERK_LOGIN": "auto",
    "CLERK_OFFLINE_ACCESS": True,
    "CLERK_STORE": None,
    "CLERK_STORE_KEY": None,
    "CLERK_MCP_MODE": None,  # DEFAULT_MCP_MODE; None tells a default from a choice
    "CLERK_ACCEPTED_CLIENT_IDS": None,
    "CLERK_ALLOWED_REDIRECT_URIS": DEFAULT_ALLOWED_REDIRECT_URIS,
    "CLERK_RESOURCE_NAME": None,
    "CLERK_SCOPE_IMPLIES": None,
    "CLERK_SCOPES_SUPPORTED": None,
    "CLERK_REFRESH_GRACE": 30,
    "CLERK_CIMD": True,
    "CLERK_CIMD_ALLOW_LOOPBACK": False,
}

_STORE_OPERATIONS = ("put", "add", "get", "pop", "delete")


@dataclass(frozen=True)
class BackendSpec:
    """A parsed ``CLERK_CACHE`` or ``CLERK_STORE``: what to build, checked but not yet built.

    ``kind`` is ``"default"``, ``"object"`` (``target`` is the ready object), ``"redis"``
    (``target`` is the URL), ``"filesystem"`` / ``"file"`` (``target`` is the directory) or
    ``"memory"``.
    """

    kind: str
    target: Any = None

    def __repr__(self) -> str:  # a Redis URL may carry a password
        shown = mask_url(self.target) if self.kind == "redis" else self.target
        return f"BackendSpec({self.kind!r}, {shown!r})"


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one app."""

    issuer: str
    client_id: str
    client_secret: str | None
    base_url: str
    mcp_path: str
    redirect_path: str
    required_scopes: tuple[str, ...]
    timeout: tuple[float, float]
    cache: BackendSpec
    cache_ttl: int
    login: bool | str
    offline_access: bool
    store: BackendSpec
    store_key: str | bytes | None
    mcp_mode: str
    accepted_client_ids: tuple[str, ...]
    allowed_redirect_uris: tuple[str, ...]
    resource_name: str | None
    #: ``CLERK_SCOPE_IMPLIES``, transitively closed: broad scope -> the scopes it satisfies.
    scope_implies: Implications
    #: ``CLERK_SCOPES_SUPPORTED``: what the Clerk application grants MCP clients; None = unstated.
    scopes_supported: tuple[str, ...] | None
    refresh_grace: int = 30  # seconds a just-rotated refresh token gets its new pair; 0 off
    cimd: bool = True  # accept Client ID Metadata Document (URL) client ids
    cimd_allow_loopback: bool = False  # fetch CIMD documents from loopback (dev, tests)
    mcp_mode_explicit: bool = False  # CLERK_MCP_MODE set: no fallback to direct mode

    # Clerk's endpoints, all under the issuer (reference: Clerk Frontend API paths).
    @property
    def authorization_endpoint(self) -> str:
        """Clerk's authorization endpoint."""
        return f"{self.issuer}/oauth/authorize"

    @property
    def token_endpoint(self) -> str:
        """Clerk's token endpoint (code and refresh grants)."""
        return f"{self.issuer}/oauth/token"

    @property
    def introspection_endpoint(self) -> str:
        """Clerk's RFC 7662 introspection endpoint."""
        return f"{self.issuer}/oauth/token_info"

    @property
    def userinfo_endpoint(self) -> str:
        """Clerk's OIDC userinfo endpoint."""
        return f"{self.issuer}/oauth/userinfo"

    @property
    def revocation_endpoint(self) -> str:
        """Clerk's RFC 7009 revocation endpoint."""
        return f"{self.issuer}/oauth/token/revoke"

    @property
    def registration_endpoint(self) -> str:
        """Clerk's RFC 7591 dynamic client registration endpoint."""
        return f"{self.issuer}/oauth/register"

    @property
    def mcp_resource(self) -> str:
        """The MCP endpoint's URL, byte for byte what clients call (RFC 9728 §3.3)."""
        return self.base_url + self.mcp_path

    @property
    def accepts_any_client(self) -> bool:
        """Whether ``CLERK_ACCEPTED_CLIENT_IDS`` is ``*`` (any client of the instance)."""
        return ANY_CLIENT in self.accepted_client_ids

    def __repr__(self) -> str:  # the secret and store key must never reach a log
        return (
            f"Settings(issuer={self.issuer!r}, client_id={self.client_id!r}, "
            f"base_url={self.base_url!r}, mcp_mode={self.mcp_mode!r})"
        )


def load_settings(
    config: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build ``Settings`` from ``CLERK_*`` keys; ``overrides`` use lower-case names sans prefix."""
    values: dict[str, Any] = {key: config.get(key, default) for key, default in KNOWN_KEYS.items()}
    for name, value in (overrides or {}).items():
        key = PREFIX + name.upper()
        if key not in KNOWN_KEYS:
            raise TypeError(f"unknown ClerkMCP option {name!r}")
        values[key] = value
    _warn_unknown_keys(config)

    client_id = _require_str(values, "CLERK_CLIENT_ID")
    accepted = id_list(values["CLERK_ACCEPTED_CLIENT_IDS"], "CLERK_ACCEPTED_CLIENT_IDS")
    secret = optional_text(values["CLERK_CLIENT_SECRET"], "CLERK_CLIENT_SECRET")
    if secret is None:
        warnings.warn(
            "CLERK_CLIENT_SECRET is not set: Clerk's introspection endpoint requires it, and "
            "browser login needs it; introspection will send only client_id.",
            stacklevel=3,
        )
    mode = str(values["CLERK_MCP_MODE"] or DEFAULT_MCP_MODE).strip().lower()
    if mode not in MCP_MODES:
        raise ConfigurationError(
            "CLERK_MCP_MODE",
            f"must be one of {', '.join(MCP_MODES)}, not {values['CLERK_MCP_MODE']!r}",
        )
    scopes = scope_list(values["CLERK_REQUIRED_SCOPES"], "CLERK_REQUIRED_SCOPES")

    return Settings(
        issuer=_issuer(values),
        client_id=client_id,
        client_secret=secret,
        base_url=_base_url(values["CLERK_BASE_URL"]),
        mcp_path=_path(values["CLERK_MCP_PATH"], "CLERK_MCP_PATH"),
        redirect_path=_path(values["CLERK_REDIRECT_PATH"], "CLERK_REDIRECT_PATH"),
        required_scopes=scopes,
        timeout=_timeout(values["CLERK_TIMEOUT"]),
        cache=parse_cache_spec(values["CLERK_CACHE"]),
        cache_ttl=non_negative_int(values["CLERK_CACHE_TTL"], "CLERK_CACHE_TTL"),
        login=_login_switch(values["CLERK_LOGIN"]),
        offline_access=boolean(values["CLERK_OFFLINE_ACCESS"], "CLERK_OFFLINE_ACCESS"),
        store=parse_store_spec(values["CLERK_STORE"]),
        store_key=_store_key(values["CLERK_STORE_KEY"]),
        mcp_mode=mode,
        accepted_client_ids=accepted or (client_id,),
        allowed_redirect_uris=str_list(  # compiled, and checked, by mcp.proxy_state at init_app
            values["CLERK_ALLOWED_REDIRECT_URIS"], "CLERK_ALLOWED_REDIRECT_URIS"
        ),
        resource_name=optional_text(values["CLERK_RESOURCE_NAME"], "CLERK_RESOURCE_NAME"),
        scope_implies=parse_implications(values["CLERK_SCOPE_IMPLIES"]),
        scopes_supported=parse_supported(values["CLERK_SCOPES_SUPPORTED"], scopes),
        refresh_grace=non_negative_int(
            values["CLERK_REFRESH_GRACE"], "CLERK_REFRESH_GRACE", maximum=MAX_REFRESH_GRACE
        ),
        cimd=boolean(values["CLERK_CIMD"], "CLERK_CIMD"),
        cimd_allow_loopback=boolean(
            values["CLERK_CIMD_ALLOW_LOOPBACK"], "CLERK_CIMD_ALLOW_LOOPBACK"
        ),
        mcp_mode_explicit=values["CLERK_MCP_MODE"] not in (None, ""),
    )


def _warn_unknown_keys(config: Mapping[str, Any]) -> None:
    for key in config:
        if isinstance(key, str) and key.startswith(PREFIX) and key not in KNOWN_KEYS:
            warnings.warn(
                f"{key} is not a flask-clerk-mcp setting (misspelt?); known keys: "
                + ", ".join(sorted(KNOWN_KEYS)),
                stacklevel=4,
            )


def _issuer(values: Mapping[str, Any]) -> str:
    from_key = publishable_key_host(values["CLERK_PUBLISHABLE_KEY"], "CLERK_PUBLISHABLE_KEY")
    issuer_url = values["CLERK_ISSUER_URL"]
    if issuer_url not in (None, ""):
        return absolute_url(issuer_url, "CLERK_ISSUER_URL", http_only_on_loopback=True)
    domain = values["CLERK_DOMAIN"]
    if domain in (None, "") and from_key is not None:
        return f"https://{from_key}"
    if domain in (None, ""):
        raise ConfigurationError(
            "CLERK_DOMAIN",
            "is required (your Clerk Frontend API host, e.g. 'example-app-16.clerk.accounts.dev'),"
            " unless CLERK_PUBLISHABLE_KEY or CLERK_ISSUER_URL is set",
        )
    if not isinstance(domain, str):
        raise ConfigurationError("CLERK_DOMAIN", "must be a string")
    domain = domain.strip()
    if "://" in domain or "/" in domain:
        raise ConfigurationError(
            "CLERK_DOMAIN",
            f"must be a bare host name without scheme or path, not {domain!r}; "
            "use CLERK_ISSUER_URL for a full URL",
        )
    if not is_host_name(domain):
        raise ConfigurationError("CLERK_DOMAIN", f"{domain!r} is not a valid host name")
    if from_key is not None and from_key != domain.lower():
        raise ConfigurationError(
            "CLERK_PUBLISHABLE_KEY",
            f"names {from_key!r} but CLERK_DOMAIN is {domain!r}: set only one of them",
        )
    return f"https://{domain.lower()}"


def _base_url(value: Any) -> str:
    if value in (None, ""):
        raise ConfigurationError(
            "CLERK_BASE_URL",
            "is required: the public URL of this server, e.g. 'https://mcp.example.com'",
        )
    return absolute_url(value, "CLERK_BASE_URL", http_only_on_loopback=False)


def _path(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise ConfigurationError(key, f"must be a path starting with '/', not {value!r}")
    if any(ch in value for ch in "?#\\ ") or ".." in value:
        raise ConfigurationError(key, f"must be a plain path, not {value!r}")
    if "//" in value:
        raise ConfigurationError(key, f"must be a plain path, not {value!r}")
    return value  # as given: a trailing slash is part of the URL clients call


def _require_str(values: Mapping[str, Any], key: str) -> str:
    value = optional_text(values[key], key)
    if value is None:
        raise ConfigurationError(key, "is required (your Clerk OAuth application's client id)")
    return value


def _store_key(value: Any) -> str | bytes | None:
    """``CLERK_STORE_KEY``: text or bytes, long enough to be a secret; None falls back to
    ``SECRET_KEY``. ``True`` or ``1`` (``from_prefixed_env``'s reading of ``true`` and ``1``)
    would otherwise become a key everyone knows."""
    if value is None or value == "":
        return None
    if not isinstance(value, (str, bytes)):
        raise ConfigurationError(
            "CLERK_STORE_KEY",
            f"must be text or bytes, not {type(value).__name__} (from_prefixed_env reads "
            "true, numbers and lists as JSON: use a long random string)",
        )
    if len(value.strip()) < MIN_STORE_KEY_LENGTH:
        raise ConfigurationError(
            "CLERK_STORE_KEY",
            f"must be at least {MIN_STORE_KEY_LENGTH} characters of secret material, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return value


def parse_cache_spec(value: Any) -> BackendSpec:
    """``CLERK_CACHE``: None, a cachelib cache, ``"redis://..."`` or ``"filesystem:PATH"``."""
    from cachelib import BaseCache

    if value is None:
        return BackendSpec("default")
    if isinstance(value, BackendSpec):
        return value
    if isinstance(value, BaseCache):
        return BackendSpec("object", value)
    if is_redis_url(value):
        return BackendSpec("redis", check_redis_url(value, "CLERK_CACHE"))
    if isinstance(value, str) and value.startswith("filesystem:") and value[11:].strip():
        return BackendSpec("filesystem", os.path.expanduser(value[11:]))
    kind = value.split(":", 1)[0] + ":..." if isinstance(value, str) else type(value).__name__
    raise ConfigurationError(
        "CLERK_CACHE",
        f"must be a cachelib cache, 'redis://...' or 'filesystem:PATH', not {kind!r}",
    )


def parse_store_spec(value: Any) -> BackendSpec:
    """``CLERK_STORE``: None, ``"redis://..."``, ``"file:PATH"``, ``"memory:"`` or an object
    with the store's five operations."""
    if value is None:
        return BackendSpec("default")
    if isinstance(value, BackendSpec):
        return value
    if isinstance(value, str):
        if is_redis_url(value):
            return BackendSpec("redis", check_redis_url(value, "CLERK_STORE"))
        if value.startswith("file:") and value[5:].strip():
            return BackendSpec("file", os.path.expanduser(value[5:]))
        if value == "memory:":
            return BackendSpec("memory")
        kind = value.split(":", 1)[0] + ":..." if ":" in value else "a plain string"
        raise ConfigurationError(
            "CLERK_STORE",
            "must be 'redis://...', 'rediss://...', 'unix://...', 'file:PATH', 'memory:' "
            f"or a store object, not {kind!r}",
        )
    if all(callable(getattr(value, name, None)) for name in _STORE_OPERATIONS):
        return BackendSpec("object", value)
    raise ConfigurationError(
        "CLERK_STORE",
        "must be a URL, 'file:PATH' or an object with put/add/get/pop/delete, "
        f"not {type(value).__name__}",
    )


def _timeout(value: Any) -> tuple[float, float]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigurationError("CLERK_TIMEOUT", "must be a number or a (connect, read) pair")
        return (number(value[0], "CLERK_TIMEOUT"), number(value[1], "CLERK_TIMEOUT"))
    if isinstance(value, str) and re.search(r"[\s,]", value.strip()):
        return _timeout(re.split(r"[\s,]+", value.strip()))
    seconds = number(value, "CLERK_TIMEOUT")
    return (seconds, seconds)


def _login_switch(value: Any) -> bool | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return boolean(value, "CLERK_LOGIN")
    except ConfigurationError:
        raise ConfigurationError(
            "CLERK_LOGIN", f"must be 'auto', true or false, not {value!r}"
        ) from None
