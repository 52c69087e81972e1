"""The ``refresh_token`` grant: forwarded to Clerk, bound to its client, with a grace window.

**Binding.** A refresh token is usable here only by the client it was handed to: the store
keeps ``sha256(token) → client_id`` (``grants``), and a token without a binding, or bound to
another client, is ``invalid_grant``. Every MCP client's tokens belong to this server's one
Clerk application, so without the binding any client holding another's refresh token could
use it.

**Grace window** (``CLERK_REFRESH_GRACE`` seconds, default 30; 0 turns it off). Clerk rotates
refresh tokens: once one has been used, a second use is refused. An MCP client that refreshes
twice at once (two tabs, two egress IPs of one hosted client, a retry after a lost answer)
would then lose its session on the second call (FastMCP #4264, users logged out). Here:

- the refresh of one token is **serialised** across threads, workers and hosts with the
  store's ``add`` (set-if-absent) as a lock keyed by the token's hash: one winner calls Clerk;
- the winner stores the pair Clerk returned, encrypted, under the *old* token's hash for the
  grace window, before it releases the lock, then moves the binding to the new token;
- everyone else (the concurrent loser, or a replay within the window) finds that record and
  gets **the same new pair**, not a second rotation. The record names the client, so only
  the client the token was bound to gets it.

The cost, stated plainly: for ``CLERK_REFRESH_GRACE`` seconds after a rotation, the old
refresh token (with its client's id) still yields the new pair. That is the window a thief
of a just-rotated token would have; it is why the window is short and capped at 300 s.
With the window off, concurrent refreshes behave as at Clerk: one wins, the other gets
``invalid_grant``.

Clerk refusing (``invalid_grant``) is passed on; Clerk unreachable is 503
``temporarily_unavailable``; neither stores anything.
"""

from __future__ import annotations

import hmac
import logging
import time

from ..login import oauth
from ..login.oauth import TokenSet
from ..state import get_state, require_store
from ..store import Store
from .client_metadata import ClientRecord
from .grants import (
    bind_tokens,
    binding_client,
    digest,
    refresh_binding_key,
    token_response,
    tokens_from_json,
    tokens_to_json,
)
from .oauth_errors import OAuthError

log = logging.getLogger("flask_clerk_mcp")

#: Seconds the refresh lock lives if its holder dies (longer than a token call can take).
LOCK_TTL = 30
#: Seconds a concurrent refresh waits for the winner's pair, and how often it looks.
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.05


def grace_key(token: str) -> str:
    """Store key of the pair a refresh token was rotated into (the grace record)."""
    return "mcp:grace:" + digest(token)


def lock_key(token: str) -> str:
    """Store key of the lock that serialises the refreshes of one token."""
    return "mcp:refresh-lock:" + digest(token)


def refresh_grant(params: dict[str, str], client: ClientRecord) -> dict[str, object]:
    """New tokens for a refresh token the client holds (see the module docstring)."""
    token = params.get("refresh_token")
    if not token:
        raise OAuthError("invalid_request", "refresh_token is required")
    if not client.allows_grant("refresh_token"):
        raise OAuthError("unauthorized_client", "the client did not register refresh_token")
    store = require_store()
    grace = get_state().settings.refresh_grace
    if grace == 0:
        return token_response(_rotate(store, token, params, client, grace))
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        pair = _grace_pair(store, token, client)
        if pair is not None:
            return token_response(pair)
        if store.add(lock_key(token), 1, LOCK_TTL):
            try:
                pair = _grace_pair(store, token, client)  # finished just before our lock
                if pair is None:
                    pair = _rotate(store, token, params, client, grace)
            finally:
                store.delete(lock_key(token))
            return token_response(pair)
        if time.monotonic() >= deadline:
            raise OAuthError("temporarily_unavailable", "a refresh is in progress", status=503)
        time.sleep(POLL_SECONDS)


def _grace_pair(store: Store, token: str, client: ClientRecord) -> TokenSet | None:
    record = store.get(grace_key(token))
    owner = binding_client(record)
    if owner is None or not isinstance(record, dict):
        return None
    if not hmac.compare_digest(owner.encode(), client.client_id.encode()):
        raise OAuthError("invalid_grant", "the refresh token was issued to another client")
    return tokens_from_json(record.get("tokens"))


def _rotate(
    store: Store, token: str, params: dict[str, str], client: ClientRecord, grace: int
) -> TokenSet:
    """Ask Clerk (the caller holds the lock when ``grace``); store, rebind, return the pair."""
    binding = store.get(refresh_binding_key(token))
    owner = binding_client(binding)
    if owner is None or not isinstance(binding, dict):
        raise OAuthError("invalid_grant", "the refresh token is invalid or was not issued here")
    if not hmac.compare_digest(owner.encode(), client.client_id.encode()):
        log.info("refused a refresh by another client (%s)", client.client_id)
        raise OAuthError("invalid_grant", "the refresh token was issued to another client")
    bound = binding.get("resource")
    resource = bound if isinstance(bound, str) else None
    sent = params.get("resource")
    if sent is not None and sent != resource:
        raise OAuthError("invalid_target", "resource differs from the one authorized")
    state = get_state()
    try:
        tokens = oauth.refresh(
            state.settings,
            state.upstream,
            refresh_token=token,
            resource=resource,
            scope=params.get("scope"),
        )
    except oauth.TokenRefused as exc:
        log.info("Clerk refused a refresh for MCP client %s (%s)", client.client_id, exc.error)
        store.delete(refresh_binding_key(token))
        raise OAuthError("invalid_grant", "Clerk refused the refresh token") from None
    except oauth.TokenEndpointUnavailable:
        raise OAuthError(
            "temporarily_unavailable", "Clerk is unavailable; try again shortly", status=503
        ) from None
    if grace:
        record = {"client_id": client.client_id, "tokens": tokens_to_json(tokens)}
        store.put(grace_key(token), record, grace)
    bind_tokens(store, tokens, client_id=client.client_id, resource=resource)
    if tokens.refresh_token != token:
        store.delete(refresh_binding_key(token))
    return tokens
