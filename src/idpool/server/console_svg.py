"""Server-rendered SVG for the console's charts: no script, no network, no library.

The console's Content-Security-Policy forbids scripts and inline styles, so charts are plain
SVG elements coloured by classes of console.css; each bar carries a <title> (the browser's
tooltip) and every chart has a table of its numbers next to it. All text is escaped: role
ARNs and operation names reach these charts from callers.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

from idpool.server.console_charts import Bar, BarChart, TimeChart

WIDTH = 640
HEIGHT = 190
LEFT = 46
RIGHT = 8
TOP = 10
BOTTOM = 26
ROW = 24
LABEL_WIDTH = 250
MAX_LABEL = 36


def _nice_ceiling(value: int) -> int:
    """1, 2 or 5 times a power of ten, at least `value`: axis labels read as round numbers."""
    if value <= 1:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _clock(ts: float, bucket_seconds: int) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%H:%M") if bucket_seconds < 3600 else moment.strftime("%H:00")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def time_chart(chart: TimeChart) -> Markup:
    n = max(chart.buckets, 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    if chart.stacked:
        peak = max(
            (sum(s.values[i] for s in chart.series) for i in range(chart.buckets)), default=0
        )
    else:
        peak = max((max(s.values, default=0) for s in chart.series), default=0)
    top = _nice_ceiling(peak)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78)
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-labelledby="chart-{chart.key}-title" data-chart="{chart.key}">',
        f'<title id="chart-{chart.key}-title">{escape(chart.title)}</title>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        label = _num(top * fraction)
        parts.append(
            f'<line class="grid-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_num(y)}" '
            f'y2="{_num(y)}"/><text class="axis" x="{LEFT - 6}" y="{_num(y + 4)}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    label_every = max(1, n // 6)
    for i in range(chart.buckets):
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        begins = chart.bucket_start(i)
        span_text = (
            f"{_clock(begins, chart.bucket_seconds)} to "
            f"{_clock(begins + chart.bucket_seconds, chart.bucket_seconds)} UTC"
        )
        for series in chart.series:
            value = series.values[i]
            if value <= 0:
                continue
            height = plot_h * value / top
            y = base - height if chart.stacked else TOP + plot_h - height
            parts.append(
                f'<rect class="bar bar-{series.css}" x="{_num(x)}" y="{_num(y)}" '
                f'width="{_num(bar_w)}" height="{_num(height)}">'
                f"<title>{escape(span_text)}: {value} {escape(series.label)}</title></rect>"
            )
            if chart.stacked:
                base -= height
        if i % label_every == 0:
            parts.append(
                f'<text class="axis" x="{_num(LEFT + i * slot + slot / 2)}" '
                f'y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(_clock(begins, chart.bucket_seconds))}</text>"
            )
    if peak == 0:
        parts.append(
            f'<text class="empty-chart" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" '
            f'text-anchor="middle">Nothing in this window</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str) -> str:
    """A role ARN shows its role name; anything long is cut (the tooltip has it whole)."""
    text = label.split(":role/", 1)[-1] if ":role/" in label else label
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _bar_text(chart: BarChart, bar: Bar) -> str:
    if chart.key == "roles":
        return f"{bar.count} ({chart.share(bar):.0%})"
    if not bar.errors:
        return f"{bar.count}"
    return f"{bar.count} · {bar.errors} error{'s' if bar.errors > 1 else ''}"


def bar_chart(chart: BarChart) -> Markup:
    rows = max(len(chart.bars), 1)
    height = TOP + rows * ROW + 4
    peak = max((b.count for b in chart.bars), default=0)
    plot_w = WIDTH - LABEL_WIDTH - 130
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="chart-{chart.key}-title" data-chart="{chart.key}">',
        f'<title id="chart-{chart.key}-title">{escape(chart.title)}</title>',
    ]
    for i, bar in enumerate(chart.bars):
        y = TOP + i * ROW
        width = plot_w * bar.count / peak if peak else 0.0
        error_width = plot_w * bar.errors / peak if peak else 0.0
        css = f"bar-role-{i % 6}" if chart.key == "roles" else "bar-calls"
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(bar.label)}</title>{escape(_short(bar.label))}</text>"
            f'<rect class="bar {css}" x="{LABEL_WIDTH}" y="{y + 3}" width="{_num(width)}" '
            f'height="{ROW - 8}"><title>{escape(bar.label)}: {escape(_bar_text(chart, bar))}'
            "</title></rect>"
        )
        if bar.errors:
            parts.append(
                f'<rect class="bar bar-errors" x="{LABEL_WIDTH}" y="{y + 3}" '
                f'width="{_num(error_width)}" height="{ROW - 8}"><title>{escape(bar.label)}: '
                f"{bar.errors} errors</title></rect>"
            )
        parts.append(
            f'<text class="value" x="{_num(LABEL_WIDTH + width + 6)}" y="{y + 15}">'
            f"{escape(_bar_text(chart, bar))}</text>"
        )
    if not chart.bars:
        parts.append(
            f'<text class="empty-chart" x="{WIDTH / 2}" y="{TOP + 15}" text-anchor="middle">'
            "Nothing in this window</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
