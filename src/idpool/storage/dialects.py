"""The few real differences between SQLite and PostgreSQL: how a transaction is opened.

SQLite: one connection in the event-loop thread, WAL, `BEGIN IMMEDIATE` for writes so two
processes sharing a file queue on the lock instead of failing at commit, and an asyncio lock
so that one transaction at a time uses the connection. PostgreSQL: an async psycopg 3
connection pool; writers lock the rows they merge (`SELECT ... FOR UPDATE`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, Result, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from idpool.domain.ports import StoreConflict
from idpool.files import create_private_file

_COMPILED: dict[tuple[int, str], tuple[Any, str, tuple[str, ...]]] = {}


def compiled_sql(statement: Any, dialect: Any) -> tuple[str, tuple[str, ...]]:
    """SQL text and positional parameter names of a prebuilt statement, compiled once per dialect.

    The cache keeps the statement itself, so its id can never be reused by another object.
    """
    key = (id(statement), dialect.name)
    entry = _COMPILED.get(key)
    if entry is None:
        compiled = statement.compile(dialect=dialect)
        positions: Any = getattr(compiled, "positiontup", None) or ()
        entry = (statement, str(compiled), tuple(positions))
        _COMPILED[key] = entry
    return entry[1], entry[2]


class _SyncExecutor:
    """Runs statements on a synchronous connection; SQLite answers in microseconds.

    `fetch` runs the hottest prebuilt SELECTs as SQL compiled once, straight on the driver:
    SQLAlchemy's per-execution bookkeeping costs several times what SQLite needs for a
    primary-key lookup. The SQL is still SQLAlchemy's own, compiled for this dialect.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver: Any = connection.connection.driver_connection

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        return self._connection.execute(statement, params)

    async def fetch(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        return list(self._driver_call(statement, params).fetchall())

    async def write(self, statement: Any, params: dict[str, Any]) -> None:
        self._driver_call(statement, params)

    def _driver_call(self, statement: Any, params: dict[str, Any]) -> Any:
        sql, names = compiled_sql(statement, self._connection.dialect)
        try:
            return self._driver.execute(sql, [params[n] for n in names])
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(str(exc)) from exc
        except sqlite3.Error as exc:
            raise OperationalError(sql, params, exc) from exc


class _AsyncExecutor:
    """Statements on an async PostgreSQL connection.

    `fetch` sends the hottest prebuilt SELECTs (SQL compiled once by SQLAlchemy for this
    dialect) straight to psycopg, which prepares them server-side after a few uses; going
    through SQLAlchemy's async execution costs more than the round trip itself.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        return await self._connection.execute(statement, params)

    async def fetch(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        sql, _ = compiled_sql(statement, self._connection.dialect)
        raw = await self._connection.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            cursor = await driver.execute(sql, params)
            return list(await cursor.fetchall())
        except Exception as exc:
            raise DBAPIError(sql, params, exc) from exc

    async def write(self, statement: Executable, params: dict[str, Any]) -> None:
        try:
            await self._connection.execute(statement, params)
        except IntegrityError as exc:
            raise StoreConflict(str(exc.orig)) from exc


def sqlite_engine(url: str) -> Engine:
    """A synchronous SQLite engine with WAL and manual transaction control."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        # Created 0600 before SQLite opens it: SQLite gives -wal and -shm the same mode.
        create_private_file(Path(parsed.database))
    engine = create_engine(
        url,
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "isolation_level": None, "timeout": 5},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class SqliteSource:
    row_locks = False
    dialect_name = "sqlite"

    def __init__(self, url: str) -> None:
        self.engine = sqlite_engine(url)
        self._connection = self.engine.connect()
        self._driver: Any = self._connection.connection.driver_connection
        self._executor = _SyncExecutor(self._connection)
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def begin(self, *, readonly: bool) -> AsyncIterator[_SyncExecutor]:
        async with self._lock:
            # Transaction control straight on the driver connection (autocommit mode):
            # through SQLAlchemy it costs more than the statements of a typical request.
            driver = self._driver
            driver.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
            try:
                yield self._executor
            except BaseException:
                driver.execute("ROLLBACK")
                raise
            else:
                driver.execute("COMMIT")

    async def close(self) -> None:
        self._connection.close()
        self.engine.dispose()


def async_postgres_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` → the psycopg 3 driver SQLAlchemy knows."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class PostgresSource:
    row_locks = True
    dialect_name = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 40, timeout: float = 5.0) -> None:
        # No pre-ping: it costs a round trip per request. A connection that broke (server
        # restarted) fails its request with InternalErrorException, and SQLAlchemy then
        # invalidates the pool, so the next request reconnects by itself.
        self.engine: AsyncEngine = create_async_engine(
            async_postgres_url(url),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=timeout,
            connect_args={"connect_timeout": max(1, int(timeout))},
        )
        # Reads run in autocommit: no BEGIN/COMMIT round trips for a lookup.
        self._reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def begin(self, *, readonly: bool) -> AsyncIterator[_AsyncExecutor]:
        if readonly:
            async with self._reads.connect() as connection:
                yield _AsyncExecutor(connection)
            return
        async with self.engine.begin() as connection:
            yield _AsyncExecutor(connection)

    async def close(self) -> None:
        await self.engine.dispose()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_source(url: str, *, pool_size: int = 40) -> SqliteSource | PostgresSource:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return SqliteSource(url)
    if backend in {"postgresql", "postgres"}:
        return PostgresSource(url, pool_size=pool_size)
    raise ValueError(
        f"unsupported database URL scheme {backend!r}: use sqlite:/// or postgresql://"
    )
