"""Encryption at rest of idpool's private signing keys.

The database holds every replica's shared signing keys; anyone who can read a backup must not
be able to mint tokens. Each key is sealed with AES-256-GCM under a key derived by scrypt from
the operator's secret and a random per-record salt, so a human-chosen secret is still costly
to guess. The key id is bound as associated data: a sealed key copied onto another row does
not open.

Blob layout: ``b"idpk1"`` | salt (16) | nonce (12) | ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

_MAGIC = b"idpk1"
_SALT = 16
_NONCE = 12
# scrypt cost: ~65 ms on the reference machine, paid once per key and process (see _derive).
_N, _R, _P = 2**15, 8, 1


class KeySecretMismatch(Exception):
    """The configured key secret does not open the stored signing keys.

    Raised at start-up so the server refuses to run instead of minting a second, unrelated key
    set that relying parties would not trust.
    """


@lru_cache(maxsize=64)
def _derive(secret: str, salt: bytes) -> bytes:
    """The AES key for one record; cached because replicas re-read keys on every refresh."""
    return Scrypt(salt=salt, length=32, n=_N, r=_R, p=_P).derive(secret.encode())


def seal(plaintext: bytes, secret: str, *, context: bytes) -> bytes:
    """Encrypt `plaintext`; `context` (the key id) must be given again to open it."""
    if not secret:
        raise ValueError("the key secret must not be empty")
    salt = os.urandom(_SALT)
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_derive(secret, salt)).encrypt(nonce, plaintext, _MAGIC + context)
    return _MAGIC + salt + nonce + sealed


def unseal(blob: bytes, secret: str, *, context: bytes) -> bytes:
    """Decrypt a blob made by `seal`; a wrong secret or context raises KeySecretMismatch."""
    header = len(_MAGIC) + _SALT + _NONCE
    if not blob.startswith(_MAGIC) or len(blob) < header + 16:
        raise KeySecretMismatch(
            f"Signing key {context.decode(errors='replace')!r} is not in a format this version "
            "of idpool can read."
        )
    salt = blob[len(_MAGIC) : len(_MAGIC) + _SALT]
    nonce = blob[len(_MAGIC) + _SALT : header]
    try:
        return AESGCM(_derive(secret, salt)).decrypt(nonce, blob[header:], _MAGIC + context)
    except InvalidTag:
        raise KeySecretMismatch(
            f"Cannot decrypt signing key {context.decode(errors='replace')!r}: the key secret "
            "changed since the key was stored. Start idpool with the previous --key-secret "
            "(IDPOOL_KEY_SECRET); every replica sharing the database needs the same secret."
        ) from None
