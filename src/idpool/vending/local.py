"""Credentials minted by idpool itself, for setups without a real STS.

They have the shape AWS returns (``ASIA`` key id, 40-character secret, opaque session token,
expiry) and cost no RSA signature. On their own they open nothing: whoever should honour them
(idpool's SigV4 check, a test double of another service) learns about them through `on_mint`.
"""

from __future__ import annotations

import base64
import inspect
import secrets
from collections.abc import Awaitable, Callable

from idpool.domain.ports import VendRequest
from idpool.domain.records import Credentials, VendedSession

OnMint = Callable[[Credentials, VendedSession], Awaitable[None] | None]
"""`on_mint(credentials, session)`, sync or async; an exception from it fails the call (nothing
usable leaks)."""

# The RoleSessionName AWS uses for credentials of the enhanced flow.
ENHANCED_FLOW_SESSION = "CognitoIdentityCredentials"


def session_for(request: VendRequest, expiration: float) -> VendedSession:
    """What the credentials stand for: the identity in the chosen role until `expiration`."""
    parts = request.role_arn.split(":")
    account = parts[4] if len(parts) > 5 and parts[4].isdigit() else request.pool.account_id
    return VendedSession(
        account_id=account,
        role_arn=request.role_arn,
        session_name=request.session_name,
        identity_id=request.identity.identity_id,
        pool_id=request.pool.pool_id,
        authenticated=request.authenticated,
        provider=request.provider,
        expires_at=expiration,
    )


def mint(expiration: float) -> Credentials:
    """One read of the OS random source per value: per-character choices cost ~70 us."""
    return Credentials(
        # 10 random bytes in base32: 16 characters of A-Z and 2-7, like AWS key ids.
        access_key_id="ASIA" + base64.b32encode(secrets.token_bytes(10)).decode("ascii"),
        # 30 random bytes in base64: 40 characters of AWS's secret-key alphabet.
        secret_key=base64.b64encode(secrets.token_bytes(30)).decode("ascii"),
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
            result = self._on_mint(credentials, session_for(request, credentials.expiration))
            if inspect.isawaitable(result):
                await result
        return credentials
