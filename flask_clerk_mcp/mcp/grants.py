"""What the proxy keeps about the tokens it hands out: one-time codes and token bindings.

Every record is JSON in ``CLERK_STORE`` (encrypted at rest by the store), under a key that
holds a SHA-256 of the secret it is about, never the secret itself, and every one has a TTL:

- ``mcp:code:<sha256(code)>``: Clerk's tokens and the checked authorization request
  (client, redirect URI, the client's PKCE challenge, resource); ``CODE_TTL`` (5 minutes),
  ``pop``-ed once;
- ``mcp:rt:<sha256(refresh token)>``: the client the refresh token was handed to and its
  resource; ``REFRESH_BINDING_TTL``, renewed by every refresh;
- ``mcp:at:<sha256(access token)>``: the client the access token was handed to; the token's
  lifetime;
- ``mcp:grace:<sha256(old refresh token)>``: the pair a refresh rotated it into
  (``refresh_grace``); ``CLERK_REFRESH_GRACE`` seconds.

The bindings are what stop one MCP client from using (or revoking) the tokens another was
given: the upstream tokens all belong to this server's one Clerk application, so Clerk itself
cannot tell our clients apart.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ..login.oauth import TokenSet
from ..store import Store

#: Seconds a proxy authorization code lives (RFC 6749 §4.1.2 recommends at most 10 minutes).
CODE_TTL = 300
#: Seconds a refresh token stays usable through the proxy without being used.
REFRESH_BINDING_TTL = 90 * 86400
#: Seconds an access-token binding lives when Clerk gave no lifetime.
ACCESS_BINDING_DEFAULT_TTL = 86400


def digest(secret: str) -> str:
    """SHA-256 of a code or token, in hex: how the store names records about it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def code_key(code: str) -> str:
    """Store key of a proxy authorization code's record."""
    return "mcp:code:" + digest(code)


def refresh_binding_key(token: str) -> str:
    """Store key of the record naming the client a refresh token was handed to."""
    return "mcp:rt:" + digest(token)


def access_binding_key(token: str) -> str:
    """Store key of the record naming the client an access token was handed to."""
    return "mcp:at:" + digest(token)


def tokens_to_json(tokens: TokenSet) -> dict[str, Any]:
    """Clerk's answer as stored (inside encrypted records only)."""
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at,
        "scope": list(tokens.scope),
    }


def tokens_from_json(data: object) -> TokenSet | None:
    """A ``TokenSet`` read back; None for anything ``tokens_to_json`` did not write."""
    if not isinstance(data, dict):
        return None
    access, refresh = data.get("access_token"), data.get("refresh_token")
    expires_at, scope = data.get("expires_at"), data.get("scope")
    if not isinstance(access, str) or not (refresh is None or isinstance(refresh, str)):
        return None
    if not (expires_at is None or (isinstance(expires_at, int) and expires_at >= 0)):
        return None
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        return None
    return TokenSet(access, refresh, expires_at, tuple(scope))


def token_response(tokens: TokenSet, *, now: float | None = None) -> dict[str, Any]:
    """The RFC 6749 §5.1 answer carrying Clerk's tokens, passed through."""
    body: dict[str, Any] = {"access_token": tokens.access_token, "token_type": "Bearer"}
    if tokens.expires_at is not None:
        body["expires_in"] = max(int(tokens.expires_at - (now or time.time())), 0)
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    if tokens.scope:
        body["scope"] = " ".join(tokens.scope)
    return body


def bind_tokens(store: Store, tokens: TokenSet, *, client_id: str, resource: str | None) -> None:
    """Record which client was handed ``tokens`` (refresh and revoke check it)."""
    if tokens.refresh_token:
        store.put(
            refresh_binding_key(tokens.refresh_token),
            {"client_id": client_id, "resource": resource},
            REFRESH_BINDING_TTL,
        )
    ttl = ACCESS_BINDING_DEFAULT_TTL
    if tokens.expires_at is not None:
        ttl = max(int(tokens.expires_at - time.time()), 1)
    store.put(access_binding_key(tokens.access_token), {"client_id": client_id}, ttl)


def binding_client(record: object) -> str | None:
    """The client id a binding record names, or None."""
    if isinstance(record, dict) and isinstance(record.get("client_id"), str):
        return str(record["client_id"])
    return None
