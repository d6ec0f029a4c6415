"""What every service module is given: the ports, the quotas and a transaction helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from idpool.domain.errors import InternalErrorException
from idpool.domain.ports import (
    Clock,
    CredentialVendor,
    IdSource,
    LoginVerifier,
    RateLimiter,
    Store,
    StoreConflict,
    TokenSigner,
)
from idpool.service.pool_cache import Generation, PoolCache
from idpool.service.rate_keys import RateKey

T = TypeVar("T")
Tx_co = TypeVar("Tx_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Quotas:
    """AWS's default quotas; `None` disables a quota. All adjustable by configuration."""

    pools_per_account_region: int | None = 1000
    logins_per_identity: int | None = 20
    rules_per_role_mapping: int | None = 25
    tags_per_pool: int | None = 50
    user_pool_providers_per_pool: int | None = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolDeps:
    """What pool and role administration needs: all that seeding (app.py) is given.

    No login verifier, token signer or credential vendor: offline administration never
    verifies, signs or vends, so it is not handed the means to.
    """

    store: Store
    clock: Clock
    ids: IdSource
    default_region: str = "us-east-1"
    quotas: Quotas = field(default_factory=Quotas)
    pool_cache_seconds: float = 1.0
    # OIDC provider ARNs the operator registered (providers file): the only ones whose issuer
    # may be an IP literal, `localhost` or carry a port. None registered by default.
    oidc_provider_configured: Callable[[str], bool] = lambda arn: False
    # Shared by the worker processes of one server, so their pool caches agree (--workers).
    pool_changes: Generation | None = None
    pool_cache: PoolCache = field(init=False)

    def __post_init__(self) -> None:
        cache = PoolCache(self.clock, self.pool_cache_seconds, shared=self.pool_changes)
        object.__setattr__(self, "pool_cache", cache)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDeps(PoolDeps):
    """Everything the API's operations need: administration's, plus verifying logins,
    signing tokens and vending credentials (each required: a server always has them)."""

    logins: LoginVerifier
    signer: TokenSigner
    vendor: CredentialVendor
    credential_seconds: int = 3600
    on_identity_created: Callable[[], None] | None = None
    rate_limiter: RateLimiter | None = None

    def limit(self, account_id: str, key: RateKey) -> None:
        """Public calls are counted against the pool's account, known only once it is read."""
        if self.rate_limiter is not None:
            self.rate_limiter.check(account_id, key)


class _Opens(Protocol[Tx_co]):
    """A store of any port (Store, ConsoleStore): what `in_transaction` needs of it."""

    def transaction(self, readonly: bool = False) -> AbstractAsyncContextManager[Tx_co]: ...


async def in_transaction(
    store: _Opens[Tx_co],
    work: Callable[[Tx_co], Awaitable[T]],
    *,
    readonly: bool = False,
    attempts: int = 8,
) -> T:
    """Run `work` in a transaction, again from the start when it loses a race.

    Races show up as StoreConflict (a unique key another request just took, a pool version
    that moved, a serialization failure); re-running the whole decision against the new state
    is what makes 64 concurrent GetId calls for one new login end with one identity.
    """
    for _ in range(attempts):
        try:
            async with store.transaction(readonly=readonly) as tx:
                return await work(tx)
        except StoreConflict:
            continue
    raise InternalErrorException("The request conflicted with concurrent changes; try again.")
