"""The one translation of driver errors (storage/errors.py), fed with errors real drivers raise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from idpool.domain.errors import InternalErrorException, StoreFailure
from idpool.domain.ports import StoreConflict
from idpool.storage.errors import store_error
from tests.support.postgres import PG_DSN

SECRET = "subject-4711-do-not-log"


def raised(fn: object) -> BaseException:
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


def test_sqlite_unique_violation_and_busy_database_are_conflicts(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = sqlite3.connect(path, isolation_level=None, timeout=0)
    first.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    first.execute("INSERT INTO t VALUES (?)", (SECRET,))
    unique = raised(lambda: first.execute("INSERT INTO t VALUES (?)", (SECRET,)))
    assert isinstance(store_error(unique), StoreConflict)

    first.execute("BEGIN IMMEDIATE")
    second = sqlite3.connect(path, isolation_level=None, timeout=0)
    busy = raised(lambda: second.execute("BEGIN IMMEDIATE"))
    assert isinstance(store_error(busy), StoreConflict), busy
    first.execute("ROLLBACK")
    first.close()
    second.close()


def test_sqlite_failures_carry_the_driver_words_without_sql_or_parameters(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn:
        wrapped = raised(
            lambda: conn.execute(text("SELECT * FROM missing WHERE k = :k"), {"k": SECRET})
        )
    assert isinstance(wrapped, DBAPIError) and SECRET in str(wrapped)  # SQLAlchemy's own text
    failure = store_error(wrapped)
    assert isinstance(failure, StoreFailure) and isinstance(failure, InternalErrorException)
    assert failure.cause == "sqlite SQLITE_ERROR: no such table: missing"
    assert not failure.cannot_write
    assert failure.message == "The identity store is unavailable."


def test_postgres_errors() -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (k TEXT PRIMARY KEY, n INTEGER)")
        conn.execute("INSERT INTO t VALUES (%s, 1)", (SECRET,))
        unique = raised(lambda: conn.execute("INSERT INTO t VALUES (%s, 1)", (SECRET,)))
        assert isinstance(store_error(unique), StoreConflict)

        # A data exception quotes the refused value: only its name reaches the cause.
        bad_value = raised(lambda: conn.execute("SELECT %s::integer", (SECRET,)))
        failure = store_error(bad_value)
        assert isinstance(failure, StoreFailure)
        assert failure.cause == "postgresql InvalidTextRepresentation 22P02"

        missing = store_error(raised(lambda: conn.execute("SELECT * FROM missing")))
        assert isinstance(missing, StoreFailure)
        assert missing.cause == 'postgresql UndefinedTable 42P01: relation "missing" does not exist'

        conn.execute("SET default_transaction_read_only = on")  # as on a hot standby
        read_only = store_error(raised(lambda: conn.execute("CREATE TABLE nowhere (k TEXT)")))
        assert isinstance(read_only, StoreFailure) and read_only.cannot_write


@pytest.mark.parametrize("state", ["40001", "40P01"])
def test_postgres_serialization_failures_and_deadlocks_are_conflicts(state: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        error = raised(
            lambda: conn.execute(
                f"DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '{state}'; END $$"
            )
        )
    assert isinstance(store_error(error), StoreConflict)
