"""Store outage: PostgreSQL stopped and restarted under load.

While the database is down every call must come back quickly as an InternalErrorException JSON
answer (no hang), /ready must say so, the server must reconnect by itself once the database is
back, and nothing acknowledged before, during or after the outage may be lost.

This stops the machine's shared PostgreSQL cluster, so it is marked `outage` (run last, see
tests/conftest.py). It cannot leave the cluster down: the test restarts it in `finally`, and a
detached watchdog process started before the stop restarts it even if pytest itself is killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.journal import Journal, create_load_pool, verify, write_load
from tests.reliability.support import (
    ServerProcess,
    aws_error,
    ensure_postgres_up,
    link_violations,
    migrate,
    postgres_ctl,
)

pytestmark = [pytest.mark.outage, pytest.mark.timeout(240)]

# The longest a call may take while the database is down: the store deadline
# (--db-timeout-seconds, 5 s, storage/dialects.py) plus slack for a loaded CI machine.
OUTAGE_ANSWER_BOUND = 15.0
DOWNTIME = 4.0
WATCHDOG_SECONDS = 90


@pytest.fixture
def postgres_watchdog() -> Iterator[None]:
    """Restart PostgreSQL after WATCHDOG_SECONDS whatever happens to this process."""
    ensure_postgres_up()
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    watchdog = subprocess.Popen(
        [
            "sh",
            "-c",
            f"sleep {WATCHDOG_SECONDS}; "
            f"pg_ctlcluster --skip-systemctl-redirect {version} main start || true",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        ensure_postgres_up()
        os.killpg(watchdog.pid, signal.SIGKILL)  # its own session: the shell and its sleep
        watchdog.wait()


def test_postgres_stop_and_start_under_load(postgres_watchdog: None, tmp_path: Path) -> None:
    from tests.support.postgres import postgres_schema

    with postgres_schema() as url:
        try:
            migrate(url, tmp_path)
            server = ServerProcess(url, tmp_path).start()
            try:
                run_outage(server, url)
            finally:
                server.stop()
        finally:
            ensure_postgres_up()


def run_outage(server: ServerProcess, url: str) -> None:
    pool_id = create_load_pool(server.url)
    journal = Journal()
    answers: list[tuple[str, float, int | None, str | None]] = []  # (phase, secs, status, type)
    phase = "before"

    def observe(operation: str, response: httpx.Response | None, seconds: float) -> None:
        if response is None:
            answers.append((phase, seconds, None, None))
        elif response.status_code == 200:
            answers.append((phase, seconds, 200, None))
        else:
            answers.append((phase, seconds, response.status_code, aws_error(response)[0]))

    async def scenario() -> None:
        nonlocal phase
        stop = asyncio.Event()
        load = asyncio.create_task(
            write_load(server.url, pool_id, journal, stop, prefix="o-", workers=8, observe=observe)
        )
        await asyncio.sleep(1.0)
        phase = "down"
        await asyncio.to_thread(postgres_ctl, "stop")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await asyncio.sleep(DOWNTIME)
            ready = await client.get("/ready")
            assert ready.status_code == 503, ready.text
            phase = "restarting"
            await asyncio.to_thread(postgres_ctl, "start")
            await asyncio.to_thread(ensure_postgres_up)
            phase = "recovering"
            deadline = time.monotonic() + 30
            while (await client.get("/ready")).status_code != 200:
                assert time.monotonic() < deadline, "the server did not reconnect by itself"
                await asyncio.sleep(0.2)
        phase = "after"
        acked = journal.size
        while journal.size < acked + 100:
            await asyncio.sleep(0.05)
        stop.set()
        await load

    asyncio.run(scenario())
    summary = {
        p: sorted({(s, t) for ph, _, s, t in answers if ph == p})
        for p in ("before", "down", "restarting", "recovering", "after")
    }
    slowest = max(seconds for _, seconds, _, _ in answers)
    counts = {p: sum(1 for a in answers if a[0] == p) for p in summary}
    print(f"outage: answers per phase {counts}, kinds {summary}, slowest {slowest:.2f}s")
    assert journal.failures == 0, f"calls without an answer (hang or dropped): {summary}"
    assert slowest < OUTAGE_ANSWER_BOUND, summary
    # Down: the load kept getting answers, and they are the AWS server-fault answer.
    down = [(s, t) for ph, _, s, t in answers if ph == "down"]
    assert (500, "InternalErrorException") in down, summary
    assert set(down) <= {(200, None), (500, "InternalErrorException")}, summary
    # After the reconnect everything succeeds again.
    assert summary["after"] == [(200, None)], summary
    verify(server.url, pool_id, journal)
    assert link_violations(url) == {}
