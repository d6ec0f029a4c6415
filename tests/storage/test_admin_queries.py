"""The console's queries (service.admin) on SQLite and PostgreSQL.

They are the only reads that cross accounts (the pools list); everything else stays inside
one pool and one account, which the isolation pairs here check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from idpool.domain.records import Caller, Link
from idpool.service.admin import AdminQueries
from idpool.service.facade import IdentityPoolService
from idpool.service.pools import PoolSpec
from idpool.storage.sql import SqlStore
from tests.storage.test_store_contract import SubjectIsToken, identity_record, pool_record
from tests.support.service import service_deps

Opener = Callable[[], Awaitable[SqlStore]]


def _service(store: SqlStore) -> IdentityPoolService:
    return IdentityPoolService(service_deps(store, SubjectIsToken()))


def test_pools_of_every_account_page_in_creation_order(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        pools = [
            pool_record(account=f"{i:012d}", created_at=float(i), region=region)
            for i, region in enumerate(["us-east-1", "eu-west-1", "us-east-1"], start=1)
        ]
        async with store.transaction() as tx:
            for pool in pools:
                await tx.insert_pool(pool)
            await tx.insert_identity(identity_record(pools[0]))
            await tx.insert_identity(identity_record(pools[0]))
        admin = AdminQueries(store)
        first = await admin.pools(None, 2)
        assert [s.pool.pool_id for s in first.items] == [p.pool_id for p in pools[:2]]
        assert [s.identities for s in first.items] == [2, 0]
        assert first.after == (2.0, pools[1].pool_id)
        rest = await admin.pools(first.after, 2)
        assert [s.pool.pool_id for s in rest.items] == [pools[2].pool_id]
        assert rest.after is None
        await store.close()

    asyncio.run(scenario())


def test_search_finds_by_identity_id_subject_or_developer_id_within_the_pool(
    open_store: Opener,
) -> None:
    async def scenario() -> None:
        store = await open_store()
        pool, other = pool_record(), pool_record()
        alice, bob, stranger = identity_record(pool), identity_record(pool), identity_record(other)
        async with store.transaction() as tx:
            for p in (pool, other):
                await tx.insert_pool(p)
            for i in (alice, bob, stranger):
                await tx.insert_identity(i)
            await tx.insert_link(Link(pool.pool_id, alice.identity_id, "accounts.google.com", "s1"))
            await tx.insert_link(
                Link(pool.pool_id, bob.identity_id, "login.dev", "s1", developer=True)
            )
            await tx.insert_link(Link(other.pool_id, stranger.identity_id, "login.dev", "s1"))
        admin = AdminQueries(store)
        found = await admin.search(pool.pool_id, " s1 ")
        assert {d.identity.identity_id for d in found} == {alice.identity_id, bob.identity_id}
        by_id = await admin.search(pool.pool_id, bob.identity_id)
        assert [d.identity.identity_id for d in by_id] == [bob.identity_id]
        assert [ln.subject for ln in by_id[0].links] == ["s1"]
        assert await admin.search(pool.pool_id, stranger.identity_id) == ()
        assert await admin.search(pool.pool_id, "   ") == ()
        assert await admin.identity(pool.pool_id, stranger.identity_id) is None
        found_anywhere = await admin.find_identity(stranger.identity_id)
        assert found_anywhere is not None and found_anywhere.pool_id == other.pool_id
        await store.close()

    asyncio.run(scenario())


def test_events_are_the_pools_own_newest_first(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        service = _service(store)
        caller = Caller(account_id="111111111111", signed=True)
        spec = PoolSpec(name="audited", allow_unauthenticated=True)
        pool = await service.pools.create(caller, spec)
        other = await service.pools.create(
            caller, PoolSpec(name="other", allow_unauthenticated=True)
        )
        first = await service.identities.get_id(pool.pool_id, {})
        await service.identities.get_id(other.pool_id, {})
        second = await service.identities.get_id(pool.pool_id, {})
        await service.identities.delete(caller, [first])

        admin = AdminQueries(store)
        events = await admin.events(pool)
        assert [(e.kind, e.identity_id) for e in events] == [
            ("deleted", first),
            ("created", second),
            ("created", first),
        ]
        assert all(e.account_id == caller.account_id for e in events)
        older = await admin.events(pool, before=events[0].event_id, limit=1)
        assert [e.identity_id for e in older] == [second]
        of_one = await admin.events(pool, identity_id=first)
        assert [e.kind for e in of_one] == ["deleted", "created"]
        await store.close()

    asyncio.run(scenario())


def test_chart_reads_are_bounded_by_count_across_or_within_pools(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        service = _service(store)
        caller = Caller(account_id="222222222222", signed=True)
        one = await service.pools.create(caller, PoolSpec(name="one", allow_unauthenticated=True))
        two = await service.pools.create(caller, PoolSpec(name="two", allow_unauthenticated=True))
        made = [await service.identities.get_id(p.pool_id, {}) for p in (one, two, one, two)]

        admin = AdminQueries(store)
        newest = await admin.recent_events(None, 3)
        assert [e.identity_id for e in newest] == made[::-1][:3]
        assert [e.identity_id for e in await admin.recent_events(one, 10)] == [made[2], made[0]]
        assert len(await admin.recent_events(None, 10**9)) <= 20_000
        await store.close()

    asyncio.run(scenario())
