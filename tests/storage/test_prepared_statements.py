"""Every registered query returns through the raw driver what SQLAlchemy returns (both stores).

The registry (storage/prepared.py) runs its statements straight on the driver and coerces the
rows itself; this is the proof that the shortcut changes nothing: same rows, same types
(Booleans as bool on SQLite too), for every statement in the registry.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from sqlalchemy.dialects import sqlite

from idpool.domain.ports import StoredKey
from idpool.domain.records import Link
from idpool.storage.dialects import make_source
from idpool.storage.prepared import REGISTRY, Prepared
from idpool.storage.sql import SqlStore
from tests.storage.test_store_contract import identity_record, pool_record


def _required(statement: Prepared) -> set[str]:
    compiled = statement.statement.compile(dialect=sqlite.dialect())
    return {name for name, bind in compiled.binds.items() if bind.required}


async def _seed(store: SqlStore) -> dict[str, Any]:
    """Rows every registered query finds something in; returns the parameters that find them."""
    pool = pool_record()
    kept = identity_record(pool)
    gone = replace(identity_record(pool, created=2.0), disabled=True)
    async with store.transaction() as tx:
        await tx.insert_pool(pool)
        await tx.insert_identity(kept)
        await tx.insert_identity(gone)
        for provider, developer in (("graph.facebook.com", False), ("login.dev", True)):
            await tx.insert_link(
                Link(pool.pool_id, kept.identity_id, provider, "u-1", developer, 1.0)
            )
        await tx.record_event(pool.account_id, pool.pool_id, kept.identity_id, "created", "", 1.0)
        await tx.insert_key(
            StoredKey("k1", 1.0, b"\x00secret", {"kty": "RSA", "kid": "k1"}), active=True
        )
    return {
        "pool_id": pool.pool_id,
        "account_id": pool.account_id,
        "region": pool.region,
        "identity_id": kept.identity_id,
        "provider": "graph.facebook.com",
        "subject": "u-1",
        "limit": 10,
        "now": 0.0,
    }


def test_every_registered_query_is_known_to_this_test() -> None:
    queries = [s for s in REGISTRY if s.is_query]
    assert len(queries) >= 10
    known = {
        "pool_id",
        "account_id",
        "region",
        "identity_id",
        "provider",
        "subject",
        "limit",
        "now",
    }
    for statement in queries:
        assert _required(statement) <= known, statement


def test_raw_rows_equal_sqlalchemy_rows_for_every_registered_query(store_url: str) -> None:
    async def scenario() -> None:
        store = SqlStore(make_source(store_url))
        params = await _seed(store)
        source = make_source(store_url)
        try:
            async with source.begin(readonly=False) as executor:
                for statement in (s for s in REGISTRY if s.is_query):
                    given = {k: params[k] for k in _required(statement)}
                    raw = await executor.fetch(statement, given)
                    orm = [tuple(row) for row in await executor.execute(statement.statement, given)]
                    assert raw, f"{statement.name}: the seed should give it rows"
                    assert raw == orm, statement.name
                    assert [[type(v) for v in row] for row in raw] == [
                        [type(v) for v in row] for row in orm
                    ], statement.name
        finally:
            await source.close()
            await store.close()

    asyncio.run(scenario())
