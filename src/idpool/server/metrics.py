"""Prometheus metrics: requests by operation and error code, latency, and domain counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from idpool.server.call_history import CallHistory


class Metrics:
    """One registry per app, so tests and several apps in one process do not collide."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
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
        )
        self.store_writable.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
