"""Latency and throughput summaries.

Percentiles use the nearest-rank definition (the smallest sample with at least p % of the
samples at or below it), so p99 is always a latency that really happened, never an
interpolation between two samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values; p in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no samples")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(
    latencies_s: Sequence[float], errors: int, duration_s: float, iterations: int | None = None
) -> dict[str, Any]:
    """Counts, rates and latency percentiles (ms) of one measured window.

    `rps` counts successful responses only: an endpoint that answers fast with throttling
    errors must not look fast. Latencies are those of successful responses for the same reason.
    """
    ok = len(latencies_s)
    summary: dict[str, Any] = {
        "requests": ok + errors,
        "errors": errors,
        "rps": round(ok / duration_s, 1) if duration_s > 0 else 0.0,
        "duration_s": round(duration_s, 3),
    }
    if ok:
        ordered = sorted(latencies_s)
        summary.update(
            {
                "p50_ms": _ms(percentile(ordered, 50)),
                "p90_ms": _ms(percentile(ordered, 90)),
                "p99_ms": _ms(percentile(ordered, 99)),
                "max_ms": _ms(ordered[-1]),
                "mean_ms": _ms(math.fsum(ordered) / ok),
            }
        )
    else:
        summary.update({"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None})
    if iterations is not None:
        summary["iterations"] = iterations
        summary["iterations_per_s"] = round(iterations / duration_s, 1) if duration_s > 0 else 0.0
    return summary


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator rounded for reports; None when either side is missing or zero."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
