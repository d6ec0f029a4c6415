"""Latency percentiles and rates reported by the benchmark."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.stats import percentile, ratio, summarize


def test_nearest_rank_on_one_to_hundred() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 99.5) == 100.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0


def test_small_samples_never_interpolate() -> None:
    assert percentile([1.0, 10.0], 50) == 1.0
    assert percentile([1.0, 10.0], 51) == 10.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=200),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_percentile_is_a_sample_and_monotone(values: list[float], p: float, q: float) -> None:
    ordered = sorted(values)
    low, high = sorted((p, q))
    assert percentile(ordered, low) in ordered
    assert percentile(ordered, low) <= percentile(ordered, high)
    # At least p % of the samples are at or below the p-th percentile.
    at_or_below = sum(1 for v in ordered if v <= percentile(ordered, high))
    assert at_or_below >= math.ceil(high / 100 * len(ordered))


def test_summary_counts_only_successes_in_rate_and_latency() -> None:
    latencies = [0.001] * 90 + [0.010] * 9 + [0.100]
    summary = summarize(latencies, errors=50, duration_s=2.0, iterations=100)
    assert summary["requests"] == 150
    assert summary["errors"] == 50
    assert summary["rps"] == 50.0  # 100 successes in 2 s; the 50 errors do not count
    assert summary["p50_ms"] == 1.0
    assert summary["p90_ms"] == 1.0
    assert summary["p99_ms"] == 10.0
    assert summary["max_ms"] == 100.0
    assert summary["iterations_per_s"] == 50.0


def test_summary_of_only_errors_has_no_latency() -> None:
    summary = summarize([], errors=3, duration_s=1.0)
    assert summary["rps"] == 0.0
    assert summary["p99_ms"] is None
    assert "iterations" not in summary


def test_ratio_handles_missing_sides() -> None:
    assert ratio(300.0, 100.0) == 3.0
    assert ratio(None, 100.0) is None
    assert ratio(5.0, 0.0) is None
    assert ratio(5.0, None) is None
