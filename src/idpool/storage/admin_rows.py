"""The AdminReads port in SQL (domain/ports.py): the console's reads across accounts."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from idpool.domain.ports import AuditEvent
from idpool.domain.records import Link, Pool
from idpool.storage import tables as t
from idpool.storage.audit_rows import EVENT_COLUMNS
from idpool.storage.link_rows import LINK_COLUMNS, link_of
from idpool.storage.pool_rows import POOL_COLUMNS, pool_of
from idpool.storage.prepared import prepared
from idpool.storage.rows import Rows, keyset_after

COUNT_IDENTITIES = prepared(
    "count identities of a pool",
    select(func.count()).where(t.identities.c.pool_id == bindparam("pool_id")),
)
SEARCH_LINKS = prepared(
    "links of a pool with a subject",
    select(*LINK_COLUMNS)
    .where(t.links.c.pool_id == bindparam("pool_id"), t.links.c.subject == bindparam("subject"))
    .order_by(t.links.c.provider)
    .limit(bindparam("limit")),
)
RECENT_EVENTS = prepared(
    "newest events",
    select(*EVENT_COLUMNS).order_by(t.events.c.event_id.desc()).limit(bindparam("limit")),
)


class SqlAdminReads(Rows):
    async def list_all_pools(self, after: tuple[float, str] | None, limit: int) -> list[Pool]:
        query = select(*POOL_COLUMNS)
        if after is not None:
            query = query.where(keyset_after(t.pools.c.created_at, t.pools.c.pool_id, after))
        query = query.order_by(t.pools.c.created_at, t.pools.c.pool_id).limit(limit)
        return [pool_of(row) for row in await self._x.execute(query)]

    async def count_identities(self, pool_id: str) -> int:
        rows = await self._x.fetch(COUNT_IDENTITIES, {"pool_id": pool_id})
        return int(rows[0][0])

    async def search_links(self, pool_id: str, subject: str, limit: int) -> list[Link]:
        params = {"pool_id": pool_id, "subject": subject, "limit": limit}
        return [link_of(row) for row in await self._x.fetch(SEARCH_LINKS, params)]

    async def recent_events(self, limit: int) -> list[AuditEvent]:
        return [AuditEvent(*row) for row in await self._x.fetch(RECENT_EVENTS, {"limit": limit})]
