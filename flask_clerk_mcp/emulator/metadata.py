"""Discovery: the two metadata documents and the JWKS, field for field as Clerk publishes them.

The RFC 8414 document carries exactly the fields Clerk's schema lists (no
``introspection_endpoint``, no ``userinfo_endpoint``: a client must take those from the OIDC
document, as with Clerk). ``registration_endpoint`` appears only while DCR is on.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from .http_responses import json_answer
from .instance import current, issuer

bp = Blueprint("emulator_metadata", __name__)

CLAIMS_SUPPORTED = ["sub", "iss", "aud", "exp", "iat", "email", "name", "org_id"]


def _common(base: str) -> dict[str, Any]:
    emulator = current()
    doc: dict[str, Any] = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/token/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "none",
            "client_secret_post",
        ],
        "scopes_supported": list(emulator.config.known_scopes),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "code_challenge_methods_supported": ["S256"],
    }
    if emulator.config.dcr_enabled:
        doc["registration_endpoint"] = f"{base}/oauth/register"
    if emulator.config.authorization_response_iss:
        doc["authorization_response_iss_parameter_supported"] = True
    return doc


def _public(payload: dict[str, Any]) -> Response:
    """Discovery documents are public and cacheable, and browsers may read them (CORS)."""
    response = json_answer(payload)
    response.headers["Cache-Control"] = "public, max-age=300"
    del response.headers["Pragma"]
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    base = issuer()
    doc = _common(base)
    doc.update(
        {
            "introspection_endpoint": f"{base}/oauth/token_info",
            "userinfo_endpoint": f"{base}/oauth/userinfo",
            "response_modes_supported": ["query", "form_post"],
            "backchannel_logout_supported": False,
            "frontchannel_logout_supported": False,
        }
    )
    return _public(doc)


@bp.get("/.well-known/oauth-authorization-server")
def oauth_authorization_server() -> Response:
    doc = _common(issuer())
    doc.update(
        {
            "service_documentation": "https://clerk.com/docs",
            "ui_locales_supported": ["en"],
            "op_tos_uri": "https://clerk.com/legal/standard-terms",
        }
    )
    return _public(doc)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The keys that sign JWT access tokens and ``id_token``s: the current one, then any
    retired key still published."""
    return _public(current().keys.jwks())
