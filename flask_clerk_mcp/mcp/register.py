"""``POST /oauth/register``: RFC 7591 dynamic client registration, for MCP clients that do
not use Client ID Metadata Documents (DCR is the specification's deprecated MAY, CIMD its
SHOULD; the official SDKs still fall back to DCR).

``clients.ClientRegistry.register`` does the work (redirect URIs against
``CLERK_ALLOWED_REDIRECT_URIS``, public clients only, ``token_endpoint_auth_method: none`` in
the answer); this room reads the request within ``JSON_LIMIT`` bytes, answers ``201`` with the
record, or an RFC 7591 §3.2.2 JSON error, with CORS for browser-based clients.
"""

from __future__ import annotations

import logging

from flask import request
from werkzeug.wrappers import Response

from ..store import StoreError
from .inbound import json_body, preflight, with_cors
from .oauth_errors import OAuthError, error_response, json_response
from .proxy import proxy_state

log = logging.getLogger("flask_clerk_mcp")


def register_endpoint() -> Response:
    """Register one client."""
    if request.method == "OPTIONS":
        return preflight()
    try:
        if request.method != "POST":
            raise OAuthError("invalid_request", "use POST", status=405)
        _, body = proxy_state().registry.register(json_body())
        response = json_response(body, 201)
    except OAuthError as exc:
        response = error_response(exc)
    except StoreError as exc:
        log.warning("registration endpoint: store unavailable (%s)", exc)
        response = error_response(OAuthError("temporarily_unavailable", "", status=503))
    return with_cors(response)
