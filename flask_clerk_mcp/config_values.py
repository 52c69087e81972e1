"""Coercion of single config values, the way ``app.config`` and ``from_prefixed_env`` deliver them.

Lists take a list or a space- or comma-separated string; numbers take an int or a numeric
string; booleans take the usual words; ids and secrets are always text, even when
``from_prefixed_env`` read them as JSON numbers. Every error is a ``ConfigurationError`` naming
the key. Knows nothing of Flask; the key-specific rules are in ``settings``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::\d{{1,5}})?$")
#: ``pk_test_``/``pk_live_`` + base64 of the Frontend API host and a ``$``.
_PUBLISHABLE_KEY_RE = re.compile(r"^pk_(?:test|live)_([A-Za-z0-9+/=_-]+)$")


def choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, compared without case or surrounding blanks."""
    picked = value.strip().lower() if isinstance(value, str) else None
    if picked not in choices:
        raise ConfigurationError(key, f"must be one of {', '.join(choices)}, not {value!r}")
    return picked


def optional_text(value: Any, key: str) -> str | None:
    """A text value (ids, secrets, names); a JSON number from ``from_prefixed_env`` is read
    back as it was spelt in the environment (see ``env_spelling``)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigurationError(key, f"must be a string, not {type(value).__name__}")
    if not isinstance(value, str):
        value = number_as_text(value, key)
    return value.strip() or None


def number_as_text(value: int | float, key: str) -> str:
    """A number meant as text (an id): its spelling from the environment, else an int's digits."""
    spelt = env_spelling(key, value)
    if isinstance(spelt, str):
        return spelt
    if isinstance(value, int):
        return str(value)
    raise ConfigurationError(
        key,
        # The value is not repeated: the key may hold a secret (CLERK_CLIENT_SECRET).
        "must be a string, not a number: from_prefixed_env reads a value such "
        "as 1e5 as a JSON number and its spelling is lost; set it from Python or quote it "
        "in the environment ('\"1e5\"')",
    )


def env_spelling(key: str, value: Any) -> Any:
    """``value`` as spelt in the environment variable it came from, numbers kept as text.

    ``app.config.from_prefixed_env()`` parses ``FLASK_CLERK_CLIENT_ID=1e5`` as JSON, turning
    an id into the float ``100000.0``. Ids are strings, so the variable (``<PREFIX>_<key>``)
    whose JSON reading is exactly ``value`` is read again with numbers left as written.
    None when no single variable matches.
    """
    wanted = json.dumps(value, sort_keys=True)
    spellings = set()
    for name, raw in os.environ.items():
        if name != key and not name.endswith("_" + key):
            continue
        try:
            if json.dumps(json.loads(raw), sort_keys=True) != wanted:
                continue
            spelt = json.loads(raw, parse_int=str, parse_float=str)
        except (ValueError, RecursionError):
            continue
        spellings.add(json.dumps(spelt))
    return json.loads(spellings.pop()) if len(spellings) == 1 else None


def id_list(value: Any, key: str) -> tuple[str, ...]:
    """Client ids: a list, or one string of ids; numbers are ids too (see ``env_spelling``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (number_as_text(value, key),)
    if isinstance(value, list) and any(isinstance(v, float) for v in value):
        spelt = env_spelling(key, value)
        if isinstance(spelt, list):
            value = spelt
        else:
            bad = next(v for v in value if isinstance(v, float))
            number_as_text(bad, key)  # raises, naming the key
    return str_list(value, key)


def str_list(value: Any, key: str) -> tuple[str, ...]:
    """A list, or a space- or comma-separated string, as a tuple of unique strings."""
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


def number(value: Any, key: str) -> float:
    """A positive finite number (int, float or numeric string)."""
    if isinstance(value, bool):
        raise ConfigurationError(key, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(key, f"must be a number, not {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ConfigurationError(key, f"must be a positive number, not {value!r}")
    return number


def non_negative_int(value: Any, key: str, *, maximum: int | None = None) -> int:
    """A whole number of seconds >= 0 (int or numeric string), at most ``maximum`` if given."""
    if isinstance(value, bool):
        raise ConfigurationError(key, "must be a whole number of seconds")
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(key, f"must be a whole number of seconds, not {value!r}") from None
    if number < 0 or (isinstance(value, float) and value != number):
        raise ConfigurationError(key, f"must be a whole number of seconds >= 0, not {value!r}")
    if maximum is not None and number > maximum:
        raise ConfigurationError(key, f"must be at most {maximum} seconds, not {number}")
    return number


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def boolean(value: Any, key: str) -> bool:
    """True/False from a bool, 0/1, or the usual words (true/false, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(key, f"must be true or false, not {value!r}")


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` is localhost (or a subdomain of it) or a loopback IP address."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def absolute_url(value: Any, key: str, *, http_only_on_loopback: bool) -> str:
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


def is_host_name(text: str) -> bool:
    """Whether ``text`` is a DNS host name, with an optional port (no scheme, no path)."""
    return bool(_HOST_RE.match(text))


def publishable_key_host(value: Any, key: str) -> str | None:
    """The Frontend API host a Clerk publishable key encodes, or None when it is not set.

    A key is ``pk_test_`` or ``pk_live_`` then base64 of the host followed by ``$`` (what
    Clerk's own SDKs decode); anything else is a ``ConfigurationError`` naming ``key``.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(key, f"must be a string, not {type(value).__name__}")
    problem = "is not a Clerk publishable key (pk_test_... or pk_live_... from the dashboard)"
    match = _PUBLISHABLE_KEY_RE.match(value.strip())
    if match is None:
        raise ConfigurationError(key, problem)
    encoded = match.group(1).rstrip("=").replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        text = decoded.decode("ascii")
    except (binascii.Error, ValueError):
        raise ConfigurationError(key, problem) from None
    host = text[:-1].lower()
    if not text.endswith("$") or not is_host_name(host):
        raise ConfigurationError(key, problem + ": it does not encode a host name")
    return host
