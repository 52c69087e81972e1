"""Redirect-URI rules shared by dynamic registration, CIMD documents and the authorize step.

A redirect URI is where the browser carries an authorization code; a loose rule hands codes
to an attacker. ``parse_redirect_uri`` requires:

- at most 2000 RFC 3986 characters (no spaces, controls, backslashes, non-ASCII), valid
  percent-escapes; absolute; never ``javascript:``, ``data:``, ``file:``, ``vbscript:``,
  ``blob:``, ``about:``, ``filesystem:``, ``view-source:``, whatever the configuration says;
- no userinfo (``user@host`` is a phishing shape), no fragment (RFC 6749 §3.1.2), no
  ``.``/``..`` segments, percent-encoded ones included, no encoded ``/``, ``\\`` or controls
  in the path (some servers decode before normalising);
- http(s) has a host; ``http`` only on loopback (``localhost``, 127/8, ``[::1]``); hosts are
  not percent-encoded and not non-canonical IPv4 (``http://2130706433/`` is 127.0.0.1);
- **IDN**: hosts are ASCII; an internationalised name is written (and shown on the consent
  page) as its A-label, ``xn--...``. Exact matching is string comparison, and Unicode hosts
  have several spellings (IDNA 2003/2008, UTS 46) and homographs;
- the query holds none of the response's parameters (``code``, ``state``, ``iss``, ...).

Private-use schemes (``com.example.app:/cb``, RFC 8252) pass the structure but need a pattern.

**Patterns** (``CLERK_ALLOWED_REDIRECT_URIS``, default loopback any port) are redirect URIs
in which ``*`` may only be a whole port: ``http://localhost:*`` (that scheme and host, any
port, any path); ``https://app.example.com`` (no path: that origin without explicit port, any
path); ``https://app.example.com/cb`` or ``http://localhost:*/cb`` (a path: exactly that path
and query). Scheme and host compare case-insensitively, the rest exactly.

**At authorize** (``redirect_uri_matches``) the requested URI equals a registered one string
for string (the MCP MUST), except that a loopback ``http`` port may vary (RFC 8252 §7.3).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from ..errors import ConfigurationError
from .oauth_errors import OAuthError

RedirectErrorCode = Literal[
    "invalid_redirect_uri", "invalid_request", "invalid_client_metadata", "invalid_client"
]

#: The default of ``CLERK_ALLOWED_REDIRECT_URIS``: loopback callbacks of native MCP clients.
DEFAULT_ALLOWED_REDIRECT_URIS: tuple[str, ...] = (
    "http://localhost:*",
    "http://127.0.0.1:*",
    "http://[::1]:*",
)

#: Schemes that run code or read local data in the browser: never a redirect target.
FORBIDDEN_SCHEMES = frozenset(
    {"javascript", "data", "file", "vbscript", "blob", "about", "filesystem", "view-source"}
)

#: Parameters an authorization response adds to the redirect URI.
RESPONSE_PARAMETERS = frozenset({"code", "state", "iss", "error", "error_description", "error_uri"})

MAX_LENGTH = 2000

_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,61}[A-Za-z0-9_])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_NUMERIC_LABEL = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)")
_ENCODED_DOT = re.compile(r"%2[eE]")
_ENCODED_FORBIDDEN = re.compile(r"%(?:2[fF]|5[cC]|[01][0-9A-Fa-f]|7[fF])")


_Fail = Callable[[str], "RedirectURIError"]


class RedirectURIError(OAuthError):
    """A redirect URI broke a rule. ``error`` is the code for where it was checked:
    ``invalid_redirect_uri`` at registration (RFC 7591), ``invalid_request`` at authorize."""

    def __init__(self, description: str, *, error: RedirectErrorCode = "invalid_redirect_uri"):
        super().__init__(error, description)


@dataclass(frozen=True)
class RedirectURI:
    """A redirect URI that passed ``parse_redirect_uri``; ``uri`` is exactly the input.

    ``scheme`` and ``host`` are lower-cased (``host`` keeps an IPv6 literal's brackets and is
    empty for a private-use scheme without an authority); ``port`` is None when not written.
    ``written_host`` and ``target`` (path and query) are exactly as written, for matching.
    """

    uri: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    loopback: bool
    written_host: str = ""
    target: str = ""

    @property
    def web(self) -> bool:
        """An http(s) URI, as opposed to a private-use scheme."""
        return self.scheme in ("http", "https")


def parse_redirect_uri(
    uri: object, *, error: RedirectErrorCode = "invalid_redirect_uri"
) -> RedirectURI:
    """Check ``uri`` against the structural rules above; raise ``RedirectURIError`` if not."""

    def fail(why: str) -> RedirectURIError:
        return RedirectURIError(f"redirect URI {why}", error=error)

    if not isinstance(uri, str):
        raise fail("must be a string")
    if not uri or len(uri) > MAX_LENGTH:
        raise fail(f"must be 1 to {MAX_LENGTH} characters")
    if not _URI_CHARS.fullmatch(uri):
        raise fail("holds characters a URI may not (spaces, controls, backslashes, non-ASCII)")
    if _BAD_ESCAPE.search(uri):
        raise fail("holds a malformed percent-escape")
    scheme_match = _SCHEME.match(uri)
    if scheme_match is None:
        raise fail("must be absolute (scheme:...)")
    scheme = scheme_match.group(1).lower()
    if scheme in FORBIDDEN_SCHEMES:
        raise fail(f"may not use the {scheme}: scheme")
    if "#" in uri:
        raise fail("may not contain a fragment")
    rest = uri[scheme_match.end() :]
    path_query = rest
    host, port, loopback = "", None, False
    if rest.startswith("//"):
        authority_end = len(rest)
        for stop in "/?":
            found = rest.find(stop, 2)
            if found != -1:
                authority_end = min(authority_end, found)
        authority = rest[2:authority_end]
        path_query = rest[authority_end:]
        if "@" in authority:
            raise fail("may not contain userinfo (user@host)")
        host, port = _split_authority(authority, fail)
        loopback = _is_loopback(host)
    elif scheme in ("http", "https"):
        raise fail("must have a host (scheme://host/...)")
    path, _, query = path_query.partition("?")
    if scheme in ("http", "https"):
        if not host:
            raise fail("must have a host")
        if scheme == "http" and not loopback:
            raise fail("may use http only for a loopback host (localhost, 127.0.0.1, [::1])")
    for segment in path.split("/"):
        if _ENCODED_DOT.sub(".", segment) in (".", ".."):
            raise fail("may not contain '.' or '..' path segments")
        if _ENCODED_FORBIDDEN.search(segment):
            raise fail("may not contain encoded slashes, backslashes or controls in its path")
    names = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
    clash = sorted(names & RESPONSE_PARAMETERS)
    if clash:
        raise fail(f"may not already carry the response parameter {clash[0]!r}")
    return RedirectURI(uri, scheme, host.lower(), port, path, query, loopback, host, path_query)


def _split_authority(authority: str, fail: _Fail) -> tuple[str, int | None]:
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise fail("has an unclosed IPv6 literal")
        host, after = authority[: close + 1], authority[close + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])  # refuses IPvFuture
        except ValueError:
            raise fail("has an invalid IPv6 literal") from None
        if "%" in host:
            raise fail("has an IPv6 zone id, which is local to one machine")
        if after and not after.startswith(":"):
            raise fail("has junk after its IPv6 literal")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
        _check_name(host, fail)
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise fail("has an invalid port (1-65535, no leading zeros)")
    return host, int(port_text)


def _check_name(host: str, fail: _Fail) -> None:
    if not host:
        return  # "scheme:///path": the caller refuses a missing host for http(s)
    if "%" in host:
        raise fail("may not percent-encode its host")
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise fail("has an invalid host name (ASCII letters, digits, '-'; IDNs as xn-- A-labels)")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            canonical = str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            canonical = False
        if not canonical:
            raise fail("has a host that is not a canonical dotted IPv4 address")


def _is_loopback(host: str) -> bool:
    name = host.lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
    except ValueError:
        return False
    return address.is_loopback


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """True when ``requested`` may stand for ``registered`` at the authorization endpoint.

    Equal strings match. Otherwise only a loopback ``http`` URI matches, and only when scheme,
    host, path and query are written identically and only the port differs (RFC 8252 §7.3).
    """
    if registered == requested:
        return True
    try:
        want = parse_redirect_uri(registered)
        got = parse_redirect_uri(requested)
    except RedirectURIError:
        return False
    if not (want.scheme == "http" and want.loopback and got.loopback):
        return False
    return (  # scheme, host, path and query exactly as written: only the port may differ
        want.uri.partition(":")[0] == got.uri.partition(":")[0]
        and want.written_host == got.written_host
        and want.target == got.target
    )


@dataclass(frozen=True)
class _Pattern:
    scheme: str
    host: str
    port: int | Literal["*"] | None
    exact: str | None  # the target (or, private-use scheme, the URI) when the pattern has a path

    def allows(self, uri: RedirectURI) -> bool:
        if self.exact is not None:
            if not uri.web:
                return uri.uri == self.exact
            return uri.target == self.exact and self._origin_allows(uri)
        return self._origin_allows(uri)

    def _origin_allows(self, uri: RedirectURI) -> bool:
        if uri.scheme != self.scheme or uri.host != self.host:
            return False
        return self.port == "*" or uri.port == self.port


class RedirectRules:
    """Which redirect URIs a client may register: the compiled allowed patterns.

    ``RedirectRules(patterns)`` compiles ``CLERK_ALLOWED_REDIRECT_URIS`` (a bad pattern is a
    ``ConfigurationError`` naming ``key``); ``RedirectRules.web()`` allows any URI that passes
    the structural rules and is https, or http on loopback, which is the rule for CIMD
    documents, whose redirect URIs are vouched for by the https origin serving them.
    """

    def __init__(
        self,
        patterns: Iterable[str] = DEFAULT_ALLOWED_REDIRECT_URIS,
        *,
        key: str = "CLERK_ALLOWED_REDIRECT_URIS",
    ) -> None:
        if isinstance(patterns, str):
            raise ConfigurationError(key, "must be a list of patterns, not one string")
        self._key = key
        self.patterns: tuple[str, ...] | None = tuple(patterns)
        self._compiled = tuple(self._compile(p) for p in self.patterns)

    @classmethod
    def web(cls) -> RedirectRules:
        """Any structurally valid https URI or loopback http URI; no private-use schemes."""
        rules = cls(())
        rules.patterns = None
        return rules

    def allows(self, uri: RedirectURI) -> bool:
        """Whether a parsed URI is allowed by these rules."""
        if self.patterns is None:
            return uri.web
        return any(pattern.allows(uri) for pattern in self._compiled)

    def check(
        self, uri: object, *, error: RedirectErrorCode = "invalid_redirect_uri"
    ) -> RedirectURI:
        """Parse ``uri`` and require an allowing pattern; ``RedirectURIError`` otherwise."""
        parsed = parse_redirect_uri(uri, error=error)
        if not self.allows(parsed):
            raise RedirectURIError(
                "redirect URI is not allowed by this server's redirect URI policy", error=error
            )
        return parsed

    def _compile(self, pattern: object) -> _Pattern:
        if not isinstance(pattern, str) or not pattern:
            raise ConfigurationError(self._key, "every pattern is a non-empty string")
        wildcard = re.search(r"(?<=[^/]):\*(?=$|[/?])", pattern)
        text = pattern[: wildcard.start()] + pattern[wildcard.end() :] if wildcard else pattern
        if "*" in text:
            raise ConfigurationError(
                self._key, f"{pattern!r}: '*' is allowed only as a whole port, as in host:*"
            )
        try:
            parsed = parse_redirect_uri(text)
        except RedirectURIError as exc:
            raise ConfigurationError(self._key, f"{pattern!r}: {exc.description}") from None
        if wildcard and not parsed.web:
            raise ConfigurationError(self._key, f"{pattern!r}: a port wildcard needs http(s)")
        if wildcard and parsed.port is not None:
            raise ConfigurationError(self._key, f"{pattern!r}: two ports")
        port: int | Literal["*"] | None = "*" if wildcard else parsed.port
        exact = (parsed.target or None) if parsed.web else text
        return _Pattern(parsed.scheme, parsed.host, port, exact)

    def __repr__(self) -> str:
        return f"RedirectRules({'web' if self.patterns is None else list(self.patterns)})"
