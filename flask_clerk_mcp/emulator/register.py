"""``POST /oauth/register``: RFC 7591 dynamic client registration, off-able like Clerk's.

Clerk's published request schema allows six fields and ``additionalProperties: false``, yet
real MCP clients send standard RFC 7591 fields such as ``grant_types`` and ``response_types``
(and, since MCP 2026-07-28, ``application_type``). The emulator accepts those standard names,
validating their values, and refuses anything else; ``dcr_strict_schema=True`` refuses all but
Clerk's six, to rehearse the stricter reading.
"""

from __future__ import annotations

import secrets
import string
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from .authorize_request import parse_scopes
from .config import AUTH_METHODS, GRANT_TYPES, OAuthClient
from .http_responses import clerk_error, json_answer, oauth_error
from .instance import current

bp = Blueprint("emulator_register", __name__)

CLERK_FIELDS = frozenset(
    {
        "redirect_uris",
        "token_endpoint_auth_method",
        "client_name",
        "client_uri",
        "logo_uri",
        "scope",
    }
)
STANDARD_FIELDS = frozenset(
    {
        "grant_types",
        "response_types",
        "application_type",
        "contacts",
        "tos_uri",
        "policy_uri",
        "software_id",
        "software_version",
    }
)
URL_FIELDS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
STRING_FIELDS = ("client_name", "software_id", "software_version")
MAX_CLIENTS = 10_000
MAX_REDIRECT_URIS = 20
_ALPHABET = string.ascii_letters + string.digits


class Invalid(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _is_web_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment


def _string_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("invalid_client_metadata", f"{name} must be a list of strings")
    return list(value)


def _check_fields(body: dict[str, Any], strict: bool) -> None:
    allowed = CLERK_FIELDS if strict else CLERK_FIELDS | STANDARD_FIELDS
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Invalid("invalid_client_metadata", f"unsupported field {unknown[0]!r}")
    for name in STRING_FIELDS:
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 256):
            raise Invalid("invalid_client_metadata", f"{name} must be a string")
    for name in URL_FIELDS:
        if body.get(name) is not None and not _is_web_url(body[name]):
            raise Invalid("invalid_client_metadata", f"{name} must be an http(s) URL")
    if body.get("application_type") not in (None, "web", "native"):
        raise Invalid("invalid_client_metadata", "application_type must be web or native")
    _string_list(body, "contacts")


def _client_from(
    body: dict[str, Any], default_scopes: tuple[str, ...], known: tuple[str, ...], now: int
) -> OAuthClient:
    redirect_uris = _string_list(body, "redirect_uris")
    if not redirect_uris:
        raise Invalid("invalid_redirect_uri", "redirect_uris must list at least one URI")
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise Invalid("invalid_redirect_uri", "too many redirect_uris")
    for uri in redirect_uris:
        if not _is_web_url(uri):
            raise Invalid(
                "invalid_redirect_uri", "each redirect URI must be an absolute http(s) URL"
            )

    method = body.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise Invalid("invalid_client_metadata", "unsupported token_endpoint_auth_method")
    grant_types = _string_list(body, "grant_types") or list(GRANT_TYPES)
    if "authorization_code" not in grant_types or not set(grant_types) <= set(GRANT_TYPES):
        raise Invalid(
            "invalid_client_metadata", "grant_types must be authorization_code[, refresh_token]"
        )
    response_types = _string_list(body, "response_types") or ["code"]
    if response_types != ["code"]:
        raise Invalid("invalid_client_metadata", 'response_types must be ["code"]')

    raw_scope = body.get("scope")
    scopes: tuple[str, ...] | None = default_scopes
    if raw_scope is not None:
        if not isinstance(raw_scope, str):
            raise Invalid("invalid_client_metadata", "scope must be a string")
        scopes, reason = parse_scopes(raw_scope, None, known)
        if scopes is None:
            raise Invalid("invalid_client_metadata", reason)

    public = method == "none"
    return OAuthClient(
        client_id="".join(secrets.choice(_ALPHABET) for _ in range(16)),
        client_secret=None if public else secrets.token_urlsafe(32),
        redirect_uris=redirect_uris,
        client_name=body.get("client_name") or "Unnamed dynamic client",
        token_endpoint_auth_method=method,
        scopes=scopes,
        grant_types=tuple(g for g in GRANT_TYPES if g in grant_types),
        dynamic=True,
        issued_at=now,
    )


def client_document(client: OAuthClient) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 answer describing a registered client."""
    doc: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": client.issued_at,
        "client_secret_expires_at": 0,
        "client_name": client.client_name,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": list(client.grant_types),
        "response_types": ["code"],
        "scope": " ".join(client.scopes) if client.scopes is not None else "",
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
    }
    if client.client_secret is not None:
        doc["client_secret"] = client.client_secret
    return doc


@bp.post("/oauth/register")
def register() -> Response:
    emulator = current()
    cfg = emulator.config
    if not cfg.dcr_enabled:
        return clerk_error(
            422,
            "feature_not_enabled",
            "not enabled",
            "Dynamic client registration is not enabled for this instance.",
        )
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        return oauth_error("invalid_client_metadata", "send a JSON object (application/json)")
    if emulator.state.client_count() >= MAX_CLIENTS:
        return oauth_error("invalid_client_metadata", "too many registered clients")
    try:
        _check_fields(body, cfg.dcr_strict_schema)
        client = _client_from(body, cfg.dcr_default_scopes, cfg.known_scopes, int(cfg.clock()))
    except Invalid as refusal:
        return oauth_error(refusal.error, refusal.description)
    emulator.state.register_client(client)
    return json_answer(client_document(client), 201)
