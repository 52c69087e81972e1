"""The instance's RS256 signing keys: JWT access tokens and ``id_token``s.

One key signs; keys retired by a rotation may stay published in the JWKS for a while, as an
identity provider keeps them until the tokens they signed have expired, or be dropped at once
(what a key compromise looks like to a resource server). Tests drive both through the operator
controls, so "unknown ``kid``" and "rotated key" can be exercised without waiting.

Keys are made on first use, not at start-up: RSA generation costs tens of milliseconds and an
emulator that only answers discovery need not pay it. Each emulator has its own keys, so a
client that verifies against the wrong instance's JWKS fails, as it would with Clerk. JOSE is
PyJWT's (signing, the JWK form of the public key); nothing here is hand-rolled.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

#: RFC 9068 §2.1: the ``typ`` of a JWT access token.
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - a media type


class _Key:
    """One RSA key with its ``kid``; the private key is generated on first use."""

    def __init__(self) -> None:
        self.kid = "ins_emulator_" + secrets.token_hex(8)
        self._lock = threading.Lock()
        self._private: rsa.RSAPrivateKey | None = None

    def private(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._private is None:
                self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._private

    def jwk(self) -> dict[str, Any]:
        """The public key as Clerk publishes it: ``use``, ``kty``, ``kid``, ``alg``, ``n``,
        ``e``."""
        public = RSAAlgorithm.to_jwk(self.private().public_key(), as_dict=True)
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": public["n"],
            "e": public["e"],
        }


class KeyRing:
    """The signing key and the retired keys still published, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = _Key()
        self._retired: list[_Key] = []

    @property
    def kid(self) -> str:
        """The ``kid`` of the key that signs now."""
        with self._lock:
            return self._current.kid

    def published_kids(self) -> list[str]:
        """Every ``kid`` in the JWKS, the signing key first."""
        with self._lock:
            return [key.kid for key in (self._current, *self._retired)]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS document: the signing key, then the retired keys still published."""
        with self._lock:
            keys = [self._current, *self._retired]
        return {"keys": [key.jwk() for key in keys]}

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        """A compact RS256 JWT of ``claims``, with the signing key's ``kid`` and ``typ``."""
        with self._lock:
            key = self._current
        return jwt.encode(
            claims, key.private(), algorithm="RS256", headers={"kid": key.kid, "typ": typ}
        )

    def rotate(self, *, keep_previous: bool = True) -> str:
        """Sign with a new key from now on; return its ``kid``.

        ``keep_previous`` keeps the old key published (tokens it signed still verify);
        otherwise it leaves the JWKS at once, with every other retired key.
        """
        new = _Key()
        with self._lock:
            self._retired = [self._current, *self._retired] if keep_previous else []
            self._current = new
        return new.kid

    def drop_retired(self) -> list[str]:
        """Unpublish every retired key (the end of "for a while"); return their ``kid``s."""
        with self._lock:
            dropped, self._retired = self._retired, []
        return [key.kid for key in dropped]
