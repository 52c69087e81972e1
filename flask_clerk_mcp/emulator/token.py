"""``POST /oauth/token``: the authorization-code and refresh-token grants.

Access tokens are ``at+jwt`` JWTs signed with the instance's key, or opaque ``oat_…`` strings
when the instance is set to the older format. An RFC 8707 ``resource`` (sent here or at
authorize) becomes the JWT's ``aud``. Every refusal is an RFC 6749 §5.2 body. The code is
consumed the first time it is presented, whatever the outcome, so a wrong ``code_verifier``
cannot be retried against it; a code presented again revokes the tokens issued from it.
Refresh tokens rotate: each one works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from .authorize_request import CODE_CHALLENGE_RE, parse_scopes, resource_problem
from .claims import access_token_claims, id_token, user_by_id
from .client_auth import ClientAuthError, authenticate
from .config import GRANT_TYPES, OAuthClient
from .http_responses import invalid_client, json_answer, oauth_error
from .instance import Emulator, current, issuer
from .keys import ACCESS_TOKEN_TYP
from .state import IssuedTokens, TokenRecord

bp = Blueprint("emulator_token", __name__)


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _jwt_signer(emulator: Emulator) -> Callable[[TokenRecord], str]:
    """Sign an access token's record as an ``at+jwt`` with the instance's current key."""
    base = issuer()

    def sign(record: TokenRecord) -> str:
        return emulator.keys.sign(access_token_claims(record, issuer=base), typ=ACCESS_TOKEN_TYP)

    return sign


def _audience(granted: str | None) -> tuple[str | None, Response | None]:
    """The access token's RFC 8707 audience: the grant's, or the one this request names.

    A ``resource`` sent here must be well formed and, when the grant already has one, the same
    (a token request cannot widen the grant, RFC 8707 §2.2): else ``invalid_target``.
    """
    requested = request.form.getlist("resource")
    problem = resource_problem(requested)
    if problem is None and requested and granted is not None and requested[0] != granted:
        problem = "resource differs from the one this grant was issued for"
    if problem is not None:
        return None, oauth_error("invalid_target", problem)
    return (granted or (requested[0] if requested else None)), None


def _token_response(
    emulator: Emulator, client: OAuthClient, issued: IssuedTokens, nonce: str | None
) -> Response:
    access = issued.access
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": emulator.config.access_token_ttl,
        "scope": " ".join(access.scopes),
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    user = user_by_id(emulator.config, access.user_id)
    if "openid" in access.scopes and user is not None:
        claims = id_token(
            issuer=issuer(),
            client_id=client.client_id,
            user=user,
            scopes=access.scopes,
            issued_at=access.issued_at,
            ttl=emulator.config.id_token_ttl,
            nonce=nonce,
        )
        body["id_token"] = emulator.keys.sign(claims)
    return json_answer(body)


@bp.post("/oauth/token")
def token() -> Response:
    emulator = current()
    if request.mimetype != "application/x-www-form-urlencoded":
        return oauth_error("invalid_request", "send application/x-www-form-urlencoded")
    repeated = sorted(k for k, v in request.form.lists() if len(v) > 1 and k != "resource")
    if repeated:
        return oauth_error("invalid_request", f"{repeated[0]} was sent more than once")
    client = authenticate(emulator.state.get_client, basic_only=False)
    if isinstance(client, ClientAuthError):
        if client.error == "invalid_client":
            return invalid_client(client.description)
        return oauth_error(client.error, client.description)
    grant_type = request.form.get("grant_type", "")
    if not grant_type:
        return oauth_error("invalid_request", "grant_type is required")
    if grant_type not in GRANT_TYPES:
        return oauth_error("unsupported_grant_type", "use authorization_code or refresh_token")
    if grant_type not in client.grant_types:
        return oauth_error("unauthorized_client", f"this client may not use {grant_type}")
    if grant_type == "authorization_code":
        return _authorization_code(emulator, client)
    return _refresh_token(emulator, client)


def _authorization_code(emulator: Emulator, client: OAuthClient) -> Response:
    form = request.form
    value = form.get("code", "")
    redirect_uri = form.get("redirect_uri", "")
    verifier = form.get("code_verifier")
    if not value:
        return oauth_error("invalid_request", "code is required")
    if not redirect_uri:
        return oauth_error("invalid_request", "redirect_uri is required")
    code, first_use = emulator.state.consume_code(value)
    if code is None:
        return oauth_error("invalid_grant", "the authorization code is invalid")
    if not first_use:
        return oauth_error(
            "invalid_grant", "the authorization code was already used; its tokens are revoked"
        )
    if code.expires_at <= emulator.config.clock():
        return oauth_error("invalid_grant", "the authorization code has expired")
    if code.client_id != client.client_id:
        return oauth_error("invalid_grant", "the authorization code was issued to another client")
    if redirect_uri != code.redirect_uri:
        return oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
    if code.code_challenge is not None:
        if verifier is None or not CODE_CHALLENGE_RE.match(verifier):
            return oauth_error("invalid_grant", "a valid code_verifier is required")
        if not hmac.compare_digest(s256(verifier), code.code_challenge):
            return oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
    elif verifier is not None:
        return oauth_error("invalid_grant", "no code_challenge was sent with this authorization")
    resource, refusal = _audience(code.resource)
    if refusal is not None:
        return refusal
    issued = emulator.state.issue_tokens(
        client_id=client.client_id,
        user_id=code.user_id,
        scopes=code.scopes,
        grant_id=code.grant_id,
        with_refresh=_offers_refresh(client, code.scopes),
        resource=resource,
        refresh_resource=code.resource,
        sign_jwt=_jwt_signer(emulator),
    )
    return _token_response(emulator, client, issued, code.nonce)


def _offers_refresh(client: OAuthClient, scopes: tuple[str, ...]) -> bool:
    return "offline_access" in scopes and "refresh_token" in client.grant_types


def _refresh_token(emulator: Emulator, client: OAuthClient) -> Response:
    value = request.form.get("refresh_token", "")
    if not value:
        return oauth_error("invalid_request", "refresh_token is required")
    record = emulator.state.lookup(value)
    if record is None or record.kind != "refresh":
        return oauth_error("invalid_grant", "the refresh token is invalid")
    if record.client_id != client.client_id:
        return oauth_error("invalid_grant", "the refresh token was issued to another client")
    scopes = record.scopes
    raw_scope = request.form.get("scope")
    if raw_scope is not None:
        narrowed, reason = parse_scopes(raw_scope, record.scopes, emulator.config.known_scopes)
        if narrowed is None:
            return oauth_error("invalid_scope", f"{reason}; it must not exceed the original grant")
        scopes = narrowed
    resource, refusal = _audience(record.resource)
    if refusal is not None:
        return refusal
    if emulator.state.take_refresh_token(value) is None:  # lost a race with another refresh
        return oauth_error("invalid_grant", "the refresh token is invalid")
    issued = emulator.state.issue_tokens(
        client_id=client.client_id,
        user_id=record.user_id,
        scopes=scopes,
        grant_id=record.grant_id,
        with_refresh=True,
        refresh_scopes=record.scopes,
        resource=resource,
        refresh_resource=record.resource,
        sign_jwt=_jwt_signer(emulator),
    )
    return _token_response(emulator, client, issued, None)
