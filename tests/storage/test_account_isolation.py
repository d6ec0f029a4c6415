"""Isolation pairs: every read of an account-scoped row, asked as account B, misses account A's.

Pools, identities and audit events carry their account; the store takes the account into the
query (domain/ports.py), so these pairs hold at the store, not only in the service.
"""

from __future__ import annotations

import asyncio

from idpool.domain.ports import Transaction
from idpool.storage.sql import SqlStore
from tests.storage.test_store_contract import Opener, identity_record, pool_record

A, B = "111111111111", "222222222222"


async def _seeded(open_store: Opener) -> tuple[SqlStore, str, str]:
    """Account A's pool with one identity and one event; returns (store, pool id, identity id)."""
    store = await open_store()
    pool = pool_record(A)
    identity = identity_record(pool)
    async with store.transaction() as tx:
        await tx.insert_pool(pool)
        await tx.insert_identity(identity)
        await tx.record_event(A, pool.pool_id, identity.identity_id, "created", "", 1.0)
    return store, pool.pool_id, identity.identity_id


def test_get_pool_of_another_account_is_none(open_store: Opener) -> None:
    async def scenario() -> None:
        store, pool_id, _ = await _seeded(open_store)
        async with store.transaction() as tx:
            for lock in (False, True):
                assert await tx.get_pool(pool_id, account_id=A, for_update=lock) is not None
                assert await tx.get_pool(pool_id, account_id=B, for_update=lock) is None
        await store.close()

    asyncio.run(scenario())


def test_get_identity_of_another_account_is_none(open_store: Opener) -> None:
    async def scenario() -> None:
        store, _, identity_id = await _seeded(open_store)
        async with store.transaction() as tx:
            for lock in (False, True):
                mine = await tx.get_identity(identity_id, account_id=A, for_update=lock)
                assert mine is not None and mine.identity_id == identity_id
                assert await tx.get_identity(identity_id, account_id=B, for_update=lock) is None
        await store.close()

    asyncio.run(scenario())


def test_pool_listing_and_count_of_another_account_are_empty(open_store: Opener) -> None:
    async def scenario() -> None:
        store, pool_id, _ = await _seeded(open_store)
        async with store.transaction(readonly=True) as tx:
            assert [p.pool_id for p in await tx.list_pools(A, "us-east-1", None, 10)] == [pool_id]
            assert await tx.list_pools(B, "us-east-1", None, 10) == []
            assert await tx.count_pools(A, "us-east-1") == 1
            assert await tx.count_pools(B, "us-east-1") == 0
        await store.close()

    asyncio.run(scenario())


def test_events_of_another_account_are_not_listed(open_store: Opener) -> None:
    async def scenario() -> None:
        store, pool_id, identity_id = await _seeded(open_store)
        async with store.transaction(readonly=True) as tx:
            reader: Transaction = tx
            for who in (None, identity_id):
                assert len(await reader.list_events(A, pool_id, who, None, 10)) == 1
                assert await reader.list_events(B, pool_id, who, None, 10) == []
        await store.close()

    asyncio.run(scenario())
