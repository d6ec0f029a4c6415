"""What every aggregate's SQL shares: the executor it runs on and the keyset condition.

The store's transaction is one object (storage/sql.py: SqlTransaction) assembled from one
class per aggregate (pool_rows, identity_rows, link_rows, audit_rows, admin_rows, key_rows),
each implementing its port of domain/ports.py on the executor below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import Executable

from idpool.storage.prepared import Prepared


class Executor(Protocol):
    """One open transaction's two ways to run SQL; driver errors come out translated
    (StoreConflict / StoreFailure, storage/errors.py)."""

    async def fetch(self, statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Rows of a registered query, straight from the driver and coerced (prepared.py)."""
        ...

    async def write(self, statement: Prepared, params: Mapping[str, Any]) -> int:
        """Run a registered INSERT/UPDATE/DELETE; the number of rows it changed."""
        ...

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        """A statement built for this call (its shape depends on the arguments)."""
        ...


class Rows:
    """Base of the per-aggregate classes: the executor and whether rows can be locked."""

    def __init__(self, executor: Executor, *, row_locks: bool) -> None:
        self._x = executor
        self._row_locks = row_locks


def keyset_after(
    order_col: ColumnElement[Any], id_col: ColumnElement[Any], position: tuple[float, str]
) -> ColumnElement[bool]:
    """Keyset condition `(order, id) > position`, spelled without row values for portability.

    The leading `order >= at` is implied by the rest but lets every planner turn the index on
    (pool, order, id) into a range scan, so a page costs the same at any depth of the list.
    """
    at, last_id = position
    return and_(order_col >= at, or_(order_col > at, id_col > last_id))
