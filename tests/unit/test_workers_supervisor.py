"""The worker supervisor with real forked processes (server/workers.py): no server needed."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from idpool.server import workers
from idpool.server.workers import Supervisor, worker_count


def test_workers_that_keep_failing_to_start_stop_the_server() -> None:
    exited: list[int] = []

    def broken(index: int) -> None:
        os._exit(3)  # a worker that cannot start (a bad setting, an unreachable database)

    started = time.monotonic()
    status = Supervisor(2, broken, on_worker_exit=exited.append).run()
    assert status == 1
    assert len(exited) >= workers.MAX_FAILED_STARTS  # each dead worker was reported once
    assert len(set(exited)) == len(exited)
    assert time.monotonic() - started < 30


def test_sigterm_stops_every_worker_and_a_dead_one_is_replaced() -> None:
    exited: list[int] = []
    killed: list[int] = []
    replacements: list[int] = []

    def sleeper(index: int) -> None:
        time.sleep(60)

    supervisor = Supervisor(2, sleeper, on_worker_exit=exited.append, shutdown_seconds=10)

    def pid_of(index: int) -> int | None:
        entry = dict(supervisor._workers).get(index)
        return None if entry is None else entry[0].pid

    def operator() -> None:
        time.sleep(1.0)
        first = pid_of(0)
        assert first is not None
        killed.append(first)
        os.kill(first, signal.SIGKILL)  # a worker dies: it must be replaced
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = pid_of(0)
            if now is not None and now != first:
                replacements.append(now)
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # then the operator stops the server

    threading.Thread(target=operator, daemon=True).start()
    assert supervisor.run() == 0
    assert replacements, "the killed worker was not replaced"
    assert killed[0] in exited and replacements[0] in exited
    assert len(exited) == 3  # the killed one, then both workers stopped by SIGTERM
    assert not supervisor._workers
    for pid in exited:  # joined: reaped, nothing left running
        assert not Path(f"/proc/{pid}/status").exists()


def test_worker_count_zero_means_one_per_cpu() -> None:
    assert worker_count(3) == 3
    assert worker_count(0) == len(os.sched_getaffinity(0))
