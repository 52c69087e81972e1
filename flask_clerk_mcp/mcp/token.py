"""``POST /oauth/token``: the ``authorization_code`` grant here, ``refresh_token`` in
``refresh_grace``.

The answer carries **Clerk's own tokens, passed through** (DESIGN: no tokens of our own in
this stretch): ``@require_clerk`` then verifies them with Clerk like any other token, so
introspection stays the gate and revocation at Clerk takes effect.

``authorization_code``:

- the code is consumed with the store's atomic ``pop`` *before* anything is checked: of two
  concurrent redemptions, across workers and hosts, exactly one gets the record, and a code
  presented with a wrong verifier is burnt rather than left for a second guess;
- the client must be the one the code was issued to; ``redirect_uri`` must be sent, and
  equal, when it was sent to ``/oauth/authorize`` (OAuth 2.1 §4.1.3); ``code_verifier`` must
  hash (S256) to the challenge, compared in constant time; a ``resource``, if sent, must be
  the one authorized;
- the tokens are bound to the client (``grants.bind_tokens``) before they are handed out.

Every error is RFC 6749 §5.2 JSON with ``no-store``; an unknown client is ``401
invalid_client`` so MCP clients register again; nothing here ever answers HTML or a 500
(the store failing is 503 ``temporarily_unavailable``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re

from werkzeug.wrappers import Response

from ..state import require_store
from .authorization_request import AuthorizationRequest
from .client_metadata import ClientRecord
from .grants import bind_tokens, code_key, token_response, tokens_from_json
from .inbound import client_id_of, form_params, json_endpoint, require_client
from .oauth_errors import OAuthError, json_response
from .proxy import proxy_state
from .refresh_grace import refresh_grant

log = logging.getLogger("flask_clerk_mcp")

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1


@json_endpoint("token")
def token_endpoint() -> Response:
    """One grant, or an RFC 6749 error (``inbound.json_endpoint`` frames it)."""
    params = form_params()
    client = require_client(proxy_state().registry, client_id_of(params))
    grant = params.get("grant_type")
    if grant == "authorization_code":
        body = code_grant(params, client)
    elif grant == "refresh_token":
        body = refresh_grant(params, client)
    elif not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    else:
        raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token")
    return json_response(body)


def s256(verifier: str) -> str:
    """The S256 challenge of a PKCE verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def code_grant(params: dict[str, str], client: ClientRecord) -> dict[str, object]:
    """Redeem a proxy authorization code for the Clerk tokens it stands for."""
    code = params.get("code")
    verifier = params.get("code_verifier")
    if not code:
        raise OAuthError("invalid_request", "code is required")
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE)")
    store = require_store()
    record = store.pop(code_key(code))
    invalid = OAuthError("invalid_grant", "the code is invalid, expired or already used")
    if not isinstance(record, dict):
        raise invalid
    req = AuthorizationRequest.from_json(record.get("request"))
    tokens = tokens_from_json(record.get("tokens"))
    if req is None or tokens is None:
        raise invalid
    if not hmac.compare_digest(req.client_id.encode(), client.client_id.encode()):
        log.info("refused a code redemption by another client (%s)", client.client_id)
        raise OAuthError("invalid_grant", "the code was issued to another client")
    redirect_uri = params.get("redirect_uri")
    if (req.redirect_uri_sent or redirect_uri is not None) and redirect_uri != req.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
        s256(verifier).encode(), req.code_challenge.encode()
    ):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    resource = params.get("resource")
    if resource is not None and resource != req.resource:
        raise OAuthError("invalid_target", "resource differs from the one authorized")
    bind_tokens(store, tokens, client_id=client.client_id, resource=req.resource)
    log.info("tokens handed to MCP client %s", client.client_id)
    return token_response(tokens)
