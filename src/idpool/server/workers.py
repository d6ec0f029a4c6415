"""`idpool serve --workers N`: N server processes sharing one listening socket.

The parent binds the socket, prepares the database, then forks the workers; each worker
builds its own application (event loop, connection pool, keyring, caches) and serves the
inherited socket, so the kernel hands each new connection to whichever worker accepts it.
The parent does nothing but supervise: a worker that dies is replaced (a worker that keeps
dying within seconds of starting stops the server instead of looping), SIGTERM or SIGINT
stops every worker gracefully (uvicorn finishes the requests in flight), SIGHUP is passed on
(providers file reload).

What would be per-process is shared through state the parent creates before forking
(`WorkerShared`): the rate-quota buckets (server/throttle.py `SharedBuckets`), a pool-change
counter that keeps every worker's pool cache as fresh as its own writes (service/pool_cache.py),
a private directory holding prometheus-client's multiprocess files (server/metrics.py) and the
console's sign-out list (server/console_auth.py). The parent removes the directory at exit.
See docs/production.md#workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mmap
import multiprocessing
import os
import shutil
import signal
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, cast

log = logging.getLogger("idpool.workers")

# How long workers get to finish their requests after SIGTERM before they are killed.
SHUTDOWN_SECONDS = 30.0
# A worker that exits sooner than this after starting counts as a failed start; this many
# failed starts in a row stop the server (a broken configuration must not loop forever).
EARLY_EXIT_SECONDS = 5.0
MAX_FAILED_STARTS = 5
_PR_SET_PDEATHSIG = 1

# Workers are forked: they inherit the shared memory, the socket and the string hash seed
# (server/throttle.py keys shared buckets by hash()), and start in milliseconds.
_FORK = multiprocessing.get_context("fork")


def worker_count(setting: int) -> int:
    """`--workers`: 0 means one per CPU this process may run on."""
    if setting < 0:
        raise ValueError(f"--workers must be 0 (one per CPU) or more, not {setting}")
    if setting == 0:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return setting


class SharedGeneration:
    """A counter in shared memory that every pool change bumps (service/pool_cache.py).

    Reads and bumps are single 8-byte loads and stores; two bumps racing may count once,
    which still changes the value, and a change is all a reader looks for.
    """

    _COUNTER = struct.Struct("Q")

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, self._COUNTER.size)

    def value(self) -> int:
        return int(self._COUNTER.unpack_from(self._memory, 0)[0])

    def bump(self) -> None:
        self._COUNTER.pack_into(self._memory, 0, (self.value() + 1) % (1 << 64))


@dataclass(frozen=True)
class WorkerShared:
    """State the parent creates before forking, so that every worker sees the same one."""

    directory: Path
    buckets: Any  # server.throttle.SharedBuckets (imported lazily: see create)
    pool_changes: SharedGeneration

    @property
    def metrics_dir(self) -> Path:
        return self.directory / "metrics"

    @property
    def revoked_dir(self) -> Path:
        return self.directory / "console-revoked"

    @classmethod
    def create(cls) -> WorkerShared:
        """A private (0700) temporary directory and the shared memory.

        Switches prometheus-client to its multiprocess mode for the metrics created from now
        on (in this process and the workers forked from it): PROMETHEUS_MULTIPROC_DIR, and
        the value class it would have picked at import had the variable been set then.
        """
        from prometheus_client import values

        from idpool.server.throttle import SharedBuckets

        directory = Path(tempfile.mkdtemp(prefix="idpool-workers-"))
        shared = cls(directory, SharedBuckets(), SharedGeneration())
        shared.metrics_dir.mkdir(mode=0o700)
        shared.revoked_dir.mkdir(mode=0o700)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared.metrics_dir)
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        return shared

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGTERM this worker when the parent dies (Linux), so none is orphaned."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        log.debug("no parent-death signal on this platform")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _worker_main(index: int, parent: int, target: Callable[[int], None]) -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    _die_with_parent(parent)
    target(index)


class Supervisor:
    """Starts `count` workers running `target(index)`, replaces dead ones, stops them all."""

    def __init__(
        self,
        count: int,
        target: Callable[[int], None],
        *,
        on_worker_exit: Callable[[int], None] | None = None,
        shutdown_seconds: float = SHUTDOWN_SECONDS,
    ) -> None:
        if count < 1:
            raise ValueError("a supervisor needs at least one worker")
        self._count = count
        self._target = target
        self._on_exit = on_worker_exit
        self._shutdown_seconds = shutdown_seconds
        self._workers: dict[int, tuple[Any, float]] = {}  # index → (process, started at)
        self._stopping = False
        self._failed_starts = 0

    def _start(self, index: int) -> None:
        process = _FORK.Process(
            target=_worker_main,
            args=(index, os.getpid(), self._target),
            name=f"idpool-worker-{index}",
            daemon=False,
        )
        process.start()
        self._workers[index] = (process, time.monotonic())
        log.info("worker %d started (pid %d)", index, process.pid)

    def _signal_all(self, number: int) -> None:
        for process, _ in self._workers.values():
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, number)

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT; 0 after a clean stop, 1 when workers cannot start."""
        previous = {
            number: signal.signal(number, self._on_signal)
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            for index in range(self._count):
                self._start(index)
            status = self._supervise()
        finally:
            self._stop_all()
            for number, handler in previous.items():
                signal.signal(number, handler)
        return status

    def _on_signal(self, number: int, _frame: Any) -> None:
        if number == signal.SIGHUP:
            self._signal_all(signal.SIGHUP)
            return
        self._stopping = True

    def _supervise(self) -> int:
        while not self._stopping:
            sentinels = {p.sentinel: i for i, (p, _) in self._workers.items()}
            for ready in wait(list(sentinels), timeout=0.5):
                if self._stopping:
                    break
                index = sentinels[cast(int, ready)]
                process, started = self._workers.pop(index)
                process.join()
                if self._on_exit is not None and process.pid is not None:
                    self._on_exit(process.pid)
                lived = time.monotonic() - started
                log.warning(
                    "worker %d (pid %s) exited with %s after %.1f s; starting a new one",
                    index,
                    process.pid,
                    process.exitcode,
                    lived,
                )
                self._failed_starts = self._failed_starts + 1 if lived < EARLY_EXIT_SECONDS else 0
                if self._failed_starts >= MAX_FAILED_STARTS:
                    log.error("workers keep exiting right after they start; stopping the server")
                    return 1
                if self._failed_starts:
                    time.sleep(min(2.0, 0.1 * 2**self._failed_starts))
                self._start(index)
        return 0

    def _stop_all(self) -> None:
        """SIGTERM every worker (graceful: uvicorn drains), SIGKILL what is left at the deadline."""
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self._shutdown_seconds
        for process, _ in self._workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
        for index, (process, _) in self._workers.items():
            if process.is_alive():
                log.warning("worker %d did not stop in time; killing it", index)
                process.kill()
                process.join()
            if self._on_exit is not None and process.pid is not None:
                self._on_exit(process.pid)
        self._workers.clear()
