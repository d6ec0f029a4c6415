"""Calls and errors per operation, per minute, for the last day: the console's call charts.

Nothing else records a time series of API calls (Prometheus counters are totals; the
audit trail records identity changes, not calls), so the pipeline's metric point feeds
this ring too. It is per process and in memory: a restart empties it, and with several
replicas each console shows its own replica's calls (docs/observability.md). Memory is
bounded: one slot per minute of the day, each holding a counter pair for at most the
operations of the API (plus `-` for an unknown target).

Recording costs one clock read and two dictionary updates, on the event loop, without a
lock (the ring is only touched from the loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class CallCounts:
    calls: int
    errors: int


class CallHistory:
    def __init__(self, clock: Callable[[], float] = time.time, minutes: int = MINUTES) -> None:
        self._clock = clock
        self._size = minutes
        self._minute = [-1] * minutes
        self._slots: list[dict[str, list[int]]] = [{} for _ in range(minutes)]

    def record(self, operation: str, failed: bool) -> None:
        minute = int(self._clock() // 60)
        index = minute % self._size
        slot = self._slots[index]
        if self._minute[index] != minute:
            slot.clear()
            self._minute[index] = minute
        counts = slot.get(operation)
        if counts is None:
            counts = slot[operation] = [0, 0]
        counts[0] += 1
        if failed:
            counts[1] += 1

    def series(
        self, start: float, buckets: int, bucket_seconds: int
    ) -> list[dict[str, CallCounts]]:
        """Counts by operation for `buckets` buckets of `bucket_seconds` from `start`, oldest
        first. Minutes older than the ring (or not yet reached) count as empty."""
        per_bucket = max(1, bucket_seconds // 60)
        first_minute = int(start // 60)
        out: list[dict[str, CallCounts]] = []
        for b in range(buckets):
            merged: dict[str, list[int]] = {}
            for m in range(first_minute + b * per_bucket, first_minute + (b + 1) * per_bucket):
                index = m % self._size
                if self._minute[index] != m:
                    continue
                for operation, (calls, errors) in self._slots[index].items():
                    total = merged.setdefault(operation, [0, 0])
                    total[0] += calls
                    total[1] += errors
            out.append({op: CallCounts(c, e) for op, (c, e) in merged.items()})
        return out
