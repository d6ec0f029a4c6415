"""The one place that turns database driver errors into what the service understands.

* A unique-key violation, a serialization failure or a deadlock (PostgreSQL), and a busy or
  locked database (SQLite) → `StoreConflict`: the service runs its whole transaction again.
* Anything else — a lost or stalled connection, no free connection within the deadline, a
  missing table, a full disk — → `StoreFailure`, which clients see as InternalErrorException
  and the pipeline logs (with `cause`) and counts in `idpool_store_errors_total`.

SQLAlchemy's own error text holds the SQL statement and its parameters (login subjects,
identity ids), so `cause` is built from the driver's primary message only.

`Writability` keeps what write failures say about the database over time (`/ready` and the
`idpool_store_writable` gauge report it).
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from idpool.domain.errors import StoreFailure
from idpool.domain.ports import StoreConflict

# PostgreSQL: serialization_failure, deadlock_detected.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
# PostgreSQL: disk_full, read_only_sql_transaction (a hot standby).
_CANNOT_WRITE_SQLSTATES = frozenset({"53100", "25006"})
_RETRY_SQLITE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_CANNOT_WRITE_SQLITE = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)
_CAUSE_LENGTH = 300

log = logging.getLogger("idpool.store")


def store_error(exc: BaseException) -> StoreConflict | StoreFailure:
    """What a driver error (raw or wrapped by SQLAlchemy) means to the service."""
    if isinstance(exc, StoreConflict | StoreFailure):
        return exc
    if isinstance(exc, PoolTimeout):
        return StoreFailure("no database connection became free within the deadline")
    if isinstance(exc, TimeoutError):
        return StoreFailure("the database did not answer within the deadline")
    orig: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", 0) & 0xFF
        if isinstance(orig, sqlite3.IntegrityError) or code in _RETRY_SQLITE:
            return StoreConflict(str(orig))
        name = getattr(orig, "sqlite_errorname", "") or type(orig).__name__
        return StoreFailure(
            _cause(f"sqlite {name}", str(orig)), cannot_write=code in _CANNOT_WRITE_SQLITE
        )
    if isinstance(orig, psycopg.Error):
        state = orig.sqlstate or ""
        if isinstance(orig, psycopg.errors.IntegrityError) or state in _RETRY_SQLSTATES:
            return StoreConflict(str(orig))
        # Data exceptions (class 22) may quote the value they refused: keep only their name.
        message = "" if state.startswith("22") else _primary_message(orig)
        label = f"postgresql {type(orig).__name__}" + (f" {state}" if state else "")
        return StoreFailure(_cause(label, message), cannot_write=state in _CANNOT_WRITE_SQLSTATES)
    return StoreFailure(_cause(type(orig).__name__, ""))


def is_driver_error(exc: BaseException) -> bool:
    """Errors `store_error` knows; anything else raised in a transaction is the caller's own."""
    return isinstance(exc, DBAPIError | PoolTimeout | sqlite3.Error | psycopg.Error)


def _primary_message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(exc)
    return text.strip().splitlines()[0] if text.strip() else ""


def _cause(label: str, message: str) -> str:
    text = f"{label}: {message}" if message else label
    return " ".join(text.split())[:_CAUSE_LENGTH]


class Writability:
    """Whether the database accepts writes, as the last write transaction found out.

    A SQLite database on a full disk (or a read-only file, or a PostgreSQL hot standby) still
    answers reads: `/ready` stays 200 and reports `"writable": false`, the gauge
    `idpool_store_writable` drops to 0, and one WARNING line is logged when writes start
    failing and one INFO line when they work again (docs/reliability.md). It is learnt from
    real writes, not probed: a probe that writes would itself need the disk space it checks.
    """

    def __init__(self) -> None:
        self.writable = True
        self.cause: str | None = None

    def observe(self, error: BaseException | None) -> None:
        """Record how a write transaction ended: None (committed) or its error."""
        if error is None:
            if not self.writable:
                log.info("the store accepts writes again")
            self.writable, self.cause = True, None
        elif isinstance(error, StoreFailure) and error.cannot_write:
            if self.writable:
                log.warning("the store cannot write: %s", error.cause)
            self.writable, self.cause = False, error.cause
