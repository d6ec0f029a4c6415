"""The numbers behind the console's charts, and the SVG that draws them, without a server."""

from __future__ import annotations

from markupsafe import escape

from idpool.domain.ports import AuditEvent
from idpool.server.call_history import CallHistory
from idpool.server.console_charts import build_charts, span, window_of
from idpool.server.console_svg import bar_chart, time_chart
from idpool.service.roles import RoleChoice

NOW = 1_767_225_600.0 + 3 * 3600 + 25 * 60 + 7  # 03:25:07 UTC
ROLE_A = "arn:aws:iam::123456789012:role/a"
ROLE_B = "arn:aws:iam::123456789012:role/b"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(n: int, kind: str, detail: str, at: float) -> AuditEvent:
    return AuditEvent(n, "000000000000", "us-east-1:p", f"us-east-1:{n}", kind, detail, at)


def test_windows_are_whole_buckets_ending_with_the_current_one() -> None:
    start, buckets, bucket = span("hour", NOW)
    assert (buckets, bucket) == (12, 300)
    assert start + buckets * bucket > NOW >= start + (buckets - 1) * bucket
    start, buckets, bucket = span("day", NOW)
    assert (buckets, bucket) == (24, 3600)
    assert start % 3600 == 0
    assert window_of("hour") == "hour"
    assert window_of("<script>") == window_of(None) == "day"


def test_call_ring_counts_per_minute_and_forgets_after_a_day() -> None:
    clock = Clock(NOW)
    ring = CallHistory(clock)
    ring.record("GetId", False)
    ring.record("GetId", True)
    clock.now += 60
    ring.record("GetCredentialsForIdentity", False)
    start, buckets, bucket = span("hour", clock.now)
    per_bucket = ring.series(start, buckets, bucket)
    assert sum(b["GetId"].calls for b in per_bucket if "GetId" in b) == 2
    assert sum(b["GetId"].errors for b in per_bucket if "GetId" in b) == 1
    clock.now += 24 * 3600
    ring.record("GetId", False)  # reuses the slot of a minute one day older
    start, buckets, bucket = span("day", clock.now)
    totals = [sum(c.calls for c in b.values()) for b in ring.series(start, buckets, bucket)]
    assert sum(totals) == 1
    assert len(ring._slots) == 24 * 60


def test_chart_numbers_come_from_the_trail_and_the_ring() -> None:
    events = [
        event(1, "created", "unauthenticated", NOW - 10),
        event(2, "created", "unauthenticated", NOW - 4000),
        event(3, "created", "authenticated", NOW - 400),
        event(4, "disabled", "login.dev", NOW - 20),
        event(5, "merged", "us-east-1:1", NOW - 20),
        event(6, "linked", "accounts.google.com", NOW - 20),  # not a new identity
        event(7, "created", "authenticated", NOW - 2 * 86400),  # outside the day
        event(8, "credentials", RoleChoice(ROLE_A, "default").detail(), NOW - 5),
        event(9, "credentials", RoleChoice(ROLE_A, "rules", "k", 1).detail(), NOW - 5),
        event(10, "credentials", RoleChoice(ROLE_B, "token", "k").detail(), NOW - 5),
        event(11, "credentials", RoleChoice(ROLE_B, "token", "k").detail(), NOW - 90_000),
    ]
    ring = CallHistory(Clock(NOW))
    for _ in range(3):
        ring.record("GetId", False)
    ring.record("GetCredentialsForIdentity", True)
    charts = build_charts(events, ring, "day", NOW, limit=1000)
    totals = {s.label: s.total for s in charts.identities.series}
    assert totals == {"new guests": 2, "new authenticated": 1, "disabled or merged": 2}
    assert charts.identities.series[0].values[-2:] == (1, 1)  # 02:18 and 03:25
    assert [(b.label, b.count) for b in charts.roles.bars] == [(ROLE_A, 2), (ROLE_B, 1)]
    assert round(charts.roles.share(charts.roles.bars[0]), 3) == 0.667
    assert [(b.label, b.count, b.errors) for b in charts.operations.bars] == [
        ("GetId", 3, 0),
        ("GetCredentialsForIdentity", 1, 1),
    ]
    assert [s.total for s in charts.calls.series] == [4, 1]
    hour = build_charts(events, ring, "hour", NOW, limit=1000)
    assert {s.label: s.total for s in hour.identities.series}["new guests"] == 1
    assert charts.identities.since is None


def test_a_truncated_read_says_from_when_it_counts() -> None:
    events = [event(n, "created", "unauthenticated", NOW - n) for n in range(1, 11)]
    charts = build_charts(events, None, "day", NOW, limit=10)
    assert charts.identities.since == NOW - 10
    assert charts.calls.note is not None
    assert build_charts(events, None, "day", NOW, limit=11).identities.since is None


def test_svg_escapes_what_callers_wrote() -> None:
    hostile = "arn:aws:iam::1:role/<script>alert(1)</script>"
    events = [event(1, "credentials", RoleChoice(hostile, "token", "k").detail(), NOW)]
    charts = build_charts(events, CallHistory(Clock(NOW)), "hour", NOW, limit=100)
    svg = str(bar_chart(charts.roles))
    assert "<script>" not in svg
    assert str(escape("<script>alert(1)</script>")) in svg
    drawn = str(time_chart(charts.identities))
    assert drawn.startswith("<svg") and 'data-chart="identities"' in drawn
    assert "Nothing in this window" in drawn
