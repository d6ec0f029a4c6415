"""The PoolRows port in SQL (domain/ports.py): pools with their configuration document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from idpool.domain.ports import StoreConflict
from idpool.domain.records import Pool
from idpool.storage import tables as t
from idpool.storage.codec import pool_config_json, pool_from_row
from idpool.storage.prepared import prepared
from idpool.storage.rows import Rows, keyset_after

POOL_COLUMNS = (
    t.pools.c.pool_id,
    t.pools.c.account_id,
    t.pools.c.region,
    t.pools.c.name,
    t.pools.c.created_at,
    t.pools.c.version,
    t.pools.c.config,
)

_GET = select(*POOL_COLUMNS).where(t.pools.c.pool_id == bindparam("pool_id"))
_OWN = _GET.where(t.pools.c.account_id == bindparam("account_id"))
GET_POOL = prepared("get pool", _GET)
GET_POOL_LOCKED = prepared("get pool, locked", _GET.with_for_update())
GET_OWN_POOL = prepared("get pool of an account", _OWN)
GET_OWN_POOL_LOCKED = prepared("get pool of an account, locked", _OWN.with_for_update())
COUNT_POOLS = prepared(
    "count pools of an account and region",
    select(func.count()).where(
        t.pools.c.account_id == bindparam("account_id"), t.pools.c.region == bindparam("region")
    ),
)
INSERT_POOL = prepared("insert pool", insert(t.pools))
UPDATE_POOL = prepared(
    "update pool at its version",
    update(t.pools)
    .where(
        t.pools.c.pool_id == bindparam("key_pool_id"),
        t.pools.c.version == bindparam("previous_version"),
    )
    .values(name=bindparam("name"), version=bindparam("version"), config=bindparam("config")),
)
DELETE_POOL_LINKS = prepared(
    "delete links of a pool", delete(t.links).where(t.links.c.pool_id == bindparam("pool_id"))
)
DELETE_POOL_IDENTITIES = prepared(
    "delete identities of a pool",
    delete(t.identities).where(t.identities.c.pool_id == bindparam("pool_id")),
)
DELETE_POOL = prepared(
    "delete pool", delete(t.pools).where(t.pools.c.pool_id == bindparam("pool_id"))
)


def pool_of(row: Sequence[Any]) -> Pool:
    return pool_from_row(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


class SqlPoolRows(Rows):
    async def get_pool(
        self, pool_id: str, *, account_id: str | None = None, for_update: bool = False
    ) -> Pool | None:
        lock = for_update and self._row_locks
        if account_id is None:
            query, params = (GET_POOL_LOCKED if lock else GET_POOL), {"pool_id": pool_id}
        else:
            query = GET_OWN_POOL_LOCKED if lock else GET_OWN_POOL
            params = {"pool_id": pool_id, "account_id": account_id}
        rows = await self._x.fetch(query, params)
        return pool_of(rows[0]) if rows else None

    async def insert_pool(self, pool: Pool) -> None:
        await self._x.write(
            INSERT_POOL,
            {
                "pool_id": pool.pool_id,
                "account_id": pool.account_id,
                "region": pool.region,
                "name": pool.name,
                "created_at": pool.created_at,
                "version": pool.version,
                "config": pool_config_json(pool),
            },
        )

    async def update_pool(self, pool: Pool) -> None:
        changed = await self._x.write(
            UPDATE_POOL,
            {
                "key_pool_id": pool.pool_id,
                "previous_version": pool.version - 1,
                "name": pool.name,
                "version": pool.version,
                "config": pool_config_json(pool),
            },
        )
        if changed != 1:
            raise StoreConflict(f"pool {pool.pool_id} changed concurrently")

    async def delete_pool(self, pool_id: str) -> None:
        for statement in (DELETE_POOL_LINKS, DELETE_POOL_IDENTITIES, DELETE_POOL):
            await self._x.write(statement, {"pool_id": pool_id})

    async def count_pools(self, account_id: str, region: str) -> int:
        rows = await self._x.fetch(COUNT_POOLS, {"account_id": account_id, "region": region})
        return int(rows[0][0])

    async def list_pools(
        self, account_id: str, region: str, after: tuple[float, str] | None, limit: int
    ) -> list[Pool]:
        query = select(*POOL_COLUMNS).where(
            t.pools.c.account_id == account_id, t.pools.c.region == region
        )
        if after is not None:
            query = query.where(keyset_after(t.pools.c.created_at, t.pools.c.pool_id, after))
        query = query.order_by(t.pools.c.created_at, t.pools.c.pool_id).limit(limit)
        return [pool_of(row) for row in await self._x.execute(query)]
