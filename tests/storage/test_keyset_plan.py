"""Keyset pages are index range scans, so a page costs the same at any depth of a large pool."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.dialects import sqlite

from idpool.storage import tables as t
from idpool.storage.migrate import upgrade
from idpool.storage.rows import keyset_after as _after


def plan(db: Path, table: str, order: str, key: str, scope: str) -> str:
    column = getattr(t, table).c
    condition = _after(column[order], column[key], (1.5, "x"))
    compiled = condition.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    sql = (
        f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {scope} AND {compiled} "
        f"ORDER BY {order}, {key} LIMIT 61"
    )
    with sqlite3.connect(db) as conn:
        return " ".join(str(row[-1]) for row in conn.execute(sql))


def test_identity_pages_use_the_pool_order_index(tmp_path: Path) -> None:
    db = tmp_path / "plan.sqlite3"
    upgrade(f"sqlite:///{db}")
    text = plan(db, "identities", "created_at", "identity_id", "pool_id = 'p'")
    assert "USING INDEX ix_identities_pool_order (pool_id=? AND created_at>?)" in text
    assert "TEMP B-TREE" not in text


def test_pool_pages_use_the_account_order_index(tmp_path: Path) -> None:
    db = tmp_path / "plan.sqlite3"
    upgrade(f"sqlite:///{db}")
    text = plan(db, "pools", "created_at", "pool_id", "account_id = 'a' AND region = 'r'")
    assert "USING INDEX ix_pools_account_region_order" in text
    assert "created_at>?" in text
    assert "TEMP B-TREE" not in text
