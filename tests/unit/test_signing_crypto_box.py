"""Private keys at rest: sealed with the key secret, bound to their key id."""

from __future__ import annotations

import pytest

from idpool.signing.crypto_box import KeySecretMismatch, seal, unseal

SECRET = "s3cret-for-tests"


def test_round_trip_and_fresh_salt_each_time() -> None:
    data = b"private key bytes" * 20
    first = seal(data, SECRET, context=b"kid-1")
    second = seal(data, SECRET, context=b"kid-1")
    assert first != second
    assert data not in first
    assert unseal(first, SECRET, context=b"kid-1") == data
    assert unseal(second, SECRET, context=b"kid-1") == data


def test_wrong_secret_says_the_key_secret_changed() -> None:
    blob = seal(b"data", SECRET, context=b"kid-1")
    with pytest.raises(KeySecretMismatch, match="key secret changed") as exc:
        unseal(blob, "other", context=b"kid-1")
    assert "IDPOOL_KEY_SECRET" in str(exc.value)


def test_a_blob_does_not_open_under_another_key_id() -> None:
    blob = seal(b"data", SECRET, context=b"kid-1")
    with pytest.raises(KeySecretMismatch):
        unseal(blob, SECRET, context=b"kid-2")


@pytest.mark.parametrize("position", [0, 8, 30, -1])
def test_tampered_or_foreign_blobs_are_refused(position: int) -> None:
    blob = bytearray(seal(b"data", SECRET, context=b"kid"))
    blob[position] ^= 0x01
    with pytest.raises(KeySecretMismatch):
        unseal(bytes(blob), SECRET, context=b"kid")


def test_empty_secret_is_not_a_secret() -> None:
    with pytest.raises(ValueError):
        seal(b"data", "", context=b"kid")
