"""A client's metadata as the proxy keeps it, and the validation DCR and CIMD share.

A registration request (RFC 7591) and a Client ID Metadata Document carry the same RFC 7591
fields, so one reader checks both and one record type comes out: ``ClientRecord``. The
authorize, consent, token and revoke steps only ever see a ``ClientRecord`` and need not
know how the client came to be known.

What is kept, and how it is checked (anything else in the input is ignored):

- ``redirect_uris``: 1 to 20 strings, each through ``RedirectRules.check``; duplicates drop;
- ``grant_types``: a subset of ``authorization_code`` and ``refresh_token`` that includes
  ``authorization_code`` (default ``["authorization_code"]``); anything else (implicit,
  password, client_credentials, device code) is refused, since the proxy cannot honour it;
- ``response_types``: only ``code`` (default ``["code"]``);
- ``client_name``: at most 100 characters, none of them controls or invisible format
  characters (bidi overrides and zero-width characters can make a name on the consent page
  read as another);
- ``client_uri``, ``logo_uri``: https URLs (http only on loopback), no userinfo, no fragment;
- ``scope``: RFC 6749 scope tokens separated by single spaces, at most 1000 characters;
- ``application_type``: ``native`` or ``web``.

Every client is public: ``token_endpoint_auth_method`` is ``none`` in every record.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .oauth_errors import OAuthError
from .redirects import (
    RedirectErrorCode,
    RedirectRules,
    RedirectURIError,
    parse_redirect_uri,
    redirect_uri_matches,
)

ClientKind = Literal["dcr", "cimd"]

SUPPORTED_GRANT_TYPES = ("authorization_code", "refresh_token")
MAX_REDIRECT_URIS = 20
MAX_NAME = 100
MAX_SCOPE = 1000
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")
_RECORD_VERSION = 1

_Bad = Callable[[str], OAuthError]


@dataclass(frozen=True)
class ClientRecord:
    """What the proxy knows of one client; ``kind`` says where it came from."""

    client_id: str
    kind: ClientKind
    redirect_uris: tuple[str, ...]
    client_name: str | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    grant_types: tuple[str, ...] = ("authorization_code",)
    response_types: tuple[str, ...] = ("code",)
    scope: str | None = None
    application_type: str | None = None
    issued_at: int = 0
    token_endpoint_auth_method: str = field(default="none", init=False)

    def match_redirect_uri(self, requested: str | None, rules: RedirectRules) -> str:
        """The redirect URI to use for an authorization request, or ``invalid_request``.

        ``requested`` must match a registered URI (``redirect_uri_matches``: exact, a
        loopback port may vary) and still pass ``rules`` as they are configured now, so a
        tightened ``CLERK_ALLOWED_REDIRECT_URIS`` applies to clients registered before.
        Without ``requested``, the single registered URI is used (RFC 6749 §3.1.2.3); with
        several registered, it is required. Raises ``RedirectURIError`` (``invalid_request``):
        the caller must show it on its own page and not redirect.
        """
        if requested is None:
            if len(self.redirect_uris) != 1:
                raise RedirectURIError(
                    "redirect_uri is required: the client registered several",
                    error="invalid_request",
                )
            requested = self.redirect_uris[0]
        rules.check(requested, error="invalid_request")
        if not any(redirect_uri_matches(uri, requested) for uri in self.redirect_uris):
            raise RedirectURIError(
                "redirect_uri is not one the client registered", error="invalid_request"
            )
        return requested

    @property
    def redirect_hosts(self) -> tuple[str, ...]:
        """The hosts codes go to, for the consent page (the spec: MUST show them)."""
        hosts = []
        for uri in self.redirect_uris:
            parsed = parse_redirect_uri(uri)
            host = parsed.host or f"{parsed.scheme}:"
            if host not in hosts:
                hosts.append(host)
        return tuple(hosts)

    @property
    def loopback_only(self) -> bool:
        """Every redirect URI is loopback: the consent page warns (the spec's SHOULD)."""
        return all(parse_redirect_uri(uri).loopback for uri in self.redirect_uris)

    def allows_grant(self, grant_type: str) -> bool:
        """Whether the client registered ``grant_type`` (the token endpoint checks this)."""
        return grant_type in self.grant_types

    def to_json(self) -> dict[str, Any]:
        """The record as stored (JSON, versioned)."""
        return {
            "v": _RECORD_VERSION,
            "client_id": self.client_id,
            "kind": self.kind,
            "redirect_uris": list(self.redirect_uris),
            "client_name": self.client_name,
            "client_uri": self.client_uri,
            "logo_uri": self.logo_uri,
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "scope": self.scope,
            "application_type": self.application_type,
            "issued_at": self.issued_at,
        }

    @classmethod
    def from_json(cls, data: object) -> ClientRecord | None:
        """A record read back from the store; None for anything not written by ``to_json``."""
        if not isinstance(data, dict) or data.get("v") != _RECORD_VERSION:
            return None
        try:
            kind = data["kind"]
            if kind not in ("dcr", "cimd"):
                return None
            return cls(
                client_id=_str(data["client_id"]),
                kind=kind,
                redirect_uris=_strs(data["redirect_uris"]),
                client_name=_opt_str(data.get("client_name")),
                client_uri=_opt_str(data.get("client_uri")),
                logo_uri=_opt_str(data.get("logo_uri")),
                grant_types=_strs(data["grant_types"]),
                response_types=_strs(data["response_types"]),
                scope=_opt_str(data.get("scope")),
                application_type=_opt_str(data.get("application_type")),
                issued_at=int(data.get("issued_at", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _strs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return tuple(_str(item) for item in value)


def read_client_metadata(
    metadata: Mapping[str, Any],
    *,
    rules: RedirectRules,
    redirect_error: RedirectErrorCode = "invalid_redirect_uri",
    metadata_error: str = "invalid_client_metadata",
    drop_disallowed: bool = False,
) -> dict[str, Any]:
    """Check the RFC 7591 fields of ``metadata``; the keyword arguments of ``ClientRecord``.

    With ``drop_disallowed`` (registration), a well-formed redirect URI that ``rules`` does not
    allow is left out rather than failing the whole registration (RFC 7591 §2: the server may
    replace requested values), as long as one allowed URI remains: VS Code registers its
    loopback URI beside ``https://vscode.dev/redirect``. An unsafe URI still refuses it all.

    Raises ``RedirectURIError`` (code ``redirect_error``) for a bad redirect URI and
    ``OAuthError`` (code ``metadata_error``) for any other bad field. DCR uses the RFC 7591
    codes; CIMD passes ``invalid_client`` for both, since there the document is the client.
    """

    def bad(why: str) -> OAuthError:
        return OAuthError(metadata_error, why)

    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise RedirectURIError("redirect_uris must be a non-empty list", error=redirect_error)
    if len(uris) > MAX_REDIRECT_URIS:
        raise RedirectURIError(
            f"at most {MAX_REDIRECT_URIS} redirect_uris are accepted", error=redirect_error
        )
    redirect_uris: list[str] = []
    refusal: RedirectURIError | None = None
    for uri in uris:
        try:
            checked = rules.check(uri, error=redirect_error).uri
        except RedirectURIError as exc:
            parse_redirect_uri(uri, error=redirect_error)  # unsafe: refused whatever the rest
            if not drop_disallowed:
                raise
            refusal = refusal or exc
            continue
        if checked not in redirect_uris:
            redirect_uris.append(checked)
    if not redirect_uris and refusal is not None:
        raise refusal

    grant_types = _names(metadata, "grant_types", ["authorization_code"], bad)
    unsupported = [g for g in grant_types if g not in SUPPORTED_GRANT_TYPES]
    if unsupported:
        raise bad(f"grant type {unsupported[0]!r} is not supported (authorization_code only)")
    if "authorization_code" not in grant_types:
        raise bad("grant_types must include authorization_code")
    response_types = _names(metadata, "response_types", ["code"], bad)
    if response_types != ["code"]:
        raise bad("response_types must be ['code']")

    application_type = metadata.get("application_type")
    if application_type is not None and application_type not in ("native", "web"):
        raise bad("application_type must be 'native' or 'web'")

    return {
        "redirect_uris": tuple(redirect_uris),
        "client_name": _name(metadata.get("client_name"), bad),
        "client_uri": _uri(metadata, "client_uri", bad),
        "logo_uri": _uri(metadata, "logo_uri", bad),
        "grant_types": tuple(grant_types),
        "response_types": tuple(response_types),
        "scope": _scope(metadata.get("scope"), bad),
        "application_type": application_type,
    }


def _names(metadata: Mapping[str, Any], key: str, default: list[str], bad: _Bad) -> list[str]:
    value = metadata.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad(f"{key} must be a non-empty list of strings")
    return list(dict.fromkeys(value))


def _name(value: object, bad: _Bad) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad("client_name must be a non-empty string")
    if len(value) > MAX_NAME:
        raise bad(f"client_name is limited to {MAX_NAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in value):
        raise bad("client_name may not contain control or invisible formatting characters")
    return value.strip()


def _uri(metadata: Mapping[str, Any], key: str, bad: _Bad) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    try:
        parsed = parse_redirect_uri(value)
    except RedirectURIError:
        parsed = None
    if parsed is None or not parsed.web:
        raise bad(f"{key} must be an https URL without userinfo or fragment")
    return parsed.uri


def _scope(value: object, bad: _Bad) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SCOPE or not _SCOPE.fullmatch(value):
        raise bad("scope must be space-separated scope tokens")
    return value
