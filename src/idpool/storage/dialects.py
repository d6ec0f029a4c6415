"""The few real differences between SQLite and PostgreSQL: how a transaction is opened.

SQLite: one connection in the event-loop thread, WAL, `BEGIN IMMEDIATE` for writes so two
processes sharing a file queue on the lock instead of failing at commit, reads in autocommit
(as PostgreSQL's), and an asyncio lock so that one transaction at a time uses the connection.
PostgreSQL: an async psycopg 3 connection pool; writers lock the rows they merge
(`SELECT ... FOR UPDATE`).

Every transaction has a deadline (`--db-timeout-seconds`), from asking for a connection to
the end of COMMIT. A database that stops answering without closing its connections (a
stalled network, a hung server) would otherwise hold a request for the whole stall: the
server-side `statement_timeout` cannot help, since the server never sees the statement, and
cancelling the task is no better, because psycopg then waits up to 10 s more to cancel the
query on the server. So at the deadline the connection's socket is shut down: the driver
fails at once as on a cut connection, the connection is discarded (never returned to the
pool), and the request answers InternalErrorException (see docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from idpool.domain.errors import StoreFailure
from idpool.domain.ports import StoreConflict
from idpool.files import create_private_file
from idpool.storage.errors import Writability, is_driver_error, store_error
from idpool.storage.prepared import Prepared

log = logging.getLogger("idpool.store")

DEFAULT_TIMEOUT = 5.0


class _SyncExecutor:
    """Runs statements on a synchronous connection; SQLite answers in microseconds.

    Registered statements (storage/prepared.py) run as SQL compiled once, straight on the
    driver: SQLAlchemy's per-execution bookkeeping costs several times what SQLite needs for a
    primary-key lookup. The SQL is still SQLAlchemy's own, compiled for this dialect.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._driver: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]

    async def fetch(self, statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [statement.coerce(row) for row in self._driver_call(statement, params).fetchall()]

    async def write(self, statement: Prepared, params: Mapping[str, Any]) -> int:
        return self._driver_call(statement, params).rowcount

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        try:
            return self._connection.execute(statement, params)
        except DBAPIError as exc:
            raise store_error(exc) from exc

    def _driver_call(self, statement: Prepared, params: Mapping[str, Any]) -> sqlite3.Cursor:
        sql, names, _ = statement.sql(self._dialect)
        values = statement.params(self._dialect, params)
        try:
            return self._driver.execute(sql, [values[n] for n in names])
        except sqlite3.Error as exc:
            raise store_error(exc) from exc


class _AsyncExecutor:
    """Statements on an async PostgreSQL connection.

    Registered queries (storage/prepared.py: SQL compiled once by SQLAlchemy for this
    dialect) go straight to psycopg, which prepares them server-side after a few uses; going
    through SQLAlchemy's async execution costs more than the round trip itself. Writes go
    through SQLAlchemy, whose error path SQLAlchemy's pool relies on.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._dialect = connection.dialect

    async def fetch(self, statement: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        sql, _, _ = statement.sql(self._dialect)
        raw = await self._connection.get_raw_connection()
        driver: Any = raw.driver_connection
        try:
            cursor = await driver.execute(sql, statement.params(self._dialect, params))
            return [statement.coerce(row) for row in await cursor.fetchall()]
        except Exception as exc:
            if is_driver_error(exc):
                raise store_error(exc) from exc
            raise

    async def write(self, statement: Prepared, params: Mapping[str, Any]) -> int:
        return (await self.execute(statement.statement, params)).rowcount

    async def execute(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        try:
            return await self._connection.execute(statement, params)
        except DBAPIError as exc:
            raise store_error(exc) from exc


def sqlite_engine(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """A synchronous SQLite engine with WAL and manual transaction control."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        # Created 0600 before SQLite opens it: SQLite gives -wal and -shm the same mode.
        create_private_file(Path(parsed.database))
    engine = create_engine(
        url,
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "isolation_level": None, "timeout": timeout},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class SqliteSource:
    row_locks = False
    dialect_name = "sqlite"

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.engine = sqlite_engine(url, timeout=timeout)
        self._connection = self.engine.connect()
        self._driver: Any = self._connection.connection.driver_connection
        self._executor = _SyncExecutor(self._connection)
        self._lock = asyncio.Lock()
        self._timeout = timeout
        self.writability = Writability()

    @asynccontextmanager
    async def begin(
        self, *, readonly: bool, timeout: float | None = None
    ) -> AsyncIterator[_SyncExecutor]:
        # Statements run synchronously (microseconds; a locked file waits busy_timeout), so
        # the deadline bounds the wait for the connection, held by one transaction at a time.
        if self._lock.locked():  # the uncontended hot path skips the timer
            try:
                async with asyncio.timeout(self._timeout if timeout is None else timeout):
                    await self._lock.acquire()
            except TimeoutError as exc:
                raise StoreFailure("no turn on the SQLite connection within the deadline") from exc
        else:
            await self._lock.acquire()
        try:
            # Transaction control straight on the driver connection (autocommit mode):
            # through SQLAlchemy it costs more than the statements of a typical request.
            # Reads run in autocommit, as on PostgreSQL: no BEGIN/COMMIT around a lookup (each
            # statement sees a consistent snapshot; this process runs one at a time anyway).
            driver = self._driver
            try:
                if readonly:
                    yield self._executor
                else:
                    driver.execute("BEGIN IMMEDIATE")
                    yield self._executor
                    driver.execute("COMMIT")
            except BaseException as exc:
                # SQLite rolls a transaction back by itself after some errors (a full disk).
                if driver.in_transaction:
                    try:
                        driver.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.warning("ROLLBACK failed after %s", type(exc).__name__)
                error = store_error(exc) if is_driver_error(exc) else exc
                if not readonly:
                    self.writability.observe(error)
                if error is exc:
                    raise
                raise error from exc
            if not readonly:
                self.writability.observe(None)
        finally:
            self._lock.release()

    async def close(self) -> None:
        self._connection.close()
        self.engine.dispose()


def async_postgres_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` → the psycopg 3 driver SQLAlchemy knows."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def postgres_connect_args(url: str, timeout: float) -> dict[str, Any]:
    """libpq settings that bound how long the server and the network may keep us waiting.

    `statement_timeout` ends a statement the server is stuck on (a lock wait) with an error;
    `idle_in_transaction_session_timeout` lets the server drop the locks of a client that
    vanished mid-transaction (our deadline cut its connection, but the server may not hear
    of it across a stalled network); TCP keepalives and `tcp_user_timeout` let the kernel
    notice a dead peer on idle and busy connections. The URL's own `options` are kept.
    """
    millis = max(1, round(timeout * 1000))
    existing = make_url(url).query.get("options") or ""
    if not isinstance(existing, str):
        existing = " ".join(existing)
    options = (
        f"{existing} -c statement_timeout={millis}"
        f" -c idle_in_transaction_session_timeout={2 * millis}"
    ).strip()
    return {
        "connect_timeout": max(1, round(timeout)),
        "options": options,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": millis,
    }


class _Deadline:
    """Shuts a connection's socket down at the deadline unless disarmed first.

    shutdown(), unlike close(), leaves the file descriptor to libpq: its next read sees the
    end of the stream and psycopg raises "server closed the connection unexpectedly", the
    error of a cut connection, which SQLAlchemy answers by discarding the connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float, driver: Any) -> None:
        self.fired = False
        self._driver = driver
        self._handle = loop.call_at(when, self._cut)

    def _cut(self) -> None:
        self.fired = True
        try:
            fd = self._driver.pgconn.socket
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except Exception:  # already closed: nothing is left to cut
            log.debug("deadline reached on a connection that was already closed")

    def disarm(self) -> None:
        self._handle.cancel()


class PostgresSource:
    row_locks = True
    dialect_name = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 40, timeout: float = DEFAULT_TIMEOUT) -> None:
        # No pre-ping: it costs a round trip per request. A connection that broke (server
        # restarted, or cut at the deadline) fails its request with InternalErrorException,
        # and SQLAlchemy then invalidates the pool, so the next request reconnects by itself.
        self.engine: AsyncEngine = create_async_engine(
            async_postgres_url(url),
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=timeout,
            connect_args=postgres_connect_args(url, timeout),
        )
        # Reads run in autocommit: no BEGIN/COMMIT round trips for a lookup.
        self._reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._timeout = timeout
        self.writability = Writability()

    @asynccontextmanager
    async def begin(
        self, *, readonly: bool, timeout: float | None = None
    ) -> AsyncIterator[_AsyncExecutor]:
        loop = asyncio.get_running_loop()
        seconds = self._timeout if timeout is None else timeout
        deadline = loop.time() + seconds
        try:
            # Waiting for a pooled connection or connecting is safe to cancel.
            async with asyncio.timeout_at(deadline):
                connection = await (self._reads if readonly else self.engine).connect()
        except Exception as exc:
            if isinstance(exc, TimeoutError) or is_driver_error(exc):
                raise _failure(exc, seconds) from exc
            raise
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        cut = _Deadline(loop, deadline, driver)
        try:
            if readonly:
                yield _AsyncExecutor(connection)
            else:
                async with connection.begin():
                    yield _AsyncExecutor(connection)
        except BaseException as exc:
            cut.disarm()
            if cut.fired:
                error: BaseException = _timed_out(seconds)
            elif is_driver_error(exc):
                error = store_error(exc)
            else:
                error = exc
            if not readonly:
                self.writability.observe(error)
            await _release(connection, driver, cut)
            if error is exc:
                raise
            raise error from exc
        cut.disarm()
        if not readonly:
            self.writability.observe(None)
        await _release(connection, driver, cut)

    async def close(self) -> None:
        await self.engine.dispose()


def _timed_out(seconds: float) -> StoreFailure:
    return StoreFailure(f"the database did not answer within {seconds:g} s (connection cut)")


def _failure(exc: BaseException, seconds: float) -> StoreConflict | StoreFailure:
    if isinstance(exc, TimeoutError):
        return StoreFailure(f"no database connection within {seconds:g} s")
    return store_error(exc)


async def _release(connection: AsyncConnection, driver: Any, cut: _Deadline) -> None:
    """Back to the pool, unless the connection was cut or broke: then it is discarded."""
    if cut.fired or driver.closed or driver.broken:
        await connection.invalidate()
    await connection.close()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_source(
    url: str, *, pool_size: int = 40, timeout: float = DEFAULT_TIMEOUT
) -> SqliteSource | PostgresSource:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return SqliteSource(url, timeout=timeout)
    if backend in {"postgresql", "postgres"}:
        return PostgresSource(url, pool_size=pool_size, timeout=timeout)
    raise ValueError(
        f"unsupported database URL scheme {backend!r}: use sqlite:/// or postgresql://"
    )
