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

from werkzeug.wrappers import Response

from .inbound import json_body, json_endpoint
from .oauth_errors import json_response
from .proxy import proxy_state

log = logging.getLogger("flask_clerk_mcp")


@json_endpoint("registration")
def register_endpoint() -> Response:
    """Register one client."""
    _, body = proxy_state().registry.register(json_body())
    return json_response(body, 201)
