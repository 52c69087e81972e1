"""The client half of Clerk's OAuth: PKCE, the authorize URL, the token endpoint, revocation.

This server is a confidential client, so every token-endpoint call authenticates with
``client_secret_basic`` and every authorization request carries an S256 PKCE challenge.

Why oauthlib's ``WebApplicationClient`` (the engine inside requests-oauthlib) over our own
pooled, cookie-free ``upstream.Upstream`` rather than requests-oauthlib's
``OAuth2Session.fetch_token`` (which is why requests-oauthlib is not a dependency):

- ``OAuth2Session`` refuses plain-http token endpoints unless the process-global environment
  variable ``OAUTHLIB_INSECURE_TRANSPORT`` is set, and ``CLERK_ISSUER_URL`` legitimately points
  at a loopback http emulator in development and tests; setting that variable from a library
  would relax the check for every other OAuth client in the process. Our settings already
  allow plain http only for loopback issuers.
- ``OAuth2Session`` logs whole token responses at DEBUG ("Obtained token …"); tokens must
  never reach a log, whatever level an application picks.
- ``requests``' ``HTTPBasicAuth`` does not form-urlencode the credentials first, which
  RFC 6749 §2.3.1 requires; ``upstream.basic_auth_header`` does.
- Its ``pkce=`` option loses the verifier between the login and callback requests (the
  verifier lives on the session object): we generate and keep it ourselves.

oauthlib still builds the token request bodies and parses the answers (errors become
``OAuth2Error`` subclasses), so the protocol details are not re-implemented here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlencode

import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient  # type: ignore[import-untyped]

from ..settings import Settings
from ..upstream import Upstream, json_object

log = logging.getLogger("flask_clerk_mcp")

#: Seconds per revocation call: logout must not hang on a slow Clerk.
REVOCATION_TIMEOUT = (2.0, 3.0)
#: An ``expires_in`` past ten years is not a lifetime but nonsense (and would overflow).
MAX_EXPIRES_IN = 10 * 365 * 86400
#: RFC 6749 Appendix A.12: a token is printable ASCII (VSCHAR); nothing else is stored.
_TOKEN_CHARS = re.compile(r"^[\x20-\x7e]+$")


class TokenRefused(Exception):
    """Clerk answered the token request with an OAuth error (``invalid_grant``, …).

    A verdict on the grant: the code or refresh token is no good. ``error`` is the OAuth error
    code as Clerk sent it (safe to show: never a token).
    """

    def __init__(self, error: str) -> None:
        super().__init__(f"the token endpoint refused the grant ({error})")
        self.error = error


class TokenEndpointUnavailable(Exception):
    """Clerk gave no verdict (down, slow, nonsense, or our own credentials refused)."""


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint issued; the tokens stay out of ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: int | None
    scope: tuple[str, ...]


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(verifier, S256 challenge)`` (RFC 7636 §4.1-4.2).

    64 random bytes give an 86-character verifier, inside the 43-128 range.
    """
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def new_state() -> str:
    """An unguessable ``state``: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def authorization_url(
    settings: Settings,
    *,
    redirect_uri: str,
    scopes: tuple[str, ...],
    state: str,
    challenge: str,
    resource: str | None = None,
) -> str:
    """Clerk's authorize URL for one login (RFC 6749 §4.1.1 plus RFC 7636); ``resource`` is
    the RFC 8707 target the tokens are for (the MCP proxy forwards its client's)."""
    params = {
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if resource is not None:
        params["resource"] = resource
    return f"{settings.authorization_endpoint}?{urlencode(params)}"


def exchange_code(
    settings: Settings,
    http: Upstream,
    *,
    code: str,
    redirect_uri: str,
    verifier: str,
    clock: Callable[[], float] = time.time,
    resource: str | None = None,
) -> TokenSet:
    """Trade an authorization code for tokens (``grant_type=authorization_code``)."""
    client = WebApplicationClient(settings.client_id)
    extra = {"resource": resource} if resource is not None else {}
    body = client.prepare_request_body(
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        include_client_id=False,
        **extra,
    )
    return _token_request(settings, http, body, clock)


def refresh(
    settings: Settings,
    http: Upstream,
    *,
    refresh_token: str,
    clock: Callable[[], float] = time.time,
    resource: str | None = None,
    scope: str | None = None,
) -> TokenSet:
    """New tokens for a refresh token (``grant_type=refresh_token``).

    When Clerk rotates the refresh token the new one is returned; when it does not, the old
    one stays valid and is kept. ``resource`` (RFC 8707) and ``scope`` (a narrowing, RFC 6749
    §6) are sent when given.
    """
    client = WebApplicationClient(settings.client_id)
    extra = {"resource": resource} if resource is not None else {}
    body = client.prepare_refresh_body(refresh_token=refresh_token, scope=scope, **extra)
    tokens = _token_request(settings, http, body, clock)
    if tokens.refresh_token is None:
        tokens = TokenSet(tokens.access_token, refresh_token, tokens.expires_at, tokens.scope)
    return tokens


def revoke(settings: Settings, http: Upstream, token: str, hint: str) -> bool:
    """Best-effort RFC 7009 revocation; True when Clerk confirmed it.

    Never raises: logout goes on whatever Clerk says. Clerk answers
    ``unsupported_token_type`` for JWT access tokens (they cannot be revoked; they expire).
    """
    if not http.has_secret:
        return False
    try:
        response = http.post_form(
            settings.revocation_endpoint,
            {"token": token, "token_type_hint": hint},
            timeout=REVOCATION_TIMEOUT,
        )
    except requests.RequestException as exc:
        log.warning("revoking the %s at Clerk failed (%s)", hint, type(exc).__name__)
        return False
    if response.status_code != 200:
        log.info("Clerk did not revoke the %s (HTTP %d)", hint, response.status_code)
        return False
    return True


def _token_request(
    settings: Settings, http: Upstream, body: str, clock: Callable[[], float]
) -> TokenSet:
    if not http.has_secret:
        raise TokenEndpointUnavailable("CLERK_CLIENT_SECRET is not set")
    try:
        response = http.post_form(settings.token_endpoint, body)
    except requests.RequestException as exc:
        log.warning("Clerk token endpoint unavailable (%s)", type(exc).__name__)
        raise TokenEndpointUnavailable(type(exc).__name__) from None
    status = response.status_code
    if status in (401, 403):
        log.error(
            "Clerk refused our client credentials at the token endpoint (HTTP %d): "
            "check CLERK_CLIENT_ID and CLERK_CLIENT_SECRET",
            status,
        )
        raise TokenEndpointUnavailable(f"HTTP {status}")
    if status == 400:
        raise TokenRefused(_error_code(response))
    if status != 200:
        log.warning("Clerk token endpoint answered HTTP %d", status)
        raise TokenEndpointUnavailable(f"HTTP {status}")
    try:
        answer = WebApplicationClient(settings.client_id).parse_request_body_response(response.text)
    except OAuth2Error as exc:
        if _names_an_error(response):
            raise TokenRefused(exc.error) from None
        # oauthlib's own complaint (no access_token, no token_type) about a 200 that names no
        # error: nonsense, not a refusal of the grant.
        raise _not_a_token_response() from None
    except (ValueError, TypeError, AttributeError, Warning, RecursionError, OverflowError):
        # RecursionError: JSON nested deeper than the parser recurses ("[[[[…");
        # OverflowError: an expires_in of 1e999 or of 400 digits, which oauthlib adds to the time;
        # AttributeError: a JSON array or string body, or a non-string "scope", which oauthlib
        # calls dict or str methods on.
        raise _not_a_token_response() from None
    return _token_set(answer, clock)


def _not_a_token_response() -> TokenEndpointUnavailable:
    log.warning("Clerk token endpoint answered something that is not a token response")
    return TokenEndpointUnavailable("not a token response")


def _names_an_error(response: requests.Response) -> bool:
    body = json_object(response)
    return body is not None and isinstance(body.get("error"), str)


def _token_set(answer: dict[str, Any], clock: Callable[[], float]) -> TokenSet:
    access = answer.get("access_token")
    refresh_token = answer.get("refresh_token")
    if not _is_token(access) or not (refresh_token is None or isinstance(refresh_token, str)):
        raise _not_a_token_response()
    if refresh_token and not _is_token(refresh_token):
        raise _not_a_token_response()
    expires_in = answer.get("expires_in")
    expires_at: int | None = None
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        if not expires_in <= MAX_EXPIRES_IN:
            raise _not_a_token_response()
        expires_at = int(clock() + expires_in)
    scope = answer.get("scope")
    scopes = tuple(scope) if isinstance(scope, list) else tuple(str(scope or "").split())
    return TokenSet(
        access_token=access,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
        scope=tuple(s for s in scopes if isinstance(s, str)),
    )


def _is_token(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_TOKEN_CHARS.match(value))


def _error_code(response: requests.Response) -> str:
    body = json_object(response)
    error = body.get("error") if body is not None else None
    if isinstance(error, str) and error.replace("_", "").isalpha() and len(error) <= 64:
        return error
    return "invalid_request"
