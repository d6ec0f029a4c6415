"""The service on a real store: a migrated SQLite file per test, no HTTP, a clock held still.

Building `IdentityPoolService(ServiceDeps(...))` directly (tests/support/service.py) (as app.py does) lets each rule of
linking, merging, unlinking and role choice be tested in milliseconds; only the login
verifier is a double, because verifying real tokens is the providers' tests' business.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from idpool.domain.ports import AuditEvent
from idpool.domain.records import Caller, Identity, Link, Pool, VerifiedLogin
from idpool.service.facade import IdentityPoolService
from idpool.service.pools import PoolSpec
from idpool.storage.dialects import make_source
from idpool.storage.migrate import upgrade
from idpool.storage.sql import SqlStore
from tests.support.service import service_deps

T = TypeVar("T")

ACCOUNT = "111111111111"
CALLER = Caller(account_id=ACCOUNT, region="us-east-1", signed=True)
DEVELOPER = "login.example"
FACEBOOK = "graph.facebook.com"
GOOGLE = "accounts.google.com"


class HeldClock:
    """Time moves only when a test says so: modified_at values are exact."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


class CountingIds:
    """Deterministic ids: identity and pool ids differ from run to run only by their count."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def uuid(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._n):012d}"

    def secret(self, nbytes: int) -> str:
        return "s" * nbytes


class TokenIsClaims:
    """The login verifier double: the token is `subject` or `subject;claim=value;...`.

    The claims feed role-mapping rules; the RoleMappings key is the provider, as
    providers/targets.py names it for public providers.
    """

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        subject, *pairs = token.split(";")
        claims: dict[str, Any] = {"sub": subject}
        for pair in pairs:
            name, _, value = pair.partition("=")
            claims[name] = value
        return VerifiedLogin(
            provider=provider, subject=subject, claims=claims, amr=provider, mapping_key=provider
        )


@dataclass
class World:
    service: IdentityPoolService
    store: SqlStore
    clock: HeldClock
    loop: asyncio.AbstractEventLoop

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    async def pool(self, **spec: Any) -> Pool:
        base: dict[str, Any] = {
            "name": "p",
            "allow_unauthenticated": True,
            "supported_login_providers": {FACEBOOK: "app", GOOGLE: "app"},
            "developer_provider_name": DEVELOPER,
        }
        base.update(spec)
        return await self.service.pools.create(CALLER, PoolSpec(**base))

    async def identity(self, identity_id: str) -> Identity:
        async with self.store.transaction(readonly=True) as tx:
            found = await tx.get_identity(identity_id)
        assert found is not None, identity_id
        return found

    async def links(self, identity_id: str) -> list[tuple[str, str]]:
        async with self.store.transaction(readonly=True) as tx:
            rows: list[Link] = await tx.links_of([identity_id])
        return sorted((ln.provider, ln.subject) for ln in rows)

    async def events(self, pool: Pool, identity_id: str | None = None) -> list[tuple[str, str]]:
        """(kind, detail) of the pool's audit trail, oldest first."""
        async with self.store.transaction(readonly=True) as tx:
            rows: list[AuditEvent] = await tx.list_events(
                pool.account_id, pool.pool_id, identity_id, None, 100
            )
        return [(e.kind, e.detail) for e in reversed(rows)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
    upgrade(url)
    clock = HeldClock()
    store = SqlStore(make_source(url))
    deps = service_deps(
        store, TokenIsClaims(), clock=clock, ids=CountingIds(), pool_cache_seconds=0
    )
    loop = asyncio.new_event_loop()
    w = World(IdentityPoolService(deps), store, clock, loop)
    try:
        yield w
    finally:
        loop.run_until_complete(store.close())
        loop.close()
