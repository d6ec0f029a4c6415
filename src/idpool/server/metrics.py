"""Prometheus metrics: requests by operation and error code, latency, and domain counters.

With `--workers N` every worker records into prometheus-client's multiprocess files (a
directory the supervisor creates, `PROMETHEUS_MULTIPROC_DIR`), and whichever worker answers
`/metrics` renders the sum over all of them; `idpool_worker_requests` then tells the
workers' shares apart (server/workers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from idpool.server.call_history import CallHistory


class _WorkerRequests:
    """Per-worker request totals, read from each worker's own counter file at scrape time."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "idpool_worker_requests",
            "API requests answered by each worker process since it started (by pid)",
            labels=["pid"],
        )
        for path in sorted(self._directory.glob("counter_*.db")):
            pid = path.stem.removeprefix("counter_")
            total = 0.0
            for metric in MultiProcessCollector.merge(  # type: ignore[no-untyped-call]
                [str(path)], accumulate=False
            ):
                if metric.name == "idpool_requests":
                    total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
            family.add_metric([pid], total)
        yield family


class Metrics:
    """One registry per app, so tests and several apps in one process do not collide.

    `multiprocess_dir` (worker mode) renders the sum over every worker's files instead.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "idpool_requests",
            "API requests by operation and result code",
            ["operation", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "idpool_request_seconds",
            "API request latency by operation",
            ["operation"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.identities_created = Counter(
            "idpool_identities_created", "Identities created", registry=self.registry
        )
        self.tokens_issued = Counter(
            "idpool_tokens_issued",
            "OpenID tokens issued by operation",
            ["operation"],
            registry=self.registry,
        )
        self.credentials_vended = Counter(
            "idpool_credentials_vended",
            "Credentials vended by vendor mode",
            ["mode"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "idpool_store_errors",
            "Requests that failed because the store failed",
            registry=self.registry,
        )
        # Per-minute calls of the last day, for the console's charts (not exported).
        self.calls = CallHistory()
        self.store_writable = Gauge(
            "idpool_store_writable",
            "1 while the store accepts writes, 0 since a write failed for want of space or "
            "write access (reads may still work)",
            registry=self.registry,
            # Across workers: 0 as soon as any live worker cannot write.
            multiprocess_mode="livemin",
        )
        self.store_writable.set(1)
        self._exported = self.registry
        if multiprocess_dir is not None:
            self._exported = CollectorRegistry()
            MultiProcessCollector(self._exported, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
            self._exported.register(_WorkerRequests(multiprocess_dir))

    def track_writable(self, writable: Callable[[], bool]) -> None:
        """The store_writable gauge follows `writable` (read at scrape time in one process)."""
        if self.multiprocess_dir is None:
            self.store_writable.set_function(lambda: 1.0 if writable() else 0.0)

    def render(self) -> bytes:
        return generate_latest(self._exported)
