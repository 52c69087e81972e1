"""Wiring of the local JWT checks into one app: its JWKS through ``upstream``, its audiences.

``local_jwt`` and ``jwks`` know nothing of settings or HTTP; this is where an app's settings
become a ``LocalJwtVerifier``: keys fetched from ``{issuer}/.well-known/jwks.json`` with the
app's pooled, cookie-free sessions and timeouts; audiences accepted being the accepted client
ids and this server's two resource URLs (``CLERK_BASE_URL + CLERK_MCP_PATH`` and
``CLERK_BASE_URL``). And where a JWT's ``AccessToken`` is built from its signed claims.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .errors import UpstreamUnavailable
from .jwks import FetchJson, JwksCache
from .local_jwt import AudiencePolicy, LocalJwtVerifier, VerifiedJwt
from .settings import Settings
from .tokens import AccessToken
from .upstream import Upstream, json_object

PROFILE_CLAIMS = (
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "picture",
    "preferred_username",
)
ORG_CLAIMS = ("org_id", "org_name", "org_slug", "org_role")


#: A JWKS of Clerk's is ~1 KB; a body past this is no JWKS of a sane issuer.
JWKS_MAX_BYTES = 64 * 1024
#: Seconds between JWKS fetches triggered by unknown ``kid``s, whatever their number.
JWKS_REFETCH_INTERVAL = 10.0
#: Seconds after which known keys are refreshed (a key Clerk unpublished stops verifying).
JWKS_MAX_AGE = 600.0


def jwks_uri(settings: Settings) -> str:
    """Clerk's JWKS: the keys that sign its JWT access tokens."""
    return f"{settings.issuer}/.well-known/jwks.json"


def resource_urls(settings: Settings) -> tuple[str, str]:
    """This server's RFC 8707 resource URLs, which a JWT's ``aud`` may name."""
    return (settings.mcp_resource, settings.base_url)


def jwks_fetcher(upstream: Upstream) -> FetchJson:
    """``fetch_json`` for ``JwksCache``: GET through ``upstream``, a JSON object or
    ``UpstreamUnavailable`` (the cache logs it and keeps the keys it has)."""

    def fetch(url: str) -> object:
        try:
            response = upstream.get(url, max_bytes=JWKS_MAX_BYTES)
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"the JWKS fetch failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise UpstreamUnavailable(f"the JWKS answered HTTP {response.status_code}")
        return json_object(response)

    return fetch


def local_verifier(
    settings: Settings,
    upstream: Upstream,
    *,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> LocalJwtVerifier | None:
    """The app's local JWT checks; None when ``CLERK_TOKEN_VERIFICATION`` is introspection."""
    if settings.verification == "introspection":
        return None
    jwks = JwksCache(
        jwks_uri(settings),
        jwks_fetcher(upstream),
        clock=monotonic,
        refetch_interval=JWKS_REFETCH_INTERVAL,
        max_age=JWKS_MAX_AGE,
    )
    return LocalJwtVerifier(
        issuer=settings.issuer,
        jwks=jwks,
        audience=AudiencePolicy.of(settings.accepted_client_ids, resource_urls(settings)),
        clock=clock,
    )


def add_profile(claims: dict[str, Any], profile: dict[str, Any] | None) -> None:
    """Profile claims where the token's own claims are silent; the whole profile as
    ``clerk_user``."""
    if profile is not None:
        for name in ("sub", *PROFILE_CLAIMS, *ORG_CLAIMS):
            if name in profile:
                claims.setdefault(name, profile[name])  # the token's claims win where both speak
        claims["clerk_user"] = profile


def jwt_access_token(
    token: str,
    checked: VerifiedJwt,
    scopes: tuple[str, ...],
    answer: Mapping[str, Any],
    profile: dict[str, Any] | None,
) -> AccessToken:
    """A JWT's ``AccessToken``: its signed claims, then introspection's, then the profile's."""
    claims = dict(checked.claims)
    for name, value in answer.items():
        claims.setdefault(name, value)
    add_profile(claims, profile)
    answered_client = answer.get("client_id")
    if not isinstance(answered_client, str):
        answered_client = ""
    return AccessToken(
        token=token,
        client_id=checked.client_id or answered_client,
        scopes=scopes,
        expires_at=checked.expires_at,
        subject=checked.subject,
        claims=claims,
    )
