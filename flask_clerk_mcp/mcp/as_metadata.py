"""RFC 8414 authorization-server metadata of the proxy, at every path MCP clients look.

The issuer is ``CLERK_BASE_URL`` exactly as normalised (no trailing slash), and every endpoint
is built from it, so the document, the ``iss`` of every authorization response and the
protected-resource documents' ``authorization_servers`` are byte-identical: clients compare
them as strings (RFC 8414 §3.3, RFC 9207, the MCP SDK's SEP-2468 check).

Where it is served (paths inside the app, which is mounted at ``CLERK_BASE_URL``):
``/.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``; and,
when ``CLERK_BASE_URL`` has a path ``/p``, the path-inserted forms
``/.well-known/oauth-authorization-server/p`` and ``/.well-known/openid-configuration/p``
(RFC 8414 §3.1, for a front proxy that routes the host's well-known paths to the app; the
path-appended OIDC form ``/p/.well-known/openid-configuration`` is the plain one above, seen
from inside the app). The OIDC paths carry the same OAuth document: MCP clients read them as
RFC 8414 metadata (this server is no OpenID provider and issues no ID tokens).

``scopes_supported`` is what the Clerk application grants (``CLERK_SCOPES_SUPPORTED``, else
``CLERK_REQUIRED_SCOPES``), as in the protected-resource documents, plus
``offline_access`` when ``CLERK_OFFLINE_ACCESS`` is on: MCP clients add ``offline_access``
only when the authorization server lists it, and refresh needs it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.wrappers import Response

from ..settings import Settings
from ..state import get_state
from .inbound import preflight, with_cors
from .oauth_errors import json_response

OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"

#: The endpoints' paths inside the app; the metadata's URLs are ``CLERK_BASE_URL`` + these.
AUTHORIZE_PATH = "/oauth/authorize"
CONSENT_PATH = "/oauth/consent"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"


def metadata_paths(settings: Settings) -> list[str]:
    """Every path the document is served at (see the module docstring)."""
    paths = [OAUTH_WELL_KNOWN, OIDC_WELL_KNOWN]
    base_path = urlsplit(settings.base_url).path
    if base_path:
        paths += [OAUTH_WELL_KNOWN + base_path, OIDC_WELL_KNOWN + base_path]
    return paths


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    """The RFC 8414 document."""
    base = settings.base_url
    granted = settings.scopes_supported  # CLERK_SCOPES_SUPPORTED, as in the PRM documents
    scopes = list(granted if granted is not None else settings.required_scopes)
    if settings.offline_access and "offline_access" not in scopes:
        scopes.append("offline_access")
    return {
        "issuer": base,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "registration_endpoint": base + REGISTER_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": settings.cimd,
        "authorization_response_iss_parameter_supported": True,
    }


def serve_metadata() -> Response:
    """GET (the document, cacheable for an hour) or the CORS preflight."""
    if request.method == "OPTIONS":
        return preflight("GET, OPTIONS")
    response = json_response(authorization_server_metadata(get_state().settings))
    response.headers["Cache-Control"] = "public, max-age=3600"
    del response.headers["Pragma"]
    return with_cors(response, "GET, OPTIONS")


def register_metadata(app: Flask, settings: Settings) -> None:
    """Serve the document at each of ``metadata_paths``."""
    for number, path in enumerate(metadata_paths(settings)):
        app.add_url_rule(
            path,
            endpoint=f"clerk_mcp.authorization_server_{number}",
            view_func=serve_metadata,
            methods=["GET", "OPTIONS"],
        )
