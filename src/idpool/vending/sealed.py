"""Vended credentials that carry their own meaning: verifiable anywhere, stored nowhere.

Design (docs/credentials.md, "How vended credentials are built"):

* One server key per deployment, derived with HKDF-SHA256 from idpool's key secret (the secret
  that already encrypts the signing keys, and that every replica must share). From it come two
  independent 32-byte keys: a MAC key and an AES-256-GCM key.
* `AccessKeyId` = `ASIA` + 16 random upper-case hex digits (64 random bits).
* `SecretAccessKey` = the first 40 characters of base64(HMAC-SHA256(MAC key, access key id)):
  any replica recomputes it from the key id alone, so nothing is written anywhere per vend.
* `SessionToken` = base64(version byte ‖ 12-byte random nonce ‖ AES-GCM ciphertext and tag) of
  the session (account, role ARN, session name, identity id, pool id, auth type, provider,
  expiry), with the access key id as associated data: the token cannot be read without the
  server key, cannot be altered, and cannot be paired with another access key id.

So verifying a signature made with them costs one AES-GCM open and one HMAC, on any worker or
replica, until the sealed expiry; whether the identity is still live is checked separately,
against the store, at verification time (auth/sessions.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idpool.domain.records import Credentials, VendedSession

_VERSION = 1
_INFO = b"idpool vended credentials v1"
_NONCE = 12
_MAX_TOKEN_CHARS = 4096  # ours are ~400; anything longer is not ours and is not decoded


class CredentialSealer:
    """Mints and opens vended credentials with keys derived from one server secret."""

    def __init__(self, server_secret: str | bytes) -> None:
        material = server_secret.encode() if isinstance(server_secret, str) else server_secret
        if not material:
            raise ValueError("the server secret of vended credentials must not be empty")
        keys = HKDF(hashes.SHA256(), length=64, salt=None, info=_INFO).derive(material)
        self._mac_key = keys[:32]
        self._aead = AESGCM(keys[32:])

    def secret_for(self, access_key_id: str) -> str:
        digest = hmac.digest(self._mac_key, access_key_id.encode(), hashlib.sha256)
        return base64.b64encode(digest).decode("ascii")[:40]

    def mint(self, session: VendedSession) -> Credentials:
        random = secrets.token_bytes(8 + _NONCE)  # one read of the OS random source
        # 64 random bits as 16 upper-case hex digits: AWS's key-id alphabet, and hex is C-fast
        # where base32 is pure Python. The key id is no secret; uniqueness is all it needs.
        access_key_id = "ASIA" + random[:8].hex().upper()
        payload = orjson.dumps(
            [
                session.account_id,
                session.role_arn,
                session.session_name,
                session.identity_id,
                session.pool_id,
                session.authenticated,
                session.provider,
                session.expires_at,
            ]
        )
        nonce = random[8:]
        sealed = self._aead.encrypt(nonce, payload, access_key_id.encode())
        token = base64.b64encode(bytes([_VERSION]) + nonce + sealed).decode("ascii")
        return Credentials(
            access_key_id=access_key_id,
            secret_key=self.secret_for(access_key_id),
            session_token=token,
            expiration=session.expires_at,
        )

    def open(self, access_key_id: str, session_token: str) -> tuple[str, VendedSession] | None:
        """(secret access key, session) when the pair is ours and intact, else None.

        Expiry is not checked here: the caller compares `expires_at` with its clock, so that an
        expired credential gets its own error.
        """
        if len(session_token) > _MAX_TOKEN_CHARS or not access_key_id.startswith("ASIA"):
            return None
        try:
            raw = base64.b64decode(session_token, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) < 1 + _NONCE + 16 or raw[0] != _VERSION:
            return None
        try:
            payload = self._aead.decrypt(
                raw[1 : 1 + _NONCE], raw[1 + _NONCE :], access_key_id.encode("utf-8", "replace")
            )
            fields = orjson.loads(payload)
            session = VendedSession(
                account_id=str(fields[0]),
                role_arn=str(fields[1]),
                session_name=str(fields[2]),
                identity_id=str(fields[3]),
                pool_id=str(fields[4]),
                authenticated=bool(fields[5]),
                provider=str(fields[6]),
                expires_at=float(fields[7]),
            )
        except (InvalidTag, orjson.JSONDecodeError, IndexError, TypeError, ValueError):
            return None
        return self.secret_for(access_key_id), session
