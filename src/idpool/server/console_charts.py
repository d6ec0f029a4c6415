"""The numbers behind the console's charts, computed when a page is rendered.

Where each number comes from (docs/console.md, "Charts"):

- identities over time: the audit trail's `created` events (detail `unauthenticated` is a new
  guest, `authenticated` a new authenticated identity) and its `disabled` and `merged` events;
- role share: the audit trail's `credentials` events, one per change of the role (or rule) an
  identity's credentials were vended for, whose detail names the role (service/roles.py,
  RoleChoice; service/credentials.py, RoleTrail);
- calls and errors per operation: the pipeline's per-minute ring (server/call_history.py), per
  process, since the process started.

The audit trail is read newest first and at most MAX_CHART_EVENTS rows deep, so a page costs
the same however long the trail is; when the window reaches further back than the rows read,
the chart says from when it counts. Nothing here runs on the API's request path.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from idpool.domain.ports import AuditEvent
from idpool.server.call_history import CallHistory
from idpool.service.roles import RoleChoice

# window name → (seconds, bucket seconds)
WINDOWS = {"hour": (3600, 300), "day": (86400, 3600)}
DEFAULT_WINDOW = "day"
IDENTITY_SERIES = (
    ("new guests", "guests"),
    ("new authenticated", "authenticated"),
    ("disabled or merged", "disabled"),
)
CALL_SERIES = (("calls", "calls"), ("errors", "errors"))


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    css: str
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class TimeChart:
    """Stacked counts per time bucket; bucket i starts at start + i * bucket_seconds."""

    key: str
    title: str
    start: float
    bucket_seconds: int
    series: tuple[Series, ...]
    source: str
    note: str | None = None
    stacked: bool = True
    # Set when the audit trail read stops short of the window: counts start here.
    since: float | None = None

    @property
    def buckets(self) -> int:
        return len(self.series[0].values) if self.series else 0

    def bucket_start(self, index: int) -> float:
        return self.start + index * self.bucket_seconds


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    count: int
    errors: int = 0


@dataclass(frozen=True, slots=True)
class BarChart:
    key: str
    title: str
    bars: tuple[Bar, ...]
    source: str
    note: str | None = None
    since: float | None = None

    @property
    def total(self) -> int:
        return sum(b.count for b in self.bars)

    def share(self, bar: Bar) -> float:
        return bar.count / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Charts:
    window: str
    identities: TimeChart
    roles: BarChart
    calls: TimeChart
    operations: BarChart


def window_of(raw: str | None) -> str:
    return raw if raw in WINDOWS else DEFAULT_WINDOW


def span(window: str, now: float) -> tuple[float, int, int]:
    """(start, buckets, bucket seconds): whole buckets, the last one holding `now`."""
    seconds, bucket = WINDOWS[window]
    end = (math.floor(now / bucket) + 1) * bucket
    return float(end - seconds), seconds // bucket, bucket


def _coverage(events: Sequence[AuditEvent], limit: int, start: float) -> float | None:
    """When the rows read do not reach back to the window's start: the oldest one read."""
    if len(events) < limit or not events:
        return None
    oldest = min(e.at for e in events)
    return oldest if oldest > start else None


def _identity_series(event: AuditEvent) -> int | None:
    if event.kind == "created":
        return 0 if event.detail == "unauthenticated" else 1
    if event.kind in ("disabled", "merged"):
        return 2
    return None


def identity_chart(events: Sequence[AuditEvent], window: str, now: float, limit: int) -> TimeChart:
    start, buckets, bucket = span(window, now)
    counts = [[0] * buckets for _ in IDENTITY_SERIES]
    for event in events:
        series = _identity_series(event)
        index = int((event.at - start) // bucket)
        if series is not None and 0 <= index < buckets:
            counts[series][index] += 1
    return TimeChart(
        key="identities",
        title="Identities",
        start=start,
        bucket_seconds=bucket,
        series=tuple(
            Series(label, css, tuple(values))
            for (label, css), values in zip(IDENTITY_SERIES, counts, strict=True)
        ),
        source="the audit trail: created, disabled and merged events",
        since=_coverage(events, limit, start),
    )


def role_chart(events: Sequence[AuditEvent], window: str, now: float, limit: int) -> BarChart:
    start, _, _ = span(window, now)
    roles = Counter(
        RoleChoice.split_detail(e.detail)[0]
        for e in events
        if e.kind == "credentials" and e.at >= start
    )
    return BarChart(
        key="roles",
        title="Role chosen for credentials",
        bars=tuple(Bar(role, count) for role, count in roles.most_common()),
        source="the audit trail: credentials events (one per change of an identity's role)",
        since=_coverage(events, limit, start),
    )


def call_charts(history: CallHistory | None, window: str, now: float) -> tuple[TimeChart, BarChart]:
    start, buckets, bucket = span(window, now)
    per_bucket = history.series(start, buckets, bucket) if history is not None else []
    calls = [sum(c.calls for c in b.values()) for b in per_bucket] or [0] * buckets
    errors = [sum(c.errors for c in b.values()) for b in per_bucket] or [0] * buckets
    by_operation: dict[str, list[int]] = {}
    for counts in per_bucket:
        for operation, c in counts.items():
            total = by_operation.setdefault(operation, [0, 0])
            total[0] += c.calls
            total[1] += c.errors
    source = "this process's per-minute call counters (all pools; emptied on restart)"
    note = None if history is not None else "No call counters: metrics are off in this process."
    return (
        TimeChart(
            key="calls",
            title="API calls",
            start=start,
            bucket_seconds=bucket,
            series=(
                Series("calls", "calls", tuple(calls)),
                Series("errors", "errors", tuple(errors)),
            ),
            source=source,
            note=note,
            stacked=False,
        ),
        BarChart(
            key="operations",
            title="Calls per operation",
            bars=tuple(
                Bar(op, c, e)
                for op, (c, e) in sorted(by_operation.items(), key=lambda kv: (-kv[1][0], kv[0]))
            ),
            source=source,
            note=note,
        ),
    )


def build_charts(
    events: Sequence[AuditEvent],
    history: CallHistory | None,
    window: str,
    now: float,
    limit: int,
) -> Charts:
    calls, operations = call_charts(history, window, now)
    return Charts(
        window=window,
        identities=identity_chart(events, window, now, limit),
        roles=role_chart(events, window, now, limit),
        calls=calls,
        operations=operations,
    )
