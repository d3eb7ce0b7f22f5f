"""The scope page's charts over time, from a `console.scope_series.ScopeSeries`: the path split (operations per
path, stacked), the failure rate per path with its 95% Wilson interval, the shadow comparisons per outcome
(stacked), and p50/p99 latency per path. Pure: `console.pages.scope` reads the series and puts these in the page;
the drawing is `console.svg`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from markupsafe import Markup

from console.scope_series import ScopeSeries
from console.svg import Line, bar_chart, line_chart
from rollouts.gate_text import format_duration, pct
from router.describe import wilson_interval

__all__ = ["ScopeCharts", "scope_charts"]


@dataclass(frozen=True, slots=True)
class ScopeCharts:
    """The four charts (SVG markup), and the width of one bucket in words (for the page's caption)."""

    split: Markup
    failure_rate: Markup
    shadow: Markup
    latency: Markup
    bucket: str


def _count(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _label_format(series: ScopeSeries) -> str:
    """Times of day within a day's window; dates once it spans days (the dashboard's window may be 90 days)."""
    if series.width >= timedelta(days=1):
        return "%m-%d"
    # From the first bucket's start to the last's: an hour-aligned day has a partial 25th bucket, still one day.
    span = series.buckets[-1].start - series.since if series.buckets else timedelta(0)
    return "%H:%M" if span < timedelta(days=1) else "%m-%d %H:%M"


def scope_charts(series: ScopeSeries) -> ScopeCharts:
    labels = [b.start.strftime(_label_format(series)) for b in series.buckets]
    paths, outcomes = series.paths, series.outcomes
    split = [Line(p, tuple(float(b.operations.get(p, 0)) for b in series.buckets)) for p in paths]
    failure: list[Line] = []
    for p in paths:
        values: list[float | None] = []
        bands: list[tuple[float, float] | None] = []
        for b in series.buckets:
            n, failed = b.operations.get(p, 0), b.failures.get(p, 0)
            if n == 0:
                values.append(None)
                bands.append(None)
                continue
            ci = wilson_interval(failed, n, 0.95)
            values.append(failed / n)
            bands.append((ci.low, ci.high))
        failure.append(Line(p, tuple(values), tuple(bands)))
    shadow = [Line(o, tuple(float(b.comparisons.get(o, 0)) for b in series.buckets)) for o in outcomes]
    latency = [
        Line(f"{p} {q}", tuple(b.latency[p][q] if p in b.latency else None for b in series.buckets))
        for p in paths
        for q in ("p50", "p99")
    ]
    top_rate = max((band[1] for line in failure for band in line.band if band is not None), default=0.0)
    return ScopeCharts(
        split=bar_chart("chart-split", "Operations per path", labels, split, _count),
        failure_rate=line_chart(
            "chart-failure-rate",
            "Failure rate per path (95% Wilson interval)",
            labels,
            failure,
            pct,
            top=min(1.0, max(top_rate, 0.01)),
        ),
        shadow=bar_chart("chart-shadow", "Shadow comparisons per outcome", labels, shadow, _count),
        latency=line_chart("chart-latency", "Latency per path (p50, p99)", labels, latency, format_duration),
        bucket=format_duration(series.width.total_seconds()),
    )
