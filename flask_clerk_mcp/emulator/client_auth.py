"""Who is calling: client authentication for the token, introspection and revocation endpoints.

Clerk treats HTTP Basic and ``client_secret_post`` as equivalent at the token endpoint, and
lets a public client name itself with ``client_id`` alone. Introspection and revocation take
HTTP Basic only. Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1), so
they are decoded the same way. Secrets are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from flask import request

from .config import OAuthClient


@dataclass(frozen=True)
class ClientAuthError:
    """Why authentication failed; ``error`` is ``invalid_client`` or ``invalid_request``."""

    error: str
    description: str


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from an ``Authorization: Basic`` value, else ``None``."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def _check_secret(client: OAuthClient, secret: str) -> bool:
    expected = client.client_secret
    return expected is not None and hmac.compare_digest(
        expected.encode("utf-8"), secret.encode("utf-8")
    )


def authenticate(
    lookup: Callable[[str], OAuthClient | None], *, basic_only: bool
) -> OAuthClient | ClientAuthError:
    """Authenticate the client of the current request.

    With ``basic_only`` only a confidential client's HTTP Basic credentials count;
    otherwise Basic, body credentials, or a public client's bare ``client_id`` do.
    """
    header = request.headers.get("Authorization")
    body_id = request.form.get("client_id")
    body_secret = request.form.get("client_secret")
    if header is not None:
        basic = parse_basic(header)
        if basic is None:
            return ClientAuthError("invalid_client", "malformed HTTP Basic credentials")
        client_id, secret = basic
        if body_secret is not None:
            return ClientAuthError("invalid_request", "use one client authentication method")
        if body_id is not None and body_id != client_id:
            return ClientAuthError("invalid_request", "client_id differs from the credentials")
    elif basic_only:
        return ClientAuthError("invalid_client", "HTTP Basic client authentication is required")
    elif body_id:
        client_id, secret = body_id, body_secret or ""
    else:
        return ClientAuthError("invalid_client", "client authentication is required")

    client = lookup(client_id)
    if client is None:
        return ClientAuthError("invalid_client", "client authentication failed")
    if client.is_public:
        if basic_only or secret or header is not None:
            return ClientAuthError("invalid_client", "client authentication failed")
        return client
    if not _check_secret(client, secret):
        return ClientAuthError("invalid_client", "client authentication failed")
    return client
