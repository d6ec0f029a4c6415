"""idpool's own signing keys: the active RSA key that signs tokens and the retired ones still
published in the JWKS.

Keys live in the shared database (the `KeyStore` port) so that every replica signs with, and
publishes, the same keys. The first start creates the key under the store's uniqueness guard;
the replica that loses that race reads and uses the winner's key. Private keys are sealed by
`crypto_box` before they reach the store.

Key ids are ``<region>-<RFC 7638 thumbprint>``: the AWS-like ``<region>-`` prefix, but derived
from the key itself, so two replicas can never invent the same id for different keys (a
counter such as AWS's ``<region>-<n>`` could collide with an expired row).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from idpool.domain.ports import KeyStore, StoredKey
from idpool.signing.crypto_box import KeySecretMismatch, seal, unseal

log = logging.getLogger("idpool.signing")

ALGORITHM = "RS512"
# GetOpenIdTokenForDeveloperIdentity allows TokenDuration up to a day.
MAX_TOKEN_LIFETIME = 86400
# Verifiers allow some clock skew after `exp`; a retired key stays published that much longer.
VERIFY_LEEWAY = 300
DEFAULT_RELOAD_SECONDS = 60.0
# A token with an unknown kid makes the keyring look in the store at most this often.
UNKNOWN_KID_RELOAD_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The key that signs new tokens."""

    kid: str
    private_key: rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A key in the JWKS: the active one or a retired one whose tokens may still be valid."""

    kid: str
    jwk: Mapping[str, Any]
    public_key: rsa.RSAPublicKey
    expires_at: float | None


def public_jwk(kid: str, key: rsa.RSAPublicKey) -> dict[str, Any]:
    """RFC 7517 RSA public key (base64url, no padding), with the members Cognito publishes."""
    numbers = RSAKey.import_key(key).as_dict(private=False)
    return {
        "kty": "RSA",
        "e": numbers["e"],
        "use": "sig",
        "kid": kid,
        "alg": ALGORITHM,
        "n": numbers["n"],
    }


def key_id(region: str, key: rsa.RSAPublicKey) -> str:
    return f"{region}-{RSAKey.import_key(key).thumbprint()}"


def minimum_overlap(reload_seconds: float) -> float:
    """How long a retired key must stay published.

    A replica that has not reloaded yet keeps signing with the old key for up to
    `reload_seconds`; its last token lives `MAX_TOKEN_LIFETIME`, and verifiers allow
    `VERIFY_LEEWAY` after that.
    """
    return MAX_TOKEN_LIFETIME + VERIFY_LEEWAY + reload_seconds


class Keyring:
    """Shared signing keys, cached in memory and re-read from the store every `reload_seconds`.

    Build it with `await Keyring.open(...)`.
    """

    def __init__(
        self,
        store: KeyStore,
        secret: str,
        clock: Callable[[], float],
        region: str,
        key_size: int,
        reload_seconds: float,
    ) -> None:
        self._store = store
        self._secret = secret
        self._clock = clock
        self._region = region
        self._key_size = key_size
        self._reload_seconds = reload_seconds
        self._published: tuple[PublishedKey, ...] = ()
        self._active: SigningKey | None = None
        self._loaded_at = float("-inf")
        self._unknown_kid_at = float("-inf")
        # The key this keyring created because the store had none (first start), if any.
        self.created_kid: str | None = None

    @classmethod
    async def open(
        cls,
        store: KeyStore,
        secret: str,
        clock: Callable[[], float],
        region: str,
        key_size: int = 2048,
        *,
        reload_seconds: float = DEFAULT_RELOAD_SECONDS,
    ) -> Keyring:
        """Load the keys, creating the first one if the store has none.

        Raises KeySecretMismatch when `secret` does not open the active key.
        """
        if not secret:
            raise ValueError("a key secret is required to protect the signing keys")
        keyring = cls(store, secret, clock, region, key_size, reload_seconds)
        await keyring.refresh()
        return keyring

    # ----------------------------------------------------------------------------- reading

    @property
    def active(self) -> SigningKey:
        if self._active is None:
            raise RuntimeError("the keyring has no active key; build it with Keyring.open")
        return self._active

    def published(self) -> tuple[PublishedKey, ...]:
        """Keys a verifier may trust now, newest first (expired retired keys drop out)."""
        now = self._clock()
        return tuple(k for k in self._published if k.expires_at is None or k.expires_at > now)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(k.jwk) for k in self.published()]}

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        for key in self.published():
            if key.kid == kid:
                return key.public_key
        return None

    async def signing_key(self) -> SigningKey:
        """The active key, after a reload if the cached keys are older than `reload_seconds`."""
        await self.maybe_refresh()
        return self.active

    async def find_public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """A published key by id; an unknown id triggers one (rate-limited) store reload.

        Another replica may have rotated in a key this one has not loaded yet.
        """
        await self.maybe_refresh()
        key = self.public_key(kid)
        if key is None and self._clock() - self._unknown_kid_at >= UNKNOWN_KID_RELOAD_SECONDS:
            self._unknown_kid_at = self._clock()
            await self._refresh_quietly()
            key = self.public_key(kid)
        return key

    # ----------------------------------------------------------------------------- loading

    async def maybe_refresh(self) -> None:
        """Reload when the cache is stale; a failing store keeps the keys already loaded."""
        if self._clock() - self._loaded_at >= self._reload_seconds:
            await self._refresh_quietly()

    async def _refresh_quietly(self) -> None:
        # Claim the reload first so concurrent callers on this loop do not all hit the store.
        self._loaded_at = self._clock()
        try:
            await self.refresh()
        except KeySecretMismatch:
            # Another replica stored a key under a different secret: keep signing with ours.
            log.error("cannot open the new signing key; keeping the cached ones", exc_info=True)
        except Exception:
            log.warning("could not reload signing keys; keeping the cached ones", exc_info=True)

    async def refresh(self) -> None:
        """Read the keys from the store; create the first key if there is no active one."""
        stored = await self._store.load_keys(self._clock())
        if not any(k.retired_at is None for k in stored):
            created = await self._create_key()
            if await self._store.insert_key_if_no_active(created[0]):
                log.debug("created signing key %s", created[0].kid)
                self.created_kid = created[0].kid
                self._install(await self._store.load_keys(self._clock()), created[1])
                return
            # Another replica won the race: use its key.
            stored = await self._store.load_keys(self._clock())
            if not any(k.retired_at is None for k in stored):
                raise RuntimeError("the key store reported an active key but returned none")
        self._install(stored, await self._open_active(stored))

    async def _open_active(self, stored: list[StoredKey]) -> SigningKey:
        record = next(k for k in stored if k.retired_at is None)
        if self._active is not None and self._active.kid == record.kid:
            return self._active
        der = await asyncio.to_thread(
            unseal, record.private_key_encrypted, self._secret, context=record.kid.encode()
        )
        private = serialization.load_der_private_key(der, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise KeySecretMismatch(f"signing key {record.kid!r} is not an RSA key")
        if public_jwk(record.kid, private.public_key())["n"] != record.public_jwk.get("n"):
            raise KeySecretMismatch(
                f"signing key {record.kid!r}: the stored public key does not match the private key"
            )
        return SigningKey(record.kid, private)

    def _install(self, stored: list[StoredKey], active: SigningKey) -> None:
        cached = {k.kid: k for k in self._published}
        published: list[PublishedKey] = []
        for record in stored:
            known = cached.get(record.kid)
            if known is not None:
                published.append(
                    PublishedKey(known.kid, known.jwk, known.public_key, record.expires_at)
                )
                continue
            public = RSAKey.import_key(
                {"kty": "RSA", "n": record.public_jwk["n"], "e": record.public_jwk["e"]}
            ).public_key
            published.append(
                PublishedKey(record.kid, public_jwk(record.kid, public), public, record.expires_at)
            )
        if active.kid not in {k.kid for k in published}:
            raise RuntimeError(f"the active signing key {active.kid!r} is not in the key store")
        self._published = tuple(published)
        self._active = active
        self._loaded_at = self._clock()

    async def _create_key(self) -> tuple[StoredKey, SigningKey]:
        private = await asyncio.to_thread(
            rsa.generate_private_key, public_exponent=65537, key_size=self._key_size
        )
        kid = key_id(self._region, private.public_key())
        der = private.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        sealed = await asyncio.to_thread(seal, der, self._secret, context=kid.encode())
        stored = StoredKey(
            kid=kid,
            created_at=self._clock(),
            private_key_encrypted=sealed,
            public_jwk=public_jwk(kid, private.public_key()),
        )
        return stored, SigningKey(kid, private)

    # ----------------------------------------------------------------------------- rotation

    async def rotate(self, overlap_seconds: float | None = None) -> str:
        """Make a new active key and return its id.

        The previous key stays in the JWKS for `overlap_seconds` (default and minimum: the
        longest token lifetime plus verifier leeway plus one reload period of the replicas),
        so every token it signed can still be verified.
        """
        floor = minimum_overlap(self._reload_seconds)
        overlap = floor if overlap_seconds is None else overlap_seconds
        if overlap < floor:
            raise ValueError(
                f"the old key must stay published at least {floor:.0f} s so that tokens it "
                "signed remain verifiable"
            )
        stored, signing = await self._create_key()
        now = self._clock()
        await self._store.rotate(stored, retire_at=now, expires_at=now + overlap)
        log.info("rotated signing keys: %s is now active", stored.kid)
        self._install(await self._store.load_keys(self._clock()), signing)
        return stored.kid
