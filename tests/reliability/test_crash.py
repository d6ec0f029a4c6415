"""Crash safety: SIGKILL the server in the middle of a write load, restart it, lose nothing.

A client-side journal records every write that got a 2xx; after each crash and restart every
journaled pool, identity, login link and developer id must be there and consistent. Requests
that were in flight when the process died may land either way: only acknowledged ones count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.journal import Journal, create_load_pool, verify, write_load
from tests.reliability.support import ServerProcess, link_violations, migrate


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "postgresql":
        from tests.support.postgres import postgres_schema

        with postgres_schema() as url:
            migrate(url, tmp_path)
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"


async def load_then_kill(
    server: ServerProcess, pool_id: str, journal: Journal, prefix: str, acks: int = 120
) -> None:
    """Write until `acks` more acknowledgements arrived, SIGKILL, then drain the workers."""
    stop = asyncio.Event()
    target = journal.size + acks

    async def killer() -> None:
        while journal.size < target:
            await asyncio.sleep(0.005)
        server.kill()
        await asyncio.sleep(0.3)  # the calls in flight now fail against the dead process
        stop.set()

    await asyncio.gather(write_load(server.url, pool_id, journal, stop, prefix=prefix), killer())


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_mid_write_loses_nothing_acknowledged(
    fresh_database: str, tmp_path: Path, workers: int
) -> None:
    server = ServerProcess(fresh_database, tmp_path, extra=["--workers", str(workers)]).start()
    try:
        pool_id = create_load_pool(server.url)
        journal = Journal()
        for cycle in range(2):
            asyncio.run(load_then_kill(server, pool_id, journal, prefix=f"c{cycle}-"))
            assert server.process is not None and server.process.returncode == -9
            server.start()
            verify(server.url, pool_id, journal)
        assert journal.failures > 0, "the kill did not interrupt any request"
        assert min(len(journal.pools), len(journal.logins), len(journal.developers)) > 10
        assert len(journal.guests) > 10
        assert journal.links
        assert link_violations(fresh_database) == {}
    finally:
        server.stop()
