"""Alembic migrations run from code: `idpool migrate`, and the schema check `serve` does first."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from idpool.storage.dialects import async_postgres_url, sqlite_engine

_MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(Exception):
    """The database schema is behind this version of idpool."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _sync_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() == "sqlite":
        return sqlite_engine(url)
    # A server that does not answer fails the command within seconds instead of hanging.
    return create_engine(async_postgres_url(url), connect_args={"connect_timeout": 5})


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    engine = _sync_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    engine = _sync_engine(url)
    config = _config()
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                connection.exec_driver_sql("COMMIT")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()


def ensure_current(url: str, *, migrate: bool) -> None:
    """Migrate when asked; otherwise refuse a schema that is missing or behind."""
    if migrate:
        upgrade(url)
        return
    current = current_revision(url)
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'}, this idpool needs {head}: "
            "run `idpool migrate` (or start with --migrate)"
        )
