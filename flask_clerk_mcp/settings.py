"""Settings: read every ``CLERK_*`` key once, coerce it, and fail early naming the key.

Knows nothing of Flask: ``load_settings`` takes any mapping (``app.config`` in practice) so the
same rules serve the extension, the CLI and tests.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

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

#: Every key this extension reads, with its default (``None``: no default / required).
KNOWN_KEYS: dict[str, Any] = {
    "CLERK_DOMAIN": None,
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
    "CLERK_MCP_MODE": "proxy",
    "CLERK_ACCEPTED_CLIENT_IDS": None,
    "CLERK_ALLOWED_REDIRECT_URIS": DEFAULT_ALLOWED_REDIRECT_URIS,
    "CLERK_RESOURCE_NAME": None,
}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::\d{{1,5}})?$")
_SCOPE_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token


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
    cache: Any
    cache_ttl: int
    login: bool | str
    offline_access: bool
    store: Any
    store_key: str | bytes | None
    mcp_mode: str
    accepted_client_ids: tuple[str, ...]
    allowed_redirect_uris: tuple[str, ...]
    resource_name: str | None

    # Clerk's endpoints, all under the issuer (reference: Clerk Frontend API paths).
    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/oauth/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token"

    @property
    def introspection_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token_info"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/oauth/userinfo"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.issuer}/oauth/token/revoke"

    @property
    def registration_endpoint(self) -> str:
        return f"{self.issuer}/oauth/register"

    @property
    def mcp_resource(self) -> str:
        """The MCP endpoint's URL, byte for byte what clients call (RFC 9728 §3.3)."""
        return self.base_url + self.mcp_path

    @property
    def accepts_any_client(self) -> bool:
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
    accepted = _str_list(values["CLERK_ACCEPTED_CLIENT_IDS"], "CLERK_ACCEPTED_CLIENT_IDS")
    secret = _optional_str(values["CLERK_CLIENT_SECRET"], "CLERK_CLIENT_SECRET")
    if secret is None:
        warnings.warn(
            "CLERK_CLIENT_SECRET is not set: Clerk's introspection endpoint requires it, and "
            "browser login needs it; introspection will send only client_id.",
            stacklevel=3,
        )
    mode = str(values["CLERK_MCP_MODE"]).strip().lower()
    if mode not in MCP_MODES:
        raise ConfigurationError(
            "CLERK_MCP_MODE",
            f"must be one of {', '.join(MCP_MODES)}, not {values['CLERK_MCP_MODE']!r}",
        )
    scopes = _str_list(values["CLERK_REQUIRED_SCOPES"], "CLERK_REQUIRED_SCOPES")
    for scope in scopes:
        if not _SCOPE_RE.match(scope):
            raise ConfigurationError("CLERK_REQUIRED_SCOPES", f"{scope!r} is not a valid scope")

    return Settings(
        issuer=_issuer(values),
        client_id=client_id,
        client_secret=secret,
        base_url=_base_url(values["CLERK_BASE_URL"]),
        mcp_path=_path(values["CLERK_MCP_PATH"], "CLERK_MCP_PATH"),
        redirect_path=_path(values["CLERK_REDIRECT_PATH"], "CLERK_REDIRECT_PATH"),
        required_scopes=scopes,
        timeout=_timeout(values["CLERK_TIMEOUT"]),
        cache=values["CLERK_CACHE"],
        cache_ttl=_non_negative_int(values["CLERK_CACHE_TTL"], "CLERK_CACHE_TTL"),
        login=_login_switch(values["CLERK_LOGIN"]),
        offline_access=_bool(values["CLERK_OFFLINE_ACCESS"], "CLERK_OFFLINE_ACCESS"),
        store=values["CLERK_STORE"],
        store_key=values["CLERK_STORE_KEY"],
        mcp_mode=mode,
        accepted_client_ids=accepted or (client_id,),
        allowed_redirect_uris=_str_list(
            values["CLERK_ALLOWED_REDIRECT_URIS"], "CLERK_ALLOWED_REDIRECT_URIS"
        ),
        resource_name=_optional_str(values["CLERK_RESOURCE_NAME"], "CLERK_RESOURCE_NAME"),
    )


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _warn_unknown_keys(config: Mapping[str, Any]) -> None:
    for key in config:
        if isinstance(key, str) and key.startswith(PREFIX) and key not in KNOWN_KEYS:
            warnings.warn(
                f"{key} is not a flask-clerk-mcp setting (misspelt?); known keys: "
                + ", ".join(sorted(KNOWN_KEYS)),
                stacklevel=4,
            )


