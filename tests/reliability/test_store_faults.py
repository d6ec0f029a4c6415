"""A store that stalls, is cut, loses a table or cannot write, seen through a live server.

PostgreSQL failures come from our own TCP proxy in front of the shared server
(tests/support/proxy.py), never from stopping it. Every answer is checked as a client sees it
(the AWS error shape, how long it took) and as an operator sees it (the log line with its
cause, `idpool_store_errors_total`, `/ready`, `idpool_store_writable`).
"""

from __future__ import annotations

import concurrent.futures
import errno
import logging
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.reliability.support import aws_error, call, ok
from tests.support.live import LiveServer, live_server, settings_for_tests
from tests.support.postgres import postgres_schema
from tests.support.proxy import StallingProxy, stalling_proxy

pytestmark = pytest.mark.timeout(120)

DEADLINE = 2.0  # --db-timeout-seconds of the servers under test
# The longest an answer may take while the store stalls: the deadline plus slack for a
# loaded two-core machine. The stall itself lasts until every answer is in, so a request
# that waited for the database would blow this bound (and the client's own timeout).
ANSWER_BOUND = DEADLINE + 2.5
READY_BOUND = 1.0 + 1.5
CONCURRENT = 12  # three times the pool, so some requests queue for a connection


@pytest.fixture
def behind_proxy(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[LiveServer, StallingProxy]]:
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL is not among IDPOOL_TEST_BACKENDS")
    caplog.set_level(logging.INFO, logger="idpool")
    with postgres_schema() as url, stalling_proxy() as proxy:
        settings = settings_for_tests(
            proxy.url_for(url), db_timeout_seconds=DEADLINE, db_pool_size=CONCURRENT // 3
        )
        with live_server(settings) as server:
            yield server, proxy
            proxy.resume()


