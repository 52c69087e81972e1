"""StoreCipher and derive_store_key: AES-GCM bound to the key name, secrets never shown."""

from __future__ import annotations

import pickle

import pytest

from flask_clerk_mcp.store import StoreCipher, TamperedValue, derive_store_key


def test_round_trip(cipher: StoreCipher) -> None:
    blob = cipher.encrypt("session:1", b"payload")
    assert cipher.decrypt("session:1", blob) == b"payload"


def test_blob_is_versioned_and_hides_the_plaintext(cipher: StoreCipher) -> None:
    blob = cipher.encrypt("k", b"refresh-token-value")
    assert blob[0] == 1
    assert b"refresh-token-value" not in blob
    assert len(blob) == 1 + 12 + len(b"refresh-token-value") + 16


def test_nonces_are_random(cipher: StoreCipher) -> None:
    assert cipher.encrypt("k", b"same") != cipher.encrypt("k", b"same")


def test_a_blob_under_another_key_name_fails(cipher: StoreCipher) -> None:
    blob = cipher.encrypt("session:alice", b"alice's session")
    with pytest.raises(TamperedValue):
        cipher.decrypt("session:mallory", blob)


@pytest.mark.parametrize("position", [0, 1, 13, -1])
def test_any_flipped_byte_fails(cipher: StoreCipher, position: int) -> None:
    blob = bytearray(cipher.encrypt("k", b"payload"))
    blob[position] ^= 0x01
    with pytest.raises(TamperedValue):
        cipher.decrypt("k", bytes(blob))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + b"\x00" * 27])
def test_truncated_blobs_fail(cipher: StoreCipher, blob: bytes) -> None:
    with pytest.raises(TamperedValue):
        cipher.decrypt("k", blob)


def test_another_key_fails(cipher: StoreCipher) -> None:
    other = StoreCipher(derive_store_key("another secret"))
    with pytest.raises(TamperedValue):
        other.decrypt("k", cipher.encrypt("k", b"payload"))


def test_derive_is_deterministic_32_bytes_and_separates_inputs() -> None:
    assert derive_store_key("s") == derive_store_key(b"s")
    assert len(derive_store_key("s")) == 32
    assert len(derive_store_key("x" * 10_000)) == 32
    assert derive_store_key("s") != derive_store_key("t")
    # Not the raw material: a 32-byte secret is still stretched, never used as is.
    raw = bytes(range(32))
    assert derive_store_key(raw) != raw


def test_derive_refuses_empty_material() -> None:
    with pytest.raises(ValueError, match="empty"):
        derive_store_key("")


@pytest.mark.parametrize("key", [b"short", b"x" * 31, b"x" * 33, "x" * 32])
def test_cipher_needs_exactly_32_bytes(key: object) -> None:
    with pytest.raises(ValueError, match="derive_store_key"):
        StoreCipher(key)  # type: ignore[arg-type]


def test_repr_and_errors_hide_the_key() -> None:
    key = derive_store_key("top secret")
    cipher = StoreCipher(key)
    assert repr(cipher) == "StoreCipher(<key hidden>)"
    assert key.hex() not in repr(cipher) and repr(key) not in repr(cipher)
    with pytest.raises(TamperedValue) as caught:
        cipher.decrypt("k", b"\x01" + b"\x00" * 40)
    assert key.hex() not in str(caught.value)


def test_cipher_cannot_be_pickled(cipher: StoreCipher) -> None:
    with pytest.raises(TypeError):
        pickle.dumps(cipher)


def test_from_secret_matches_derive() -> None:
    blob = StoreCipher.from_secret("s").encrypt("k", b"v")
    assert StoreCipher(derive_store_key("s")).decrypt("k", blob) == b"v"


@pytest.mark.parametrize("material", [True, 1, 12345678901234567890123, 3.5, None])
def test_key_material_that_is_not_text_or_bytes_is_refused(material: object) -> None:
    with pytest.raises(TypeError, match="text or bytes"):
        derive_store_key(material)  # type: ignore[arg-type]
