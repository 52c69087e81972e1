"""``POST /oauth/revoke`` (RFC 7009): revoke the **upstream** token at Clerk.

The tokens our clients hold are Clerk's own, so revoking means asking Clerk (with this
server's credentials, which a public MCP client does not have) — not forgetting a reference,
as FastMCP's proxy does (its #5120: it sends its own token upstream, which Clerk never
issued).

Only a token this server handed to the calling client is revoked: the binding records
(``grants``) say which client got it. A token that is unknown here, or was handed to another
client, is answered ``200`` and left alone (RFC 7009 §2.2: an invalid token is not an error,
and a client must not be able to end another client's session, nor learn whether a token it
guessed exists). When Clerk has revoked it, the bindings (and a refresh token's grace record)
are deleted too, and a revoked access token's verification-cache entry becomes a rejection (with
a shared ``CLERK_CACHE``, on every worker at once; a per-worker cache forgets it within
``CLERK_CACHE_TTL``). Clerk answering ``unsupported_token_type`` (it documents that for JWT access
tokens, which simply expire) is passed on; Clerk unreachable is 503, so the client can retry.
"""

from __future__ import annotations

import hmac
import logging

import requests
from werkzeug.wrappers import Response

from ..state import get_state, require_store
from ..upstream import json_object
from .grants import access_binding_key, binding_client, refresh_binding_key
from .inbound import client_id_of, form_params, json_endpoint, require_client
from .oauth_errors import OAuthError, json_response
from .proxy import proxy_state
from .refresh_grace import grace_key

log = logging.getLogger("flask_clerk_mcp")

REVOCATION_TIMEOUT = (3.05, 5.0)


@json_endpoint("revocation")
def revoke_endpoint() -> Response:
    """The client, then the token at Clerk (``inbound.json_endpoint`` frames it)."""
    params = form_params()
    client = require_client(proxy_state().registry, client_id_of(params))
    token = params.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is required")
    return _revoke(token, params.get("token_type_hint"), client.client_id)


def _revoke(token: str, hint: str | None, client_id: str) -> Response:
    store = require_store()
    kinds = ["refresh_token", "access_token"]
    if hint == "access_token":
        kinds.reverse()
    for kind in kinds:
        key = refresh_binding_key(token) if kind == "refresh_token" else access_binding_key(token)
        owner = binding_client(store.get(key))
        if owner is None:
            continue
        if not hmac.compare_digest(owner.encode(), client_id.encode()):
            log.info("ignored a revocation of another client's token (by %s)", client_id)
            return json_response({})
        _at_clerk(token, kind)
        if kind == "access_token":  # the cache must not go on vouching for it until its TTL
            get_state().verifier.revoked(token)
        store.delete(key)
        if kind == "refresh_token":
            store.delete(grace_key(token))
        log.info("revoked a %s of MCP client %s at Clerk", kind, client_id)
        return json_response({})
    return json_response({})  # not a token of this client: nothing to do (RFC 7009 §2.2)


def _at_clerk(token: str, kind: str) -> None:
    """Revoke at Clerk; ``OAuthError`` when Clerk gives no verdict or refuses the type."""
    state = get_state()
    try:
        answer = state.upstream.post_form(
            state.settings.revocation_endpoint,
            {"token": token, "token_type_hint": kind},
            timeout=REVOCATION_TIMEOUT,
        )
    except requests.RequestException as exc:
        log.warning("revoking at Clerk failed (%s)", type(exc).__name__)
        raise OAuthError("temporarily_unavailable", "Clerk is unreachable", status=503) from None
    if answer.status_code == 200:
        return
    body = json_object(answer) or {}
    if answer.status_code == 400 and body.get("error") == "unsupported_token_type":
        raise OAuthError("unsupported_token_type", "Clerk cannot revoke this token type")
    if answer.status_code == 400:
        return  # Clerk's verdict: not a valid token there (already revoked, expired)
    log.warning("Clerk answered HTTP %d to a revocation", answer.status_code)
    raise OAuthError("temporarily_unavailable", "Clerk did not revoke the token", status=503)
