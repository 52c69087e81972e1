"""Local checks of Clerk's JWT access tokens (RFC 9068 ``at+jwt``) against the instance's JWKS.

Clerk's new OAuth applications issue RS256 JWT access tokens whose keys sit at
``{issuer}/.well-known/jwks.json``. Checking one here costs no round trip, so a forged,
expired or misdirected token is refused without a call to Clerk (a garbage flood costs Clerk
nothing), and in ``"jwt"`` mode a good one is accepted on these checks alone.

PyJWT does the JOSE work (parsing, the signature, ``iss``); this module decides policy: RS256
only (every other algorithm refused before a key is looked up), an access token's ``typ``, the
audience, and time, compared here on the injected clock because PyJWT reads the wall clock.
The keys come from a ``jwks.JwksCache``. No token, claim or ``kid``
is ever logged or put in a message: messages are fixed ASCII, safe for a challenge.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWK

from .errors import InvalidToken
from .jwks import ALGORITHM, MAX_KEYS, MAX_KID_LENGTH, FetchJson, JwksCache, parse_jwks

__all__ = [  # the JWKS half lives in ``jwks``; re-exported so one import serves both
    "ALGORITHM",
    "MAX_KEYS",
    "AudiencePolicy",
    "FetchJson",
    "JwksCache",
    "LocalJwtVerifier",
    "VerifiedJwt",
    "looks_like_jwt",
    "parse_jwks",
]

log = logging.getLogger(__name__)

#: RFC 9068 §2.1 ``typ`` values, compared case-insensitively (RFC 7515 §4.1.9: a media type).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``, as for introspection.
LEEWAY = 10
#: Longer tokens are refused unparsed (the bearer parser's own limit is 4 KiB).
MAX_TOKEN_LENGTH = 4096
#: A JOSE header of Clerk's is ~100 characters; anything this long is not one.
MAX_HEADER_LENGTH = 1024
#: Times outside [0, 2**53] are absurd, whatever their type: refused, never compared.
MAX_TIME = 2**53

_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has the shape of a compact JWS: three base64url segments.

    Only the shape: opaque ``oat_…`` tokens (no dots) are not JWTs and go to introspection;
    a JWT-shaped string is judged by ``LocalJwtVerifier.verify``, which refuses garbage.
    """
    return _JWT_SHAPE.fullmatch(token) is not None


# -- the audience -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AudiencePolicy:
    """Whom a token may be for: client ids, and this server's resource URLs (RFC 8707).

    A token with ``aud`` (a string or a list of strings) is accepted when one entry is an
    accepted client id or one of ``resources`` (exact strings, e.g. ``CLERK_BASE_URL`` and
    ``CLERK_BASE_URL + CLERK_MCP_PATH``). Without ``aud``, its ``client_id`` (else ``azp``)
    must be an accepted client id. ``"*"`` among the client ids accepts any *client* of the
    instance (the weaker binding the settings document loudly), but never a token bound to
    another *server*: an ``aud`` naming a resource URL (RFC 8707, an absolute URI) that is not
    one of ours refuses the token even then, since Clerk bound it to where the client said it
    would be used.
    """

    client_ids: frozenset[str]
    resources: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, client_ids: Iterable[str], resources: Iterable[str] = ()) -> AudiencePolicy:
        """Build from any iterables (settings hold tuples)."""
        return cls(frozenset(client_ids), frozenset(resources))

    @property
    def any_client(self) -> bool:
        """``"*"`` among the client ids: the operator's deliberate, weaker binding."""
        return "*" in self.client_ids

    def accepts(self, claims: Mapping[str, Any]) -> bool:
        """Whether the signed claims name this server: ``aud`` when present, else the client."""
        if "aud" in claims:
            audiences = _strings(claims["aud"])
            if not audiences:  # malformed or empty: no audience can be shown
                return False
            if any(a in self.client_ids or a in self.resources for a in audiences):
                return True
            return self.any_client and not any(_is_resource(a) for a in audiences)
        party = claims["client_id"] if "client_id" in claims else claims.get("azp")
        return (
            isinstance(party, str) and bool(party) and (self.any_client or party in self.client_ids)
        )


def _is_resource(audience: str) -> bool:
    """An RFC 8707 resource indicator (an absolute URI), as opposed to a client id."""
    return "://" in audience


