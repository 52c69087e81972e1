"""Scope rules shared by every check: syntax, the hierarchy, and what a challenge may name.

One room so the decorator, ``require_scopes``, the browser login and the challenges cannot
disagree on what a token's scopes satisfy. Knows nothing of Flask.

The hierarchy (``CLERK_SCOPE_IMPLIES``, the MCP spec's "MUST account for scope hierarchies")
maps a broad scope to the narrower ones it implies. It is expanded **transitively** once, at
``init_app``: ``{"notes": ["notes:write"], "notes:write": ["notes:append"]}`` lets ``notes``
satisfy ``notes:append`` too. A cycle (``a`` implies ``b``, ``b`` implies ``a``) is accepted and
means the scopes are equivalent; the closure stops where nothing new is reached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .config_values import str_list
from .errors import ConfigurationError, InsufficientScope
from .tokens import AccessToken

#: RFC 6749 §3.3 scope-token: printable ASCII without space, ``"`` or ``\\``.
SCOPE_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
#: MCP 2026-07-28: servers SHOULD NOT name it in challenges or ``scopes_supported``.
NEVER_ADVERTISED = frozenset({"offline_access"})

#: A transitively closed hierarchy: broad scope -> every scope it implies (itself excluded).
Implications = Mapping[str, frozenset[str]]
NO_IMPLICATIONS: Implications = MappingProxyType({})


def split_scopes(scopes: Iterable[str] | str | None) -> tuple[str, ...]:
    """Scopes given as one space-separated string or as strings (each may hold several)."""
    if scopes is None:
        return ()
    items = [scopes] if isinstance(scopes, str) else list(scopes)
    return tuple(dict.fromkeys(s for item in items for s in item.split()))


def expand(granted: Iterable[str], implies: Implications) -> frozenset[str]:
    """What ``granted`` satisfies: the scopes themselves and everything they imply."""
    granted = frozenset(granted)
    return granted.union(*(implies.get(scope, ()) for scope in granted))


def missing(
    granted: Iterable[str], needed: Iterable[str], implies: Implications
) -> tuple[str, ...]:
    """The scopes of ``needed`` that ``granted`` does not satisfy, in ``needed``'s order."""
    satisfied = expand(granted, implies)
    return tuple(s for s in dict.fromkeys(needed) if s not in satisfied)


def advertised(scopes: Iterable[str]) -> tuple[str, ...]:
    """``scopes`` without the ones never advertised (``offline_access``)."""
    return tuple(s for s in dict.fromkeys(scopes) if s not in NEVER_ADVERTISED)


def challenge_scopes(
    needed: Iterable[str], grantable: tuple[str, ...] | None, implies: Implications
) -> tuple[str, ...]:
    """What a challenge names so that the client's (re-)authorization can succeed at Clerk.

    ``offline_access`` never. With ``grantable`` (``CLERK_SCOPES_SUPPORTED``) known, a needed
    scope the Clerk application does not grant is replaced by a grantable broad scope that
    implies it, or left out: asking Clerk for it would fail the whole login (``invalid_scope``)
    and with it every operation the other scopes allow.
    """
    named: list[str] = []
    for scope in advertised(needed):
        if grantable is None or scope in grantable:
            named.append(scope)
            continue
        broad = next((b for b in grantable if scope in implies.get(b, ())), None)
        if broad is not None:
            named.append(broad)
    return advertised(named)


def scope_list(value: Any, key: str) -> tuple[str, ...]:
    """A config value of scopes (a list, or a space- or comma-separated string), each checked
    against RFC 6749's syntax; else ``ConfigurationError`` naming ``key`` and the bad scope."""
    scopes = str_list(value, key)
    for scope in scopes:
        if not SCOPE_RE.match(scope):
            raise ConfigurationError(key, f"{scope!r} is not a valid scope")
    return scopes


def parse_implications(value: Any, key: str = "CLERK_SCOPE_IMPLIES") -> Implications:
    """``CLERK_SCOPE_IMPLIES``: a mapping (or its JSON text, as an environment variable holds
    it) of a broad scope to the scopes it implies, as a list or a space-separated string.

    Returns the transitive closure; None or empty turns the hierarchy off.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return NO_IMPLICATIONS
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigurationError(
                key, 'must be a mapping or its JSON text, e.g. {"notes": ["notes:read"]}'
            ) from None
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            key,
            f"must be a mapping of a scope to the scopes it implies, not {type(value).__name__}",
        )
    direct: dict[str, frozenset[str]] = {}
    for broad, narrow in value.items():
        if not isinstance(broad, str) or not SCOPE_RE.match(broad):
            raise ConfigurationError(key, f"{broad!r} is not a valid scope")
        if isinstance(narrow, str):
            narrow = narrow.split()
        if not isinstance(narrow, (list, tuple)) or not all(isinstance(s, str) for s in narrow):
            raise ConfigurationError(
                key, f"{broad!r} must imply a list of scopes, not {type(narrow).__name__}"
            )
        direct[broad] = frozenset(scope_list(split_scopes(narrow), key)) - {broad}
    return MappingProxyType({broad: _closure(broad, direct) for broad in direct})


def _closure(start: str, direct: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """Everything reachable from ``start``; a visited set makes cycles harmless."""
    seen: set[str] = set()
    todo = list(direct.get(start, ()))
    while todo:
        scope = todo.pop()
        if scope not in seen:
            seen.add(scope)
            todo.extend(direct.get(scope, ()))
    return frozenset(seen - {start})


def parse_supported(value: Any, required: tuple[str, ...]) -> tuple[str, ...] | None:
    """``CLERK_SCOPES_SUPPORTED``: the scopes the Clerk application grants MCP clients, or None
    when unstated. ``offline_access`` is dropped (never advertised); every required scope must
    be in it, or no client could ever get a token that passes."""
    key = "CLERK_SCOPES_SUPPORTED"
    if value is None:
        return None
    scopes = scope_list(value, key)
    absent = [s for s in required if s not in scopes and s not in NEVER_ADVERTISED]
    if absent:
        raise ConfigurationError(
            key, f"lacks {' '.join(absent)}, which CLERK_REQUIRED_SCOPES demands of every token"
        )
    return advertised(scopes)


def check_scopes(
    token: AccessToken, needed: Iterable[str], implies: Implications = NO_IMPLICATIONS
) -> None:
    """Raise ``InsufficientScope`` naming every scope the operation needs, if any is missing.

    The one scope check (the decorator, ``require_scopes`` and the login all come here): a
    granted broad scope satisfies the narrow ones ``implies`` (``CLERK_SCOPE_IMPLIES``) names.
    """
    needed = tuple(dict.fromkeys(needed))
    absent = missing(token.scopes, needed, implies)
    if absent:
        refusal = InsufficientScope(
            "The access token lacks the required scope(s): " + " ".join(absent), needed
        )
        refusal.client_id = token.client_id or None
        raise refusal