def store_errors(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return float(re.search(r"^idpool_store_errors_total (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]


def store_writable(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return float(re.search(r"^idpool_store_writable (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "idpool.request" and r.getMessage().startswith("store failure")
    ]


def guest_pool(client: httpx.Client, name: str) -> str:
    params = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": True}
    return str(ok(call(client, "CreateIdentityPool", params))["IdentityPoolId"])


def timed_get_id(url: str, pool_id: str) -> tuple[float, httpx.Response]:
    with httpx.Client(base_url=url, timeout=30) as client:
        started = time.monotonic()
        response = call(client, "GetId", {"IdentityPoolId": pool_id})
        return time.monotonic() - started, response


def timed_ready(url: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = httpx.get(f"{url}/ready", timeout=30)
    return time.monotonic() - started, response


def assert_internal_error(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    assert aws_error(response) == ("InternalErrorException", "The identity store is unavailable.")


def test_a_stalled_database_answers_within_the_deadline_and_recovers(
    behind_proxy: tuple[LiveServer, StallingProxy], caplog: pytest.LogCaptureFixture
) -> None:
    server, proxy = behind_proxy
    with httpx.Client(base_url=server.url, timeout=30) as client:
        pool_id = guest_pool(client, "stall")
        with concurrent.futures.ThreadPoolExecutor(CONCURRENT + 1) as workers:
            # Open the whole pool first, so that the stall catches requests mid-statement.
            warm = [workers.submit(timed_get_id, server.url, pool_id) for _ in range(CONCURRENT)]
            assert all(f.result()[1].status_code == 200 for f in warm)
            errors_before = store_errors(client)

            proxy.stall()
            calls = [workers.submit(timed_get_id, server.url, pool_id) for _ in range(CONCURRENT)]
            ready = workers.submit(timed_ready, server.url)
            answers = [f.result() for f in calls]
            ready_took, ready_answer = ready.result()

            for took, response in answers:
                assert_internal_error(response)
                assert took < ANSWER_BOUND, [round(t, 2) for t, _ in answers]
            assert ready_answer.status_code == 503, ready_answer.text
            assert ready_answer.json() == {"status": "store unreachable"}
            assert ready_took < READY_BOUND, ready_took
            # The connections opened before the stall were cut at the deadline: the in-flight
            # requests answered with the deadline's cause, not the pool's.
            causes = [r.getMessage() for r in failure_lines(caplog)]
            assert any("did not answer within 2 s (connection cut)" in c for c in causes), causes

            # Every failure is logged once, with its cause, and counted.
            assert len(causes) == CONCURRENT, causes
            assert store_errors(client) == errors_before + CONCURRENT
            for record in failure_lines(caplog):
                assert record.levelno == logging.ERROR
                assert record.request_id and record.operation == "GetId"  # type: ignore[attr-defined]
                text = record.getMessage()
                assert pool_id not in text and "SELECT" not in text and "INSERT" not in text, text

            # Held data is delivered now; a stuck connection returned to the pool would hand
            # a stale answer to the next request. None was: every call after the stall works.
            proxy.resume()
            after = [
                workers.submit(timed_get_id, server.url, pool_id) for _ in range(3 * CONCURRENT)
            ]
            assert [f.result()[1].status_code for f in after] == [200] * (3 * CONCURRENT)
        assert timed_ready(server.url)[1].json() == {"status": "ready"}
        assert store_errors(client) == errors_before + CONCURRENT


def test_ready_answers_503_within_a_second_while_the_store_stalls(
    behind_proxy: tuple[LiveServer, StallingProxy],
) -> None:
    server, proxy = behind_proxy
    assert timed_ready(server.url)[1].status_code == 200  # a pooled connection now exists
    proxy.stall()
    # First the idle pooled connection is tried (its query is cut at the probe's deadline),
    # then a new connection, whose connect hangs.
    for _ in range(2):
        took, answer = timed_ready(server.url)
        assert (answer.status_code, answer.json()) == (503, {"status": "store unreachable"})
        assert took < READY_BOUND, took
    proxy.resume()
    took, answer = timed_ready(server.url)
    assert (answer.status_code, answer.json()) == (200, {"status": "ready"})


def test_a_cut_connection_is_logged_counted_and_replaced(
    behind_proxy: tuple[LiveServer, StallingProxy], caplog: pytest.LogCaptureFixture
) -> None:
    server, proxy = behind_proxy
    with httpx.Client(base_url=server.url, timeout=30) as client:
        pool_id = guest_pool(client, "cut")
        errors_before = store_errors(client)
        proxy.cut()
        took, response = timed_get_id(server.url, pool_id)
        assert_internal_error(response)
        assert took < ANSWER_BOUND
        (line,) = failure_lines(caplog)
        assert "postgresql OperationalError" in line.getMessage(), line.getMessage()
        assert store_errors(client) == errors_before + 1
        # The broken connection was discarded and the pool reconnects by itself.
        assert ok(call(client, "GetId", {"IdentityPoolId": pool_id}))["IdentityId"]


# --- a dropped table, on both stores ------------------------------------------------------


@pytest.fixture
def own_server(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[tuple[LiveServer, str]]:
    caplog.set_level(logging.INFO, logger="idpool")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'idpool.sqlite3'}"
        with live_server(settings_for_tests(url, db_timeout_seconds=DEADLINE)) as server:
            yield server, url
        return
    with (
        postgres_schema() as url,
        live_server(settings_for_tests(url, db_timeout_seconds=DEADLINE)) as server,
    ):
        yield server, url


def drop_table(url: str, table: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(f"DROP TABLE {table}")
        return
    import psycopg

    from tests.support.postgres import PG_DSN

    schema = url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{schema}".{table} CASCADE')


def test_a_dropped_table_is_logged_and_counted(
    own_server: tuple[LiveServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = own_server
    with httpx.Client(base_url=server.url, timeout=30) as client:
        pool_id = guest_pool(client, "dropped")
        errors_before = store_errors(client)
        drop_table(url, "identities")
        response = call(client, "GetId", {"IdentityPoolId": pool_id})
        assert_internal_error(response)
        (line,) = failure_lines(caplog)
        text = line.getMessage()
        expected = (
            "no such table: identities" if url.startswith("sqlite") else "UndefinedTable 42P01"
        )
        assert expected in text, text
        assert pool_id not in text, text
        assert store_errors(client) == errors_before + 1


# --- SQLite on a full disk ----------------------------------------------------------------


def _small_filesystem(path: Path) -> bool:
    """A 2 MiB tmpfs at `path`, when this process may mount one (root, as in CI)."""
    if os.geteuid() != 0:
        return False
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def full_disk_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[tuple[LiveServer, Path]]:
    """A SQLite server whose database lives on a tiny filesystem of its own."""
    caplog.set_level(logging.INFO, logger="idpool")
    disk = tmp_path / "disk"
    if not _small_filesystem(disk):
        pytest.skip("needs root to mount a small tmpfs (a real ENOSPC is the point)")
    try:
        url = f"sqlite:///{disk / 'idpool.sqlite3'}"
        with live_server(settings_for_tests(url, db_timeout_seconds=DEADLINE)) as server:
            yield server, disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem is full; return it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def test_sqlite_on_a_full_disk_reads_but_reports_it_cannot_write(
    full_disk_server: tuple[LiveServer, Path], caplog: pytest.LogCaptureFixture
) -> None:
    server, disk = full_disk_server
    with httpx.Client(base_url=server.url, timeout=30) as client:
        pool_id = guest_pool(client, "full")
        known = ok(call(client, "GetId", {"IdentityPoolId": pool_id}))["IdentityId"]
        assert store_writable(client) == 1
        errors_before = store_errors(client)

        filler = fill(disk)
        # New identities need space: every attempt answers InternalErrorException (the WAL
        # grows with each commit, and nothing has been checkpointed yet to make room).
        failed = [call(client, "GetId", {"IdentityPoolId": pool_id}) for _ in range(5)]
        for response in failed:
            assert_internal_error(response)
        causes = [r.getMessage() for r in failure_lines(caplog)]
        assert len(causes) == len(failed), causes
        assert all("SQLITE_FULL" in c and "database or disk is full" in c for c in causes), causes
        assert store_errors(client) == errors_before + len(failed)

        # Reads keep working, and the replica stays ready: it says it cannot write.
        described = ok(call(client, "DescribeIdentity", {"IdentityId": known}))
        assert described["IdentityId"] == known
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "writable": False})
        assert store_writable(client) == 0
        warnings = [
            r.getMessage()
            for r in caplog.records
            if r.name == "idpool.store" and r.levelno == logging.WARNING
        ]
        assert warnings == ["the store cannot write: sqlite SQLITE_FULL: database or disk is full"]

        # Space comes back: the next write works, and every signal clears by itself.
        filler.unlink()
        assert ok(call(client, "GetId", {"IdentityPoolId": pool_id}))["IdentityId"]
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert store_writable(client) == 1
        assert any(
            r.name == "idpool.store" and r.getMessage() == "the store accepts writes again"
            for r in caplog.records
        )
    database = disk / "idpool.sqlite3"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