def _strings(value: object) -> tuple[str, ...]:
    """A string or a list of non-empty strings as a tuple; anything else as ``()``."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return ()


# -- the token --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedJwt:
    """What the local checks established about one JWT access token.

    ``claims`` is the whole signed payload; ``client_id`` is its ``client_id`` (else ``azp``),
    ``scopes`` its ``scope`` (space-separated) or ``scp`` (a list), ``expires_at`` its ``exp``.
    """

    claims: Mapping[str, Any] = field(repr=False)
    subject: str
    client_id: str | None
    scopes: tuple[str, ...]
    expires_at: int
    key_id: str


class LocalJwtVerifier:
    """Checks one issuer's ``at+jwt`` access tokens; ``verify`` raises or returns the facts."""

    def __init__(
        self,
        *,
        issuer: str,
        jwks: JwksCache,
        audience: AudiencePolicy,
        clock: Callable[[], float] = time.time,
        leeway: int = LEEWAY,
    ) -> None:
        self.issuer = issuer
        self.jwks = jwks
        self.audience = audience
        self._clock = clock
        self._leeway = leeway

    def verify(self, token: str) -> VerifiedJwt:
        """Every local check, cheapest first; ``InvalidToken`` with the reason on a refusal,
        ``UpstreamUnavailable`` when the token's key is unknown and the JWKS unreachable."""
        if len(token) > MAX_TOKEN_LENGTH or not looks_like_jwt(token):
            raise InvalidToken("The access token is not a well-formed JWT")
        if len(token.partition(".")[0]) > MAX_HEADER_LENGTH:
            raise InvalidToken("The access token's header is too large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The access token is not a well-formed JWT") from None
        kid = _check_header(header)
        key = self.jwks.key(kid)
        if key is None:
            raise InvalidToken("The access token was signed by an unknown key")
        claims = self._decode(token, key)
        return self._check_claims(claims, kid)

    def _decode(self, token: str, key: PyJWK) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={
                    "require": ["iss", "sub", "exp"],
                    "verify_exp": False,  # compared below, on the injected clock
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,  # the audience policy is ours
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken("The access token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"The access token has no {error.claim} claim") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("The access token was issued by another issuer") from None
        except jwt.PyJWTError:
            raise InvalidToken("The access token is not a valid JWT") from None
        return claims

    def _check_claims(self, claims: dict[str, Any], kid: str) -> VerifiedJwt:
        now, leeway = self._clock(), self._leeway
        exp = _time_claim(claims, "exp")
        nbf = _time_claim(claims, "nbf")
        iat = _time_claim(claims, "iat")
        if exp is None:
            raise InvalidToken("The access token has no exp claim")
        if exp <= now - leeway:
            raise InvalidToken("The access token has expired")
        if nbf is not None and nbf > now + leeway:
            raise InvalidToken("The access token is not valid yet")
        if iat is not None and iat > now + leeway:
            raise InvalidToken("The access token was issued in the future")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("The access token names no subject")
        if not self.audience.accepts(claims):
            raise InvalidToken("The access token is not meant for this server")
        party = claims["client_id"] if "client_id" in claims else claims.get("azp")
        return VerifiedJwt(
            claims=claims,
            subject=subject,
            client_id=party if isinstance(party, str) and party else None,
            scopes=_scopes(claims),
            expires_at=int(exp),
            key_id=kid,
        )


def _check_header(header: Mapping[str, Any]) -> str:
    """The header's ``kid`` once ``alg``, ``typ`` and the rest pass; else ``InvalidToken``."""
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("The access token's signing algorithm is not allowed")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("The token is not an access token")
    if "crit" in header or "b64" in header:
        raise InvalidToken("The access token uses an unsupported JOSE extension")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        raise InvalidToken("The access token names no usable signing key")
    return kid


def _time_claim(claims: Mapping[str, Any], name: str) -> int | float | None:
    """A NumericDate claim, ``None`` when absent; ``InvalidToken`` when not a sane number."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"The access token's {name} claim is not a number")
    if not 0 <= value <= MAX_TIME:  # also refuses NaN, which compares false both ways
        raise InvalidToken(f"The access token's {name} claim is out of range")
    return value


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return tuple(s for s in scope.split(" ") if s)
    scp = claims.get("scp", scope)
    if isinstance(scp, list):
        return tuple(s for s in scp if isinstance(s, str) and s)
    return ()
