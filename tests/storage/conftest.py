"""A migrated store per test, on every backend (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from idpool.storage.dialects import make_source
from idpool.storage.migrate import upgrade
from idpool.storage.sql import SqlStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        upgrade(url)
        yield url
    else:
        from tests.support.postgres import postgres_schema

        with postgres_schema() as url:
            upgrade(url)
            yield url


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def open_store(store_url: str) -> object:
    async def opener() -> SqlStore:
        return SqlStore(make_source(store_url))

    return opener
