"""idpool's OpenID tokens: the claims, the RS512 signature, and verification of our own tokens.

Signing uses `cryptography` directly (PKCS#1 v1.5 with SHA-512) rather than a JOSE library:
the header must be exactly Cognito's ``{"kid", "typ": "JWS", "alg": "RS512"}`` and the RSA
operation is the whole cost, so a library layer adds time and nothing else. The signature runs
in a thread: OpenSSL releases the GIL, so token operations use every core.

`OwnTokenVerifier` accepts our tokens back under the Logins key
``cognito-identity.amazonaws.com`` (the developer flow of the JavaScript SDK).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from idpool.domain.errors import NotAuthorizedException
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.records import Pool, VerifiedLogin
from idpool.signing.keyring import ALGORITHM, Keyring

# ------------------------------------------------------------------------------------ claims

# One padding and one hash object for every signature: building them costs per call.
_PKCS1 = padding.PKCS1v15()
_SHA512 = hashes.SHA512()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _json(value: Mapping[str, Any]) -> bytes:
    """Compact JSON, non-ASCII as UTF-8 (no escapes), keys in insertion order: one orjson call."""
    return orjson.dumps(value)


@functools.lru_cache(maxsize=64)
def header_segment(kid: str) -> bytes:
    """`base64url(header) + "."` of a key, built once per key: Cognito's exact header."""
    return _b64(_json({"kid": kid, "typ": "JWS", "alg": ALGORITHM})) + b"."


def signing_input(kid: str, claims: Mapping[str, Any]) -> bytes:
    """`header.payload`: the claims encoded once, base64url once, after the cached header."""
    return header_segment(kid) + _b64(_json(claims))


def rs512_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, _PKCS1, _SHA512)


def compact(head: bytes, signature: bytes) -> str:
    return (head + b"." + _b64(signature)).decode("ascii")


def sign_compact(key: rsa.RSAPrivateKey, kid: str, claims: Mapping[str, Any]) -> str:
    """A compact JWS, synchronously (for scripts and benchmarks)."""
    head = signing_input(kid, claims)
    return compact(head, rs512_sign(key, head))


class JwtTokenSigner:
    """The TokenSigner port: signs with the keyring's active key, off the event loop.

    `executor` None uses the loop's default thread pool; `offload=False` signs inline (one
    RSA signature is ~0.25-1 ms; inline is only worth it on a single core).
    """

    def __init__(
        self,
        keyring: Keyring,
        issuer: str,
        *,
        executor: Executor | None = None,
        offload: bool = True,
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._executor = executor
        self._offload = offload

    @property
    def issuer(self) -> str:
        return self._issuer

    async def sign(self, claims: Mapping[str, Any]) -> str:
        key = await self._keyring.signing_key()
        head = signing_input(key.kid, claims)
        if self._offload:
            loop = asyncio.get_running_loop()
            signature = await loop.run_in_executor(
                self._executor, rs512_sign, key.private_key, head
            )
        else:
            signature = rs512_sign(key.private_key, head)
        return compact(head, signature)


# ------------------------------------------------------------------------------ verification

_MALFORMED = "Invalid login token. Not a valid OpenId Connect identity token."
_BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."
_WRONG_ISSUER = "Invalid login token. Issuer doesn't match providerName"
_WRONG_AUDIENCE = "Invalid login token. Incorrect token audience."
_NOT_AUTHENTICATED = "Invalid login token. Not an authenticated token."


def _unb64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise NotAuthorizedException(_MALFORMED) from None


def _object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64(part))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotAuthorizedException(_MALFORMED) from None
    if not isinstance(value, dict):
        raise NotAuthorizedException(_MALFORMED)
    return value


class OwnTokenVerifier:
    """The LoginVerifier for ``cognito-identity.amazonaws.com``: tokens idpool issued itself.

    Only authenticated tokens count as a login: a guest token proves nothing beyond the
    identity id, which a caller already knows.
    """

    def __init__(
        self,
        keyring: Keyring,
        issuer: str,
        clock: Callable[[], float],
        *,
        leeway: int = 60,
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._clock = clock
        self._leeway = leeway

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        claims = await self._verified_claims(token)
        if claims.get("iss") != self._issuer:
            raise NotAuthorizedException(_WRONG_ISSUER)
        if "aud" not in claims:
            raise NotAuthorizedException("Invalid login token. Missing a required claim: aud")
        if claims["aud"] != pool.pool_id:
            raise NotAuthorizedException(_WRONG_AUDIENCE)
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise NotAuthorizedException("Invalid login token. Missing a required claim: exp")
        now = int(self._clock())
        if now >= exp + self._leeway:
            raise NotAuthorizedException(f"Invalid login token. Token expired: {now} >= {exp}")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise NotAuthorizedException("Invalid login token. Missing a required claim: sub")
        amr = claims.get("amr")
        if not isinstance(amr, list) or not amr or amr[0] != "authenticated":
            raise NotAuthorizedException(_NOT_AUTHENTICATED)
        return VerifiedLogin(provider=OWN_TOKEN_PROVIDER, subject=subject, claims=claims)

    @property
    def issuer(self) -> str:
        return self._issuer

    async def signed_claims(self, token: str) -> dict[str, Any]:
        """The IssuedTokenReader port (idpool's STS): signature checked, claims not."""
        return await self._verified_claims(token)

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        """The payload of a well-formed token signed by one of our published keys."""
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise NotAuthorizedException(_MALFORMED)
        header = _object(parts[0])
        claims = _object(parts[1])
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise NotAuthorizedException(_BAD_SIGNATURE)
        public = await self._keyring.find_public_key(kid)
        if public is None:
            raise NotAuthorizedException(_BAD_SIGNATURE)
        try:
            public.verify(
                _unb64(parts[2]),
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                _PKCS1,
                _SHA512,
            )
        except (InvalidSignature, UnicodeEncodeError):
            raise NotAuthorizedException(_BAD_SIGNATURE) from None
        return claims
