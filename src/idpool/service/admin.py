"""Read queries of the admin console, which looks across accounts as no API caller may.

The public operations are scoped to the caller's account and shaped by the AWS API; the
console needs the operator's view instead: every pool, an identity found by any of its
user ids, the audit trail. These queries are read-only; the console's destructive actions
go through the ordinary operations so that they keep every rule and record their events.
"""

from __future__ import annotations

from dataclasses import dataclass

from idpool.domain.ports import AuditEvent, ConsoleStore, ConsoleTransaction
from idpool.domain.records import Identity, Link, Pool
from idpool.service.context import in_transaction
from idpool.service.paging import page_of

MAX_PAGE = 200
MAX_CHART_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class PoolSummary:
    pool: Pool
    identities: int


@dataclass(frozen=True, slots=True)
class IdentityDetail:
    """An identity with every link (public logins and developer user ids) it holds."""

    identity: Identity
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class Listing:
    """One page; `after` is the keyset position of the next page, None on the last one."""

    items: tuple[IdentityDetail, ...]
    after: tuple[float, str] | None


@dataclass(frozen=True, slots=True)
class PoolListing:
    items: tuple[PoolSummary, ...]
    after: tuple[float, str] | None


def _bounded(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


async def _details(
    tx: ConsoleTransaction, identities: list[Identity]
) -> tuple[IdentityDetail, ...]:
    links = await tx.links_of([i.identity_id for i in identities])
    by_identity: dict[str, list[Link]] = {}
    for link in links:
        by_identity.setdefault(link.identity_id, []).append(link)
    return tuple(IdentityDetail(i, tuple(by_identity.get(i.identity_id, ()))) for i in identities)


class AdminQueries:
    def __init__(self, store: ConsoleStore) -> None:
        self._store = store

    async def pools(self, after: tuple[float, str] | None = None, limit: int = 100) -> PoolListing:
        size = _bounded(limit)

        async def work(tx: ConsoleTransaction) -> PoolListing:
            rows = await tx.list_all_pools(after, size + 1)
            page, after_page = page_of(rows, size, lambda p: (p.created_at, p.pool_id))
            summaries = [PoolSummary(p, await tx.count_identities(p.pool_id)) for p in page]
            return PoolListing(tuple(summaries), after_page)

        return await in_transaction(self._store, work, readonly=True)

    async def pool(self, pool_id: str) -> Pool | None:
        async def work(tx: ConsoleTransaction) -> Pool | None:
            return await tx.get_pool(pool_id)

        return await in_transaction(self._store, work, readonly=True)

    async def identities(
        self, pool_id: str, after: tuple[float, str] | None = None, limit: int = 50
    ) -> Listing:
        """Disabled identities included: the operator needs to see what was unlinked or merged."""
        size = _bounded(limit)

        async def work(tx: ConsoleTransaction) -> Listing:
            rows = await tx.list_identities(pool_id, after, size + 1, False)
            page, after_page = page_of(rows, size, lambda i: (i.created_at, i.identity_id))
            return Listing(await _details(tx, page), after_page)

        return await in_transaction(self._store, work, readonly=True)

    async def identity(self, pool_id: str, identity_id: str) -> IdentityDetail | None:
        async def work(tx: ConsoleTransaction) -> IdentityDetail | None:
            identity = await tx.get_identity(identity_id)
            if identity is None or identity.pool_id != pool_id:
                return None
            return (await _details(tx, [identity]))[0]

        return await in_transaction(self._store, work, readonly=True)

    async def find_identity(self, identity_id: str) -> Identity | None:
        """Identity ids are unique across pools, so the console can jump to one from anywhere."""

        async def work(tx: ConsoleTransaction) -> Identity | None:
            return await tx.get_identity(identity_id)

        return await in_transaction(self._store, work, readonly=True)

    async def search(self, pool_id: str, text: str, limit: int = 50) -> tuple[IdentityDetail, ...]:
        """Identities of the pool matching `text` exactly as identity id, developer user id or
        provider subject (a login's `sub`); exact match keeps the query on the primary key."""
        query = text.strip()
        if not query:
            return ()
        size = _bounded(limit)

        async def work(tx: ConsoleTransaction) -> tuple[IdentityDetail, ...]:
            found: dict[str, Identity] = {}
            direct = await tx.get_identity(query)
            if direct is not None and direct.pool_id == pool_id:
                found[direct.identity_id] = direct
            for link in await tx.search_links(pool_id, query, size):
                if link.identity_id not in found:
                    identity = await tx.get_identity(link.identity_id)
                    if identity is not None:
                        found[identity.identity_id] = identity
            return await _details(tx, list(found.values())[:size])

        return await in_transaction(self._store, work, readonly=True)

    async def events(
        self,
        pool: Pool,
        *,
        identity_id: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> tuple[AuditEvent, ...]:
        """The audit trail of a pool, newest first; page on with `before` = last event_id."""
        size = _bounded(limit)

        async def work(tx: ConsoleTransaction) -> tuple[AuditEvent, ...]:
            rows = await tx.list_events(pool.account_id, pool.pool_id, identity_id, before, size)
            return tuple(rows)

        return await in_transaction(self._store, work, readonly=True)

    async def recent_events(self, pool: Pool | None, limit: int) -> tuple[AuditEvent, ...]:
        """The newest events of one pool (of every pool when None), for the console's charts.

        Bounded by count, not time: one index range of at most MAX_CHART_EVENTS rows, so a
        chart costs the same however large the trail has grown.
        """
        size = max(1, min(limit, MAX_CHART_EVENTS))

        async def work(tx: ConsoleTransaction) -> tuple[AuditEvent, ...]:
            if pool is None:
                return tuple(await tx.recent_events(size))
            return tuple(await tx.list_events(pool.account_id, pool.pool_id, None, None, size))

        return await in_transaction(self._store, work, readonly=True)
