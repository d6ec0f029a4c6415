"""The Store: one SQL implementation for SQLite and PostgreSQL.

Queries are SQLAlchemy Core statements shared by both databases, one module per aggregate
(pool_rows, identity_rows, link_rows, audit_rows, admin_rows, key_rows), each implementing its
port of domain/ports.py; `SqlTransaction` is all of them on one open transaction. Only
execution differs (`dialects.py`): SQLite runs on one connection inside the event loop (its
calls take microseconds and a single writer is what SQLite wants), PostgreSQL runs on an async
connection pool. Unique-key violations and serialization failures surface as
`StoreConflict`, which the service answers by retrying its transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from idpool.domain.ports import StoreConflict
from idpool.storage.admin_rows import SqlAdminReads
from idpool.storage.audit_rows import SqlAuditTrail
from idpool.storage.errors import Writability, store_error
from idpool.storage.identity_rows import SqlIdentityRows
from idpool.storage.key_rows import SqlKeyRows
from idpool.storage.link_rows import SqlLinkRows, link_slot
from idpool.storage.pool_rows import SqlPoolRows
from idpool.storage.rows import Executor

__all__ = ["SqlStore", "SqlTransaction", "TransactionSource", "link_slot"]


class SqlTransaction(
    SqlPoolRows, SqlIdentityRows, SqlLinkRows, SqlAuditTrail, SqlAdminReads, SqlKeyRows
):
    """Every port of the store on one open transaction (domain.ports.Transaction and the
    console's and the keyring's ports)."""


class TransactionSource(Protocol):
    row_locks: bool
    dialect_name: str
    writability: Writability

    def begin(
        self, *, readonly: bool, timeout: float | None = None
    ) -> AbstractAsyncContextManager[Executor]:
        """A transaction on one connection; commits when the block ends, else rolls back."""
        ...

    async def close(self) -> None: ...


class SqlStore:
    """The Store port over a dialect-specific connection source (see dialects.py)."""

    def __init__(self, source: TransactionSource) -> None:
        self._source = source

    @asynccontextmanager
    async def transaction(self, readonly: bool = False) -> AsyncIterator[SqlTransaction]:
        try:
            async with self._source.begin(readonly=readonly) as executor:
                yield SqlTransaction(executor, row_locks=self._source.row_locks)
        except StoreConflict:
            raise
        except DBAPIError as exc:
            raise store_error(exc) from exc

    async def close(self) -> None:
        await self._source.close()

    @property
    def dialect_name(self) -> str:
        return self._source.dialect_name

    @property
    def writable(self) -> bool:
        """False since a write failed because the database cannot write (storage/errors.py)."""
        return self._source.writability.writable

    async def ping(self, timeout: float | None = None) -> bool:
        """Whether the store answers a read of its schema within `timeout` seconds."""
        try:
            async with self._source.begin(readonly=True, timeout=timeout) as executor:
                await SqlTransaction(executor, row_locks=False).count_pools("-", "-")
        except Exception:
            return False
        return True
