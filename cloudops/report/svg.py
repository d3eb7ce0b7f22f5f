"""Inline SVG charts for the HTML report: plain strings, every text escaped, no scripts, no external references.

- `failure_chart`: each path's failure rate as a bar with its 95% Wilson interval as a whisker;
- `latency_chart`: p50, p95 and p99 per path as grouped bars on one scale;
- `shadow_chart`: the shares of comparison outcomes as one stacked bar with a legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from cloudops.report.model import ComparisonStats, PathStats
from rollouts.gates import format_duration

__all__ = ["PATH_COLOURS", "failure_chart", "latency_chart", "shadow_chart"]

PATH_COLOURS = {"legacy": "#6b7a8f", "durable": "#6f42c1"}
_OUTCOME_COLOURS = {
    "match": "#2e7d32",
    "mismatch": "#c62828",
    "ignored": "#f9a825",
    "candidateError": "#8e24aa",
    "controlError": "#546e7a",
}
_OUTCOME_LABELS = {
    "match": "match",
    "mismatch": "mismatch",
    "ignored": "ignored",
    "candidateError": "candidate error",
    "controlError": "control error",
}
_WIDTH = 420
_LABEL = 70
_PLOT = _WIDTH - _LABEL - 150


def _svg(height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11, colour: str = "#222") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{colour}" '
        f'font-family="sans-serif">{escape(text)}</text>'
    )


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.1f}%"


def failure_chart(paths: Sequence[PathStats], title: str = "Failure rate by path (95% Wilson interval)") -> str:
    shown = [p for p in paths if p.total > 0]
    height = 30 + 34 * max(1, len(shown))
    top = max([p.failure_interval.high for p in shown] + [0.01])
    scale = _PLOT / top
    body = [_text(0, 14, title, size=12)]
    if not shown:
        body.append(_text(_LABEL, 40, "no operations in this window", colour="#777"))
    for i, p in enumerate(shown):
        y = 26 + i * 34
        ci = p.failure_interval
        colour = PATH_COLOURS.get(p.path, "#444")
        body += [
            _text(0, y + 14, p.path),
            f'<rect x="{_LABEL}" y="{y + 4}" width="{max(ci.estimate * scale, 1):.1f}" height="14" fill="{colour}"/>',
            f'<line x1="{_LABEL + ci.low * scale:.1f}" y1="{y + 11}" x2="{_LABEL + ci.high * scale:.1f}" '
            f'y2="{y + 11}" stroke="#111" stroke-width="1.5"/>',
            f'<line x1="{_LABEL + ci.low * scale:.1f}" y1="{y + 5}" x2="{_LABEL + ci.low * scale:.1f}" y2="{y + 17}" '
            'stroke="#111"/>',
            f'<line x1="{_LABEL + ci.high * scale:.1f}" y1="{y + 5}" x2="{_LABEL + ci.high * scale:.1f}" '
            f'y2="{y + 17}" stroke="#111"/>',
            _text(
                _LABEL + _PLOT + 8,
                y + 15,
                f"{_pct(ci.estimate)} [{_pct(ci.low)}-{_pct(ci.high)}] n={p.total}",
                size=10,
            ),
        ]
    return _svg(height, title, "".join(body))


def latency_chart(paths: Sequence[PathStats], title: str = "Latency percentiles by path") -> str:
    shown = [p for p in paths if p.latency]
    rows = [(p, q) for p in shown for q in ("p50", "p95", "p99")]
    height = 30 + 16 * max(1, len(rows)) + 8 * max(0, len(shown) - 1)
    top = max([p.latency[q] for p, q in rows if p.latency] + [1e-6])
    scale = _PLOT / top
    body = [_text(0, 14, title, size=12)]
    if not rows:
        body.append(_text(_LABEL, 40, "no timed operations in this window", colour="#777"))
    y = 24
    for index, p in enumerate(shown):
        if index:
            y += 8
        colour = PATH_COLOURS.get(p.path, "#444")
        for q in ("p50", "p95", "p99"):
            value = p.latency[q] if p.latency else 0.0
            opacity = {"p50": "0.45", "p95": "0.7", "p99": "1"}[q]
            body += [
                _text(0, y + 11, f"{p.path} {q}", size=10),
                f'<rect x="{_LABEL}" y="{y + 2}" width="{max(value * scale, 1):.1f}" height="11" fill="{colour}" '
                f'fill-opacity="{opacity}"/>',
                _text(_LABEL + _PLOT + 8, y + 11, format_duration(value), size=10),
            ]
            y += 16
    return _svg(height, title, "".join(body))


def shadow_chart(stats: ComparisonStats, title: str = "Shadow comparison outcomes") -> str:
    rates = stats.rates()
    body = [_text(0, 14, title, size=12)]
    if stats.counts.total == 0:
        body.append(_text(0, 40, "no shadow comparisons in this window", colour="#777"))
        return _svg(56, title, "".join(body))
    x = 0.0
    span = _WIDTH - 10
    for name, rate in rates.items():
        width = (rate or 0.0) * span
        if width > 0:
            body.append(
                f'<rect x="{x:.1f}" y="22" width="{width:.1f}" height="18" fill="{_OUTCOME_COLOURS[name]}">'
                f"<title>{escape(_OUTCOME_LABELS[name])}: {_pct(rate or 0.0)}</title></rect>"
            )
        x += width
    for i, (name, rate) in enumerate(rates.items()):
        lx, ly = (i % 3) * 140, 58 + (i // 3) * 16
        body += [
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{_OUTCOME_COLOURS[name]}"/>',
            _text(lx + 14, ly, f"{_OUTCOME_LABELS[name]} {_pct(rate or 0.0)}", size=10),
        ]
    return _svg(92, title, "".join(body))
