"""Credentials minted by idpool itself, for setups without a real STS.

They have the shape AWS returns (``ASIA`` key id, 40-character secret, opaque session token,
expiry) and cost no RSA signature. On their own they open nothing: whoever should honour them
(idpool's SigV4 check, a test double of another service) learns about them through `on_mint`.
"""

from __future__ import annotations

import base64
import inspect
import secrets
import string
from collections.abc import Awaitable, Callable

from idpool.domain.ports import VendRequest
from idpool.domain.records import Credentials

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"

OnMint = Callable[[str, str, str, float, str, str, str], Awaitable[None] | None]
"""`on_mint(access_key_id, secret_key, session_token, expiration, role_arn, identity_id,
account_id)`, sync or async; an exception from it fails the call (nothing usable leaks)."""


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def mint(expiration: float) -> Credentials:
    return Credentials(
        access_key_id="ASIA" + _random(_KEY_ALPHABET, 16),
        secret_key=_random(_SECRET_ALPHABET, 40),
        session_token=base64.b64encode(secrets.token_bytes(240)).decode("ascii"),
        expiration=expiration,
    )


class LocalCredentialVendor:
    """The CredentialVendor port without STS: random credentials valid `duration_seconds`."""

    def __init__(self, clock: Callable[[], float], on_mint: OnMint | None = None) -> None:
        self._clock = clock
        self._on_mint = on_mint

    @property
    def needs_token(self) -> bool:
        return False

    async def vend(self, request: VendRequest) -> Credentials:
        credentials = mint(float(int(self._clock()) + request.duration_seconds))
        if self._on_mint is not None:
            result = self._on_mint(
                credentials.access_key_id,
                credentials.secret_key,
                credentials.session_token,
                credentials.expiration,
                request.role_arn,
                request.identity.identity_id,
                request.pool.account_id,
            )
            if inspect.isawaitable(result):
                await result
        return credentials
