"""The closed loop: N connections, each with one virtual user sending its next request as soon
as the previous answer arrives.

A run warms up (connections opened, server caches and JIT-less Python paths exercised, nothing
recorded), then records for a duration or until a request count is reached, then stops issuing
and waits briefly for in-flight requests, which are not counted. Process CPU time over the
recorded window is reported as `client_cpu` (fraction of one core): near 1.0 means the generator
itself was the limit and the figure is a lower bound for the server.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.client import Endpoint, HttpConnection, RequestFailed
from bench.stats import summarize
from bench.wire import RequestBuilder, error_code

#: One request: send these bytes, get the body of a 200 response or None (the error is recorded).
Call = Callable[[bytes], Awaitable[bytes | None]]
#: One iteration of a virtual user; True when every request of it succeeded.
Step = Callable[[Call], Awaitable[bool]]


class Workload(Protocol):
    """What a scenario hands to the loop once its setup is done."""

    def virtual_user(self, index: int, builder: RequestBuilder) -> Step: ...


@dataclass(frozen=True, slots=True)
class LoadSpec:
    connections: int
    duration_s: float = 10.0
    warmup_s: float = 2.0
    requests: int | None = None  # stop after this many recorded requests instead of a duration
    timeout_s: float = (
        30.0  # one request; beyond it the connection is aborted and it counts as error
    )
    max_s: float = 600.0  # hard bound of the recorded window in request-count mode


class Recorder:
    """Shared counters; appending to a list is the cheapest per-request bookkeeping there is."""

    __slots__ = ("active", "error_types", "errors", "iterations", "latencies", "stopped")

    def __init__(self) -> None:
        self.active = False
        self.stopped = False
        self.latencies: list[float] = []
        self.errors = 0
        self.iterations = 0
        self.error_types: Counter[str] = Counter()

    def reset(self) -> None:
        self.latencies = []
        self.errors = 0
        self.iterations = 0
        self.error_types = Counter()

    def error(self, kind: str) -> None:
        if self.active:
            self.errors += 1
            self.error_types[kind] += 1


def _make_call(connection: HttpConnection, recorder: Recorder) -> Call:
    clock = time.perf_counter
    send = connection.send

    async def call(request: bytes) -> bytes | None:
        started = clock()
        try:
            status, body = await send(request)
        except RequestFailed as exc:
            recorder.error(_failure_kind(exc))
            return None
        if status == 200:
            if recorder.active:
                recorder.latencies.append(clock() - started)
            return body
        recorder.error(error_code(status, body))
        return None

    return call


def _failure_kind(exc: RequestFailed) -> str:
    text = str(exc)
    if text.startswith("timeout"):
        return "Timeout"
    if text.startswith("cannot connect"):
        return "ConnectError"
    return "ConnectionClosed"


async def _watchdog(connections: Sequence[HttpConnection], timeout_s: float) -> None:
    while True:
        await asyncio.sleep(min(1.0, timeout_s / 4))
        now = time.monotonic()
        for connection in connections:
            since = connection.inflight_since
            if since and now - since > timeout_s:
                connection.abort(f"timeout after {timeout_s:g} s")


async def run_load(
    endpoint: Endpoint, builder: RequestBuilder, workload: Workload, spec: LoadSpec
) -> dict[str, Any]:
    """Drive the workload and return the summary fields of the recorded window."""
    recorder = Recorder()
    connections = [HttpConnection(endpoint) for _ in range(spec.connections)]
    steps = [workload.virtual_user(i, builder) for i in range(spec.connections)]

    async def virtual_user(connection: HttpConnection, step: Step) -> None:
        call = _make_call(connection, recorder)
        while not recorder.stopped:
            succeeded = await step(call)
            if succeeded and recorder.active:
                recorder.iterations += 1
            elif not succeeded and connection.connect_failed:
                # Could not even connect: back off so a dead endpoint does not spin the CPU.
                await asyncio.sleep(0.05)

    watchdog = asyncio.create_task(_watchdog(connections, spec.timeout_s))
    tasks = [
        asyncio.create_task(virtual_user(c, s)) for c, s in zip(connections, steps, strict=True)
    ]
    try:
        await asyncio.sleep(spec.warmup_s)
        recorder.reset()
        recorder.active = True
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        if spec.requests is None:
            await asyncio.sleep(spec.duration_s)
        else:
            deadline = wall_start + spec.max_s
            while (
                len(recorder.latencies) + recorder.errors < spec.requests
                and time.perf_counter() < deadline
            ):
                await asyncio.sleep(0.005)
        recorder.active = False
        wall = time.perf_counter() - wall_start
        cpu = time.process_time() - cpu_start
    finally:
        recorder.stopped = True
        recorder.active = False
        _done, still_running = await asyncio.wait(tasks, timeout=min(spec.timeout_s, 5.0))
        for task in still_running:
            task.cancel()
        watchdog.cancel()
        for connection in connections:
            connection.close()
        await asyncio.gather(*still_running, watchdog, return_exceptions=True)
    crashed = [t.exception() for t in tasks if not t.cancelled() and t.exception() is not None]
    if crashed and crashed[0] is not None:
        raise crashed[0]  # a bug in a scenario, not a server error
    summary = summarize(recorder.latencies, recorder.errors, wall, recorder.iterations)
    summary["client_cpu"] = round(cpu / wall, 2) if wall > 0 else None
    summary["connects"] = sum(c.connects for c in connections)
    if recorder.error_types:
        summary["error_types"] = dict(recorder.error_types.most_common(5))
    return summary
