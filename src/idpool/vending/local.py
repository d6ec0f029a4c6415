"""Credentials minted by idpool itself, for setups without a real STS.

They have the shape AWS returns (``ASIA`` key id, 40-character secret, opaque session token,
expiry) and cost no RSA signature and no database write: the secret is derived from a server
key and the key id, and the session token seals what the credentials stand for
(`vending/sealed.py`). Any idpool replica sharing the key secret can verify them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from idpool.domain.ports import VendRequest
from idpool.domain.records import Credentials, VendedSession
from idpool.vending.sealed import CredentialSealer


def session_for(request: VendRequest, expiration: float) -> VendedSession:
    """What the credentials stand for: the identity in the chosen role until `expiration`."""
    return VendedSession(
        account_id=request.pool.account_id,
        role_arn=request.role_arn,
        session_name=request.session_name,
        identity_id=request.identity.identity_id,
        pool_id=request.pool.pool_id,
        authenticated=request.authenticated,
        provider=request.provider,
        expires_at=expiration,
    )


class LocalCredentialVendor:
    """The CredentialVendor port without STS: sealed credentials valid `duration_seconds`.

    Without a sealer (unit tests) a random server key is used: the credentials then verify
    nowhere, which is what the old random credentials did.
    """

    def __init__(self, clock: Callable[[], float], sealer: CredentialSealer | None = None) -> None:
        self._clock = clock
        self._sealer = sealer or CredentialSealer(secrets.token_bytes(32))

    @property
    def needs_token(self) -> bool:
        return False

    async def vend(self, request: VendRequest) -> Credentials:
        expiration = float(int(self._clock()) + request.duration_seconds)
        return self._sealer.mint(session_for(request, expiration))
