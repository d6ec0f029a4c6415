"""The Store contract on SQLite and PostgreSQL, and the service's race-freedom on both.

Each test opens its own migrated database (a temp SQLite file or a fresh PostgreSQL schema).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from idpool.domain.errors import ResourceNotFoundException
from idpool.domain.ports import StoreConflict, StoredKey
from idpool.domain.records import Caller, Identity, Link, Pool, VerifiedLogin
from idpool.service.facade import IdentityPoolService
from idpool.service.pools import PoolSpec
from idpool.storage.keys import SqlKeyStore
from idpool.storage.sql import SqlStore
from tests.support.service import service_deps

Opener = Callable[[], Awaitable[SqlStore]]


class SubjectIsToken:
    """A test double for the login verifier: the token is the subject."""

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        return VerifiedLogin(provider=provider, subject=token, amr=f"{provider}:{token}")


def pool_record(account: str = "111111111111", **kw: Any) -> Pool:
    base: dict[str, Any] = {
        "pool_id": f"us-east-1:{uuid.uuid4()}",
        "account_id": account,
        "region": "us-east-1",
        "name": "p",
        "allow_unauthenticated": True,
        "created_at": 1.0,
        "version": 1,
    }
    base.update(kw)
    return Pool(**base)


def identity_record(pool: Pool, created: float = 1.0) -> Identity:
    return Identity(
        identity_id=f"us-east-1:{uuid.uuid4()}",
        pool_id=pool.pool_id,
        account_id=pool.account_id,
        created_at=created,
        modified_at=created,
    )


def test_pool_round_trip_and_optimistic_version(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        pool = pool_record(supported_login_providers={"graph.facebook.com": "a"}, tags={"k": "v"})
        async with store.transaction() as tx:
            await tx.insert_pool(pool)
        async with store.transaction() as tx:
            assert await tx.get_pool(pool.pool_id) == pool
            await tx.update_pool(replace(pool, name="renamed", version=2))
        with pytest.raises(StoreConflict):
            async with store.transaction() as tx:
                await tx.update_pool(replace(pool, name="stale", version=2))
        async with store.transaction(readonly=True) as tx:
            stored = await tx.get_pool(pool.pool_id)
            assert stored is not None and stored.name == "renamed"
        await store.close()

    asyncio.run(scenario())


def test_listing_is_scoped_by_account_and_region(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        mine = [pool_record(created_at=float(i)) for i in range(3)]
        theirs = pool_record(account="222222222222")
        elsewhere = pool_record(region="eu-west-1", pool_id=f"eu-west-1:{uuid.uuid4()}")
        async with store.transaction() as tx:
            for pool in [*mine, theirs, elsewhere]:
                await tx.insert_pool(pool)
        async with store.transaction(readonly=True) as tx:
            assert await tx.count_pools("111111111111", "us-east-1") == 3
            first = await tx.list_pools("111111111111", "us-east-1", None, 2)
            assert [p.pool_id for p in first] == [p.pool_id for p in mine[:2]]
            last = first[-1]
            rest = await tx.list_pools(
                "111111111111", "us-east-1", (last.created_at, last.pool_id), 5
            )
            assert [p.pool_id for p in rest] == [mine[2].pool_id]
            assert [
                p.pool_id for p in await tx.list_pools("222222222222", "us-east-1", None, 9)
            ] == [theirs.pool_id]
        await store.close()

    asyncio.run(scenario())


def test_links_unique_per_login_and_per_provider_slot(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        pool = pool_record()
        a, b = identity_record(pool), identity_record(pool)
        async with store.transaction() as tx:
            await tx.insert_pool(pool)
            await tx.insert_identity(a)
            await tx.insert_identity(b)
            await tx.insert_link(Link(pool.pool_id, a.identity_id, "graph.facebook.com", "u1"))
        with pytest.raises(StoreConflict):  # the same login cannot belong to two identities
            async with store.transaction() as tx:
                await tx.insert_link(Link(pool.pool_id, b.identity_id, "graph.facebook.com", "u1"))
        with pytest.raises(StoreConflict):  # one facebook user per identity
            async with store.transaction() as tx:
                await tx.insert_link(Link(pool.pool_id, a.identity_id, "graph.facebook.com", "u2"))
        async with store.transaction() as tx:  # developer ids may be several
            await tx.insert_link(Link(pool.pool_id, a.identity_id, "dev", "d1", developer=True))
            await tx.insert_link(Link(pool.pool_id, a.identity_id, "dev", "d2", developer=True))
        async with store.transaction(readonly=True) as tx:
            links = await tx.links_of([a.identity_id])
            assert {(ln.provider, ln.subject) for ln in links} == {
                ("graph.facebook.com", "u1"),
                ("dev", "d1"),
                ("dev", "d2"),
            }
            page = await tx.developer_links(a.identity_id, None, 1)
            assert [ln.subject for ln in page] == ["d1"]
            assert [ln.subject for ln in await tx.developer_links(a.identity_id, "d1", 5)] == ["d2"]
        async with store.transaction() as tx:
            await tx.move_links(a.identity_id, b.identity_id)
            assert await tx.links_of([a.identity_id]) == []
            await tx.delete_pool(pool.pool_id)
        async with store.transaction(readonly=True) as tx:
            assert await tx.get_identity(b.identity_id) is None
            assert await tx.find_links(pool.pool_id, [("dev", "d1")]) == []
        await store.close()

    asyncio.run(scenario())


def test_identity_listing_keyset_and_hide_disabled(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        pool = pool_record()
        rows = [identity_record(pool, created=1.0) for _ in range(4)]
        rows[1] = replace(rows[1], disabled=True)
        async with store.transaction() as tx:
            await tx.insert_pool(pool)
            for row in rows:
                await tx.insert_identity(row)
        ordered = sorted(rows, key=lambda i: i.identity_id)
        async with store.transaction(readonly=True) as tx:
            page = await tx.list_identities(pool.pool_id, None, 2, False)
            assert page == ordered[:2]
            rest = await tx.list_identities(pool.pool_id, (1.0, page[-1].identity_id), 9, False)
            assert rest == ordered[2:]
            visible = await tx.list_identities(pool.pool_id, None, 9, True)
            assert rows[1] not in visible and len(visible) == 3
        await store.close()

    asyncio.run(scenario())


def test_signing_key_guard_allows_one_active_key(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        keys = SqlKeyStore(store)

        def key(kid: str) -> StoredKey:
            return StoredKey(kid, 1.0, b"secret-bytes", {"kid": kid, "kty": "RSA"})

        results = await asyncio.gather(
            *(keys.insert_key_if_no_active(key(f"k{i}")) for i in range(5))
        )
        assert sorted(results) == [False, False, False, False, True]
        await keys.rotate(key("new"), retire_at=2.0, expires_at=100.0)
        loaded = await keys.load_keys(now=50.0)
        assert {k.kid for k in loaded} >= {"new"}
        assert len([k for k in loaded if k.retired_at is None]) == 1
        assert all(k.kid == "new" for k in await keys.load_keys(now=200.0))
        await store.close()

    asyncio.run(scenario())


def service_on(store: SqlStore) -> IdentityPoolService:
    return IdentityPoolService(service_deps(store, SubjectIsToken()))


def test_concurrent_get_id_for_one_new_login_makes_one_identity(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        service = service_on(store)
        caller = Caller(account_id="111111111111")
        pool = await service.pools.create(
            caller,
            PoolSpec(
                name="race",
                allow_unauthenticated=True,
                supported_login_providers={"graph.facebook.com": "app"},
            ),
        )
        results = await asyncio.gather(
            *(
                service.identities.get_id(pool.pool_id, {"graph.facebook.com": "same-user"})
                for _ in range(64)
            )
        )
        assert len(set(results)) == 1
        page = await service.identities.list_page(caller, pool.pool_id, 60, None, False)
        assert len(page.items) == 1
        await store.close()

    asyncio.run(scenario())


def test_account_isolation_pairs(open_store: Opener) -> None:
    async def scenario() -> None:
        store = await open_store()
        service = service_on(store)
        alice = Caller(account_id="111111111111")
        bob = Caller(account_id="222222222222")
        pool = await service.pools.create(alice, PoolSpec(name="a", allow_unauthenticated=True))
        for call in (
            lambda: service.pools.describe(bob, pool.pool_id),
            lambda: service.pools.delete(bob, pool.pool_id),
            lambda: service.roles.get_roles(bob, pool.pool_id),
            lambda: service.identities.list_page(bob, pool.pool_id, 10, None, False),
        ):
            with pytest.raises(ResourceNotFoundException) as exc:
                await call()
            assert exc.value.message == f"IdentityPool '{pool.pool_id}' not found."
        identity_id = await service.identities.get_id(pool.pool_id, None)
        assert await service.identities.delete(bob, [identity_id]) == [
            (identity_id, "AccessDenied")
        ]
        assert (await service.pools.list_page(bob, 60, None)).items == ()
        described = await service.identities.describe(alice, identity_id)
        assert described.identity.identity_id == identity_id
        await store.close()

    asyncio.run(scenario())
