"""Group commit: the writes of concurrent calls share one transaction, hence one COMMIT.

A new guest identity is one small write (the identity row and its `created` event), and on
SQLite the COMMIT costs more than everything else the call does; on PostgreSQL it is a round
trip. So the guest calls of GetId that arrive together (in one turn of the event loop, or
while the previous group is committing) run their units of work one after the other in one
transaction, and every call is answered only after that transaction committed: an
acknowledged identity is as durable as before (the kill -9 test in tests/reliability checks it).

Up to PARALLEL_GROUPS groups are in flight at once (on PostgreSQL, where a group waits on the
network); the calls that arrive meanwhile gather into the next group.

A unit of work that fails must not fail the others of its group. When anything goes wrong
inside the group's transaction, it is rolled back as a whole and every unit runs again in a
transaction of its own (`in_transaction`, with its usual retries), concurrently, so each call
gets exactly the answer it would have had alone. The one exception is a failure of the store
itself (StoreFailure: unreachable, past its deadline, unable to write): running each unit
again could only fail the same way, slower, so every call of the group gets that error.

Runs on the event loop: no locks. Used for guest GetId (service/identities.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from idpool.domain.errors import StoreFailure
from idpool.domain.ports import Store, Transaction
from idpool.service.context import in_transaction

T = TypeVar("T")

# The most units in one transaction: bounds the time one COMMIT holds the others up.
MAX_GROUP = 128
# Groups in flight at once. On SQLite a group runs without yielding, so there is never more
# than one; on PostgreSQL groups wait on the network, and a few in parallel keep the
# connection pool busy while the next group gathers.
PARALLEL_GROUPS = 4

Work = Callable[[Transaction], Awaitable[T]]


class GroupCommit(Generic[T]):
    def __init__(
        self, store: Store, *, max_group: int = MAX_GROUP, parallel: int = PARALLEL_GROUPS
    ) -> None:
        self._store = store
        self._max = max_group
        self._parallel = parallel
        self._in_flight: set[asyncio.Task[None]] = set()
        self._queue: list[tuple[Work[T], asyncio.Future[T]]] = []
        self._drainer: asyncio.Task[None] | None = None
        # The memo of each group transaction in flight, by the transaction's id.
        self._memos: dict[int, tuple[Transaction, dict[Any, Any]]] = {}
        # How many transactions groups committed, and how many units they held (for tests
        # and benchmarks; a unit run alone after a failed group is not counted).
        self.groups = 0
        self.units = 0

    def memo(self, tx: Transaction) -> dict[Any, Any]:
        """What the units of the group running in `tx` share (e.g. the pool they all read).

        Empty for a unit that runs alone: a memo never outlives its transaction.
        """
        entry = self._memos.get(id(tx))
        return entry[1] if entry is not None and entry[0] is tx else {}

    async def run(self, work: Work[T]) -> T:
        """The result of `work(tx)` once the transaction it ran in has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((work, future))
        if self._drainer is None:
            # Starts on the next turn of the loop: the calls of this turn join the group.
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                if len(self._in_flight) >= self._parallel:
                    # The queue keeps filling meanwhile: the next group will be larger.
                    await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = self._queue[: self._max]
                del self._queue[: self._max]
                task = asyncio.get_running_loop().create_task(self._commit(batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        finally:
            self._drainer = None
            # Cancelled (shutdown): nobody may wait forever for a group that will not commit.
            for _, future in self._queue:
                future.cancel()
            self._queue.clear()

    async def _commit(self, batch: list[tuple[Work[T], asyncio.Future[T]]]) -> None:
        try:
            await self._commit_group(batch)
        finally:  # cancelled mid-commit (shutdown): no caller waits for it forever
            for _, future in batch:
                if not future.done():
                    future.cancel()

    async def _commit_group(self, batch: list[tuple[Work[T], asyncio.Future[T]]]) -> None:
        if len(batch) == 1:
            await self._alone(*batch[0])
            return
        try:
            async with self._store.transaction() as tx:
                results = await self._units(tx, batch)
        except StoreFailure as failure:
            for _, future in batch:
                _settle(future, error=failure)
            return
        except Exception:
            await asyncio.gather(*(self._alone(work, future) for work, future in batch))
            return
        self.groups += 1
        self.units += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _units(
        self, tx: Transaction, batch: list[tuple[Work[T], asyncio.Future[T]]]
    ) -> list[T]:
        memo: dict[Any, Any] = {}
        self._memos[id(tx)] = (tx, memo)
        try:
            return [await work(tx) for work, _ in batch]
        finally:
            del self._memos[id(tx)]

    async def _alone(self, work: Work[T], future: asyncio.Future[T]) -> None:
        try:
            result = await in_transaction(self._store, work)
        except Exception as error:
            _settle(future, error=error)
        else:
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: Exception | None = None
) -> None:
    """Answer a waiting call, unless it went away (its client disconnected)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
