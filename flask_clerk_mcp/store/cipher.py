"""Encryption at rest for the store: AES-256-GCM, bound to the entry's key.

Why authenticated encryption and not just a signature: the store holds refresh tokens and
one-time codes, so whoever can read the directory or the Redis keyspace must learn nothing,
and whoever can write it must not be able to forge or swap an entry. The store key name is
the associated data, so a value copied under another key fails to decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Fixed HKDF label: a store key is independent of every other use of the same secret
#: (Flask signs its session cookie with ``SECRET_KEY`` too).
_HKDF_INFO = b"flask_clerk_mcp store key v1"
_VERSION = b"\x01"
_NONCE_SIZE = 12
_TAG_SIZE = 16
KEY_SIZE = 32


class TamperedValue(ValueError):
    """A stored blob failed authentication: tampered with, truncated, or another key's."""


def derive_store_key(secret: str | bytes) -> bytes:
    """Derive the 32-byte store key from ``CLERK_STORE_KEY`` or ``SECRET_KEY`` (HKDF-SHA256).

    Any length of input works; the result is uniform either way. An empty secret is refused
    because it would encrypt with a key everyone knows.
    """
    if not isinstance(secret, (str, bytes)):  # bytes(True) would be b"\x00": a public key
        raise TypeError(f"store key material is text or bytes, not {type(secret).__name__}")
    material = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not material:
        raise ValueError("the store key material (CLERK_STORE_KEY or SECRET_KEY) is empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=_HKDF_INFO)
    return hkdf.derive(material)


class StoreCipher:
    """Encrypts store values with AES-256-GCM under one key.

    Blob layout: ``version (1 byte) | nonce (12 bytes, random) | ciphertext + tag``. The
    version byte lets a later format coexist; the associated data is the version byte plus
    the store key name, so neither can be changed without failing authentication. A random
    96-bit nonce is safe far beyond the number of values a login store writes under one key.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise ValueError(
                "StoreCipher needs a 32-byte key: build it with derive_store_key(secret)"
            )
        self._aead = AESGCM(key)

    @classmethod
    def from_secret(cls, secret: str | bytes) -> StoreCipher:
        """A cipher keyed by ``derive_store_key(secret)``."""
        return cls(derive_store_key(secret))

    def encrypt(self, key: str, plaintext: bytes) -> bytes:
        """Encrypt ``plaintext`` for storage under the store key ``key``."""
        nonce = os.urandom(_NONCE_SIZE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _aad(key))

    def decrypt(self, key: str, blob: bytes) -> bytes:
        """Decrypt a blob stored under ``key``; raise ``TamperedValue`` if it is not genuine."""
        if len(blob) < 1 + _NONCE_SIZE + _TAG_SIZE or blob[:1] != _VERSION:
            raise TamperedValue("store value has an unknown format")
        nonce = blob[1 : 1 + _NONCE_SIZE]
        try:
            return self._aead.decrypt(nonce, blob[1 + _NONCE_SIZE :], _aad(key))
        except InvalidTag:
            raise TamperedValue("store value failed authentication") from None

    def __repr__(self) -> str:
        return "StoreCipher(<key hidden>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        # A cipher must not be pickled: that would write the key wherever the pickle goes.
        raise TypeError("StoreCipher cannot be pickled")


def _aad(key: str) -> bytes:
    return _VERSION + key.encode("utf-8")
