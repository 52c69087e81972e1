"""The instance's signing key, for ``id_token`` only.

Access tokens are opaque (``oat_…``), so nothing else is signed. The RSA key is made on first
use, not at start-up: most tests never ask for ``openid`` and should not pay for key
generation. Each emulator has its own key, so a client that verified an ``id_token`` against
the wrong instance's JWKS fails, as it would with Clerk.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RS256 key made lazily and published as a JWK."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | None = None
        self.kid = "ins_emulator_" + secrets.token_hex(8)

    def _private(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def jwk(self) -> dict[str, str]:
        numbers = self._private().public_key().public_numbers()
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": _int_b64url(numbers.n),
            "e": _int_b64url(numbers.e),
        }

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT of ``claims`` with this key's ``kid``."""
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
            for part in (header, claims)
        )
        signature = self._private().sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return signing_input + "." + b64url(signature)
