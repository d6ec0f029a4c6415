"""Group commit of guest GetId on SQLite and PostgreSQL (service/group_commit.py).

Concurrent guest calls share one transaction; each call is answered only after that
transaction committed; one unit that fails fails alone. Durability under kill -9 is tested
through the real server in tests/reliability/test_crash.py (the journal includes guests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from idpool.domain.errors import NotAuthorizedException, StoreFailure
from idpool.domain.ports import StoreConflict, Transaction
from idpool.domain.records import Identity
from idpool.service.facade import IdentityPoolService
from idpool.service.group_commit import GroupCommit
from idpool.storage.sql import SqlStore
from tests.storage.test_store_contract import SubjectIsToken, identity_record, pool_record
from tests.support.service import service_deps

Opener = Callable[[], Awaitable[SqlStore]]


class CountingStore:
    """The real store, counting write transactions and which ones committed."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        self.begun = 0
        self.committed = 0

    @asynccontextmanager
    async def transaction(self, readonly: bool = False) -> AsyncIterator[Any]:
        if not readonly:
            self.begun += 1
        async with self.inner.transaction(readonly=readonly) as tx:
            yield tx
        if not readonly:
            self.committed += 1


async def _identities_in(store: SqlStore, pool_id: str) -> set[str]:
    async with store.transaction(readonly=True) as tx:
        rows = await tx.list_identities(pool_id, None, 1000, False)
    return {row.identity_id for row in rows}


def test_concurrent_guests_share_one_transaction(open_store: Opener) -> None:
    async def scenario() -> None:
        inner = await open_store()
        store = CountingStore(inner)
        service = IdentityPoolService(service_deps(store, SubjectIsToken()))  # type: ignore[arg-type]
        pool = pool_record()
        async with inner.transaction() as tx:
            await tx.insert_pool(pool)
        # The first call caches the pool; then 40 calls arrive in one turn of the loop.
        first = await service.identities.get_id(pool.pool_id, None)
        store.begun = store.committed = 0
        ids = await asyncio.gather(
            *(service.identities.get_id(pool.pool_id, None) for _ in range(40))
        )
        assert len(set(ids)) == 40
        assert store.begun == 1 and store.committed == 1
        assert service.identities.new_guests.groups == 1
        assert await _identities_in(inner, pool.pool_id) == {first, *ids}
        # Each one got its `created` event in the same transaction.
        async with inner.transaction(readonly=True) as tx:
            events = await tx.list_events(pool.account_id, pool.pool_id, None, None, 1000)
        created = [e.identity_id for e in events if e.kind == "created"]
        assert sorted(created) == sorted([first, *ids])
        await inner.close()

    asyncio.run(scenario())


def test_no_call_is_answered_before_the_commit(open_store: Opener) -> None:
    """The answer of every unit waits for the COMMIT of its group."""

    async def scenario() -> None:
        inner = await open_store()
        commits: list[int] = []
        answered_before_commit: list[str] = []

        class Watching(CountingStore):
            @asynccontextmanager
            async def transaction(self, readonly: bool = False) -> AsyncIterator[Any]:
                async with super().transaction(readonly) as tx:
                    yield tx
                    await asyncio.sleep(0.05)  # a slow COMMIT: callers must still wait
                commits.append(1)

        group: GroupCommit[Identity] = GroupCommit(Watching(inner))  # type: ignore[arg-type]
        pool = pool_record()
        async with inner.transaction() as tx:
            await tx.insert_pool(pool)

        async def one() -> None:
            identity = identity_record(pool)

            async def work(tx: Transaction) -> Identity:
                await tx.insert_identity(identity)
                return identity

            await group.run(work)
            if not commits:
                answered_before_commit.append(identity.identity_id)

        await asyncio.gather(*(one() for _ in range(10)))
        assert commits and not answered_before_commit
        assert len(await _identities_in(inner, pool.pool_id)) == 10
        await inner.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("failure", ["conflict", "refusal"])
