"""What a resource server calls: introspection, userinfo and revocation.

These are the endpoints the library under test leans on, so their quirks are reproduced on
purpose: introspection is thin and says ``active: true`` for a refresh token too (Clerk's
cannot tell them apart); only userinfo, which takes access tokens alone, refuses a refresh
token. Introspection and revocation demand HTTP Basic from a registered confidential client.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from .authorize_request import parse_scopes
from .claims import token_info as token_info_claims
from .claims import user_by_id
from .claims import userinfo as userinfo_claims
from .client_auth import ClientAuthError, authenticate
from .http_responses import clerk_error, invalid_client, json_answer, oauth_error
from .instance import current

bp = Blueprint("emulator_resource", __name__)


@bp.post("/oauth/token_info")
def token_info() -> Response:
    """RFC 7662, Clerk-style. ``token_type_hint`` is accepted and changes nothing."""
    emulator = current()
    client = authenticate(emulator.state.get_client, basic_only=True)
    if isinstance(client, ClientAuthError):
        return clerk_error(
            401,
            "oauth_invalid_client",
            "Invalid client",
            "The provided client is invalid: " + client.description + ".",
            {"WWW-Authenticate": 'Basic realm="clerk-emulator"'},
        )
    token = request.form.get("token", "")
    if not token:
        return clerk_error(400, "form_param_missing", "is missing", "token is required.")
    record = emulator.state.lookup(token)
    if record is None:
        return json_answer({"active": False})
    requested = request.form.get("scope")
    if requested is not None:
        # "The granted scopes for the token to check against": a token lacking one is inactive.
        wanted, _ = parse_scopes(requested, None, emulator.config.known_scopes)
        if wanted is None or not set(wanted) <= set(record.scopes):
            return json_answer({"active": False})
    return json_answer(token_info_claims(record, user_by_id(emulator.config, record.user_id)))


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value


def _unauthorized(message: str) -> Response:
    return clerk_error(
        401,
        "authentication_invalid",
        "Invalid authentication",
        message,
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    emulator = current()
    token = _bearer_token()
    if token is None:
        return _unauthorized("A bearer access token is required.")
    record = emulator.state.lookup(token)
    if record is None or record.kind != "access":
        return _unauthorized("The access token is invalid, expired or revoked.")
    user = user_by_id(emulator.config, record.user_id)
    if user is None:
        return _unauthorized("The user of this token no longer exists.")
    return json_answer(userinfo_claims(emulator.config, user, record.scopes))


@bp.post("/oauth/token/revoke")
def revoke() -> Response:
    """RFC 7009. Unknown tokens are a success (200), as the RFC requires; the optional
    ``token_type_hint`` is only a hint (§2.1) and never narrows the search. A JWT access
    token is revoked like an opaque one unless the instance is configured as Clerk documents
    (``400 unsupported_token_type``)."""
    emulator = current()
    client = authenticate(emulator.state.get_client, basic_only=True)
    if isinstance(client, ClientAuthError):
        return invalid_client(client.description)
    token = request.form.get("token", "")
    if not token:
        return oauth_error("invalid_request", "token is required")
    outcome = emulator.state.revoke(token, client.client_id)
    if outcome == "other_client":
        return oauth_error("invalid_grant", "the token was issued to another client")
    if outcome == "unsupported":
        return oauth_error("unsupported_token_type", "JWT access tokens cannot be revoked")
    return Response(status=200)
