"""What a client learns about a user, by scope: userinfo, introspection, ``id_token`` and the
claims of a JWT access token.

One place decides which claim each scope releases, so userinfo, introspection and the tokens
can never disagree. The field sets are Clerk's (``OAuth.UserInfo`` and ``OAuth.TokenInfo``,
both ``additionalProperties: false``): nothing is added for convenience.
"""

from __future__ import annotations

import secrets
from typing import Any

from .config import DemoUser, EmulatorConfig
from .state import TokenRecord


def user_by_id(config: EmulatorConfig, user_id: str) -> DemoUser | None:
    for user in config.users.values():
        if user.user_id == user_id:
            return user
    return None


def _profile(user: DemoUser) -> dict[str, Any]:
    return {
        "given_name": user.first_name,
        "family_name": user.last_name,
        "name": user.full_name,
        "picture": user.image_url,
        "preferred_username": user.username,
    }


def userinfo(config: EmulatorConfig, user: DemoUser, scopes: tuple[str, ...]) -> dict[str, Any]:
    """``GET /oauth/userinfo``: always the ids; the rest only as the token's scopes allow."""
    claims: dict[str, Any] = {
        "object": "oauth_user_info",
        "instance_id": config.instance_id,
        "sub": user.user_id,
        "user_id": user.user_id,
    }
    if "profile" in scopes:
        claims.update(_profile(user))
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "public_metadata" in scopes:
        claims["public_metadata"] = dict(user.public_metadata)
        claims["unsafe_metadata"] = dict(user.unsafe_metadata)
    if "private_metadata" in scopes:
        claims["private_metadata"] = dict(user.private_metadata)
    if "user:org:read" in scopes and user.org_id:
        claims["org_id"] = user.org_id
        claims["org_name"] = user.org_name
        claims["org_slug"] = user.org_slug
    return claims


def token_info(record: TokenRecord, user: DemoUser | None) -> dict[str, Any]:
    """RFC 7662 as Clerk answers it: thin, no ``exp``, ``aud`` or ``token_type``.

    Answered the same for access and refresh tokens: Clerk cannot tell them apart here.
    """
    info: dict[str, Any] = {
        "active": True,
        "client_id": record.client_id,
        "iat": record.issued_at,
        "scope": " ".join(record.scopes),
        "sub": record.user_id,
    }
    if user is not None and user.org_id and "user:org:read" in record.scopes:
        info["org_id"] = user.org_id
    return info


def id_token(
    *,
    issuer: str,
    client_id: str,
    user: DemoUser,
    scopes: tuple[str, ...],
    issued_at: int,
    ttl: int,
    nonce: str | None,
) -> dict[str, Any]:
    """The claims of an OIDC ``id_token``: ``aud`` is the client, ``iss`` the instance."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user.user_id,
        "aud": client_id,
        "iat": issued_at,
        "exp": issued_at + ttl,
        "auth_time": issued_at,
    }
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scopes:
        claims.update(_profile(user))
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "user:org:read" in scopes and user.org_id:
        claims["org_id"] = user.org_id
    return claims


def access_token_claims(record: TokenRecord, *, issuer: str) -> dict[str, Any]:
    """The claims of a JWT access token (RFC 9068), as far as Clerk's are known.

    ``iss``, ``sub``, ``client_id``, ``scope`` (space-separated), ``iat``, ``nbf``, ``exp`` and a
    ``jti`` in Clerk's token-id shape (``oat_…``); no profile claims (those stay behind
    userinfo). ``aud`` is the RFC 8707 ``resource`` when the client sent one; without one the
    token carries no ``aud`` at all: Clerk documents none, and its SDK reads ``aud`` only
    "when present", so a resource server must fall back to ``client_id``. No ``azp`` either:
    that is an ID-token and session-token claim, and ``client_id`` names the client here.
    """
    expires_at = record.expires_at if record.expires_at is not None else record.issued_at
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": record.user_id,
        "client_id": record.client_id,
        "scope": " ".join(record.scopes),
        "iat": record.issued_at,
        "nbf": record.issued_at,
        "exp": int(expires_at),
        "jti": "oat_" + secrets.token_hex(16).upper(),
    }
    if record.resource is not None:
        claims["aud"] = record.resource
    return claims