def test_one_failed_unit_fails_alone(open_store: Opener, failure: str) -> None:
    """A unit whose insert conflicts (or that is refused) does not take its group down."""

    async def scenario() -> None:
        inner = await open_store()
        store = CountingStore(inner)
        group: GroupCommit[Identity] = GroupCommit(store)  # type: ignore[arg-type]
        pool = pool_record()
        taken = identity_record(pool)
        async with inner.transaction() as tx:
            await tx.insert_pool(pool)
            await tx.insert_identity(taken)

        def unit(identity: Identity) -> Callable[[Transaction], Awaitable[Identity]]:
            async def work(tx: Transaction) -> Identity:
                if identity is taken and failure == "refusal":
                    raise NotAuthorizedException("refused")
                await tx.insert_identity(identity)  # the taken id: a unique-key conflict
                return identity

            return work

        good = [identity_record(pool) for _ in range(12)]
        units = [unit(i) for i in good[:6]] + [unit(taken)] + [unit(i) for i in good[6:]]
        results = await asyncio.gather(*(group.run(u) for u in units), return_exceptions=True)
        bad = results.pop(6)
        assert results == good
        if failure == "refusal":
            assert isinstance(bad, NotAuthorizedException)
        else:  # retried alone until in_transaction gives up: an InternalError, not a hang
            assert isinstance(bad, Exception) and not isinstance(bad, StoreConflict)
        assert await _identities_in(inner, pool.pool_id) == {taken.identity_id} | {
            i.identity_id for i in good
        }
        assert group.groups == 0  # the group was rolled back; each unit committed alone
        await inner.close()

    asyncio.run(scenario())


def test_a_failing_store_fails_the_group_at_once(open_store: Opener) -> None:
    async def scenario() -> None:
        inner = await open_store()
        attempts: list[int] = []

        class Broken(CountingStore):
            @asynccontextmanager
            async def transaction(self, readonly: bool = False) -> AsyncIterator[Any]:
                attempts.append(1)
                raise StoreFailure("the database is gone")
                yield  # pragma: no cover

        group: GroupCommit[Identity] = GroupCommit(Broken(inner))  # type: ignore[arg-type]

        async def work(tx: Transaction) -> Identity:
            raise AssertionError("never runs")

        results = await asyncio.gather(*(group.run(work) for _ in range(8)), return_exceptions=True)
        assert all(isinstance(r, StoreFailure) for r in results)
        assert len(attempts) == 1  # not once more per unit
        await inner.close()

    asyncio.run(scenario())


def test_groups_in_flight_are_bounded_and_later_calls_gather(open_store: Opener) -> None:
    """With a slow COMMIT (a distant PostgreSQL), calls arriving meanwhile form larger groups."""

    async def scenario() -> None:
        inner = await open_store()
        open_now: list[int] = [0]
        most: list[int] = [0]

        class Slow(CountingStore):
            @asynccontextmanager
            async def transaction(self, readonly: bool = False) -> AsyncIterator[Any]:
                open_now[0] += 1
                most[0] = max(most[0], open_now[0])
                try:
                    async with super().transaction(readonly) as tx:
                        yield tx
                        await asyncio.sleep(0.02)
                finally:
                    open_now[0] -= 1

        store = Slow(inner)
        group: GroupCommit[Identity] = GroupCommit(store, parallel=2)  # type: ignore[arg-type]
        pool = pool_record()
        async with inner.transaction() as tx:
            await tx.insert_pool(pool)

        async def one(delay: float) -> str:
            await asyncio.sleep(delay)
            identity = identity_record(pool)

            async def work(tx: Transaction) -> Identity:
                await tx.insert_identity(identity)
                return identity

            return (await group.run(work)).identity_id

        ids = await asyncio.gather(*(one(i * 0.001) for i in range(120)))
        assert await _identities_in(inner, pool.pool_id) == set(ids)
        assert most[0] <= 2
        assert store.committed < 60  # far fewer transactions than calls
        await inner.close()

    asyncio.run(scenario())