def _issuer(values: Mapping[str, Any]) -> str:
    issuer_url = values["CLERK_ISSUER_URL"]
    if issuer_url not in (None, ""):
        return _url(issuer_url, "CLERK_ISSUER_URL", http_only_on_loopback=True)
    domain = values["CLERK_DOMAIN"]
    if domain in (None, ""):
        raise ConfigurationError(
            "CLERK_DOMAIN",
            "is required (your Clerk Frontend API host, e.g. 'example-app-16.clerk.accounts.dev'),"
            " unless CLERK_ISSUER_URL is set",
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
    if not _DOMAIN_RE.match(domain):
        raise ConfigurationError("CLERK_DOMAIN", f"{domain!r} is not a valid host name")
    return f"https://{domain.lower()}"


def _url(value: Any, key: str, *, http_only_on_loopback: bool) -> str:
    """An absolute http(s) URL without query, fragment or trailing slash."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(key, "must be a URL string")
    try:
        parts = urlsplit(value.strip())
        hostname = parts.hostname
        _ = parts.port  # raises on a bad port
    except ValueError as exc:
        raise ConfigurationError(key, f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigurationError(key, f"must be an absolute http(s) URL, not {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(key, "must not carry a query, fragment or credentials")
    if http_only_on_loopback and parts.scheme == "http" and not is_loopback_host(hostname):
        raise ConfigurationError(
            key, f"plain http is allowed only for loopback hosts, not {hostname!r}; use https"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _base_url(value: Any) -> str:
    if value in (None, ""):
        raise ConfigurationError(
            "CLERK_BASE_URL",
            "is required: the public URL of this server, e.g. 'https://mcp.example.com'",
        )
    return _url(value, "CLERK_BASE_URL", http_only_on_loopback=False)


def _path(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise ConfigurationError(key, f"must be a path starting with '/', not {value!r}")
    if any(ch in value for ch in "?#\\ ") or ".." in value:
        raise ConfigurationError(key, f"must be a plain path, not {value!r}")
    return value.rstrip("/") or "/"


def _require_str(values: Mapping[str, Any], key: str) -> str:
    value = _optional_str(values[key], key)
    if value is None:
        raise ConfigurationError(key, "is required (your Clerk OAuth application's client id)")
    return value


def _optional_str(value: Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigurationError(key, f"must be a string, not {type(value).__name__}")
    return str(value).strip() or None  # from_prefixed_env turns "12345" into an int


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = re.split(r"[\s,]+", value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise ConfigurationError(key, f"items must be strings, not {type(item).__name__}")
            items.append(str(item))
    else:
        raise ConfigurationError(key, "must be a list or a space- or comma-separated string")
    seen: dict[str, None] = {}
    for item in items:
        if item.strip():
            seen.setdefault(item.strip(), None)
    return tuple(seen)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(key, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(key, f"must be a number, not {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ConfigurationError(key, f"must be a positive number, not {value!r}")
    return number


def _timeout(value: Any) -> tuple[float, float]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigurationError("CLERK_TIMEOUT", "must be a number or a (connect, read) pair")
        return (_number(value[0], "CLERK_TIMEOUT"), _number(value[1], "CLERK_TIMEOUT"))
    if isinstance(value, str) and re.search(r"[\s,]", value.strip()):
        return _timeout(re.split(r"[\s,]+", value.strip()))
    seconds = _number(value, "CLERK_TIMEOUT")
    return (seconds, seconds)


def _non_negative_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigurationError(key, "must be a whole number of seconds")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(key, f"must be a whole number of seconds, not {value!r}") from None
    if number < 0 or (isinstance(value, float) and value != number):
        raise ConfigurationError(key, f"must be a whole number of seconds >= 0, not {value!r}")
    return number


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(key, f"must be true or false, not {value!r}")


def _login_switch(value: Any) -> bool | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return _bool(value, "CLERK_LOGIN")
    except ConfigurationError:
        raise ConfigurationError(
            "CLERK_LOGIN", f"must be 'auto', true or false, not {value!r}"
        ) from None
