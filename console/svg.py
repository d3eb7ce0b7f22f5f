"""Server-rendered SVG charts for the console's pages: axes, stacked bars, lines with an interval band, a legend,
and a `<title>` tooltip on every bar and point. No script and no external reference (no href, no font, no
stylesheet): the page stays self-contained under its content security policy. Every label is escaped.

The console's own small module, not the report's (`cloudops.report.svg`): the console may not import `cloudops`,
and a chart is not rollout logic, so it does not belong in `rollouts` either. `console.scope_charts` builds the
scope page's charts with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Line", "bar_chart", "line_chart"]

WIDTH, HEIGHT = 640, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 28, 40
_PALETTE = ("#3b6ea5", "#d9822b", "#5a9e4b", "#b8474b", "#7d5ba6", "#8c6d46")


@dataclass(frozen=True, slots=True)
class Line:
    """One series: a value per x position (None where there is none), and optionally a (low, high) band."""

    name: str
    values: tuple[float | None, ...]
    band: tuple[tuple[float, float] | None, ...] = ()


def _plain(value: float) -> str:
    return f"{value:g}"


def _color(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


def _frame(chart_id: str, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f'<title>{escape(title)}</title><text x="{_LEFT}" y="16" class="chart-title">{escape(title)}</text>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _axes(x_labels: Sequence[str], top: float, fmt: Callable[[float], str]) -> list[str]:
    """The axes, three y ticks (0, half, top) and at most seven x labels (the first, then evenly spaced)."""
    bottom, right = HEIGHT - _BOTTOM, WIDTH - _RIGHT
    parts = [
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom}" stroke="#888"/>',
        f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>',
    ]
    for share in (0.0, 0.5, 1.0):
        y = bottom - share * (bottom - _TOP)
        parts.append(
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{escape(fmt(top * share))}</text>'
        )
    step = max(1, -(-len(x_labels) // 7))
    for i in range(0, len(x_labels), step):
        x = _x(i, len(x_labels))
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10">{escape(x_labels[i])}</text>'
        )
    return parts


def _x(index: int, count: int) -> float:
    slot = (WIDTH - _LEFT - _RIGHT) / max(count, 1)
    return _LEFT + slot * (index + 0.5)


def _y(value: float, top: float) -> float:
    bottom = HEIGHT - _BOTTOM
    return bottom - (value / top if top > 0 else 0.0) * (bottom - _TOP)


def _legend(names: Sequence[str]) -> list[str]:
    parts, x = [], float(_LEFT)
    for i, name in enumerate(names):
        y = HEIGHT - 10
        parts.append(f'<rect x="{x:.1f}" y="{y - 8}" width="10" height="10" fill="{_color(i)}"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{y + 1}" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return parts


def _nice_top(value: float) -> float:
    """A round axis top at or above `value` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power


def bar_chart(
    chart_id: str, title: str, x_labels: Sequence[str], stacks: Sequence[Line], fmt: Callable[[float], str] = _plain
) -> Markup:
    """Stacked bars: at each x position, each series' value on top of the previous ones'."""
    totals = [sum(s.values[i] or 0 for s in stacks) for i in range(len(x_labels))]
    top = _nice_top(max(totals, default=0))
    body = _axes(x_labels, top, fmt)
    width = (WIDTH - _LEFT - _RIGHT) / max(len(x_labels), 1) * 0.8
    for i, label in enumerate(x_labels):
        base = 0.0
        for k, series in enumerate(stacks):
            value = series.values[i] or 0
            if value <= 0:
                continue
            y_high, y_low = _y(base + value, top), _y(base, top)
            tip = f"{label}: {series.name} {fmt(value)}"
            body.append(
                f'<rect x="{_x(i, len(x_labels)) - width / 2:.1f}" y="{y_high:.1f}" width="{width:.1f}" '
                f'height="{y_low - y_high:.1f}" fill="{_color(k)}"><title>{escape(tip)}</title></rect>'
            )
            base += value
    return _frame(chart_id, title, body + _legend([s.name for s in stacks]))


def line_chart(
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    lines: Sequence[Line],
    fmt: Callable[[float], str] = _plain,
    *,
    top: float | None = None,
) -> Markup:
    """Lines (broken where a value is None), each with its band shaded behind it and a dot per value."""
    highest = [v for s in lines for v in s.values if v is not None]
    highest += [b[1] for s in lines for b in s.band if b is not None]
    axis_top = top if top is not None else _nice_top(max(highest, default=0))
    body = _axes(x_labels, axis_top, fmt)
    count = len(x_labels)
    for k, series in enumerate(lines):
        color = _color(k)
        for i, band in enumerate(series.band):
            if band is not None:
                x, half = _x(i, count), (WIDTH - _LEFT - _RIGHT) / max(count, 1) * 0.15
                y_low, y_high = _y(min(band[0], axis_top), axis_top), _y(min(band[1], axis_top), axis_top)
                body.append(
                    f'<rect x="{x - half:.1f}" y="{y_high:.1f}" width="{2 * half:.1f}" height="{y_low - y_high:.1f}" '
                    f'fill="{color}" fill-opacity="0.2"/>'
                )
        segment: list[str] = []
        for i, value in enumerate((*series.values, None)):
            if value is None:
                if len(segment) > 1:
                    body.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{color}"/>')
                segment = []
                continue
            cx, cy = f"{_x(i, count):.1f}", f"{_y(min(value, axis_top), axis_top):.1f}"
            segment.append(f"{cx},{cy}")
            tip = f"{x_labels[i]}: {series.name} {fmt(value)}"
            if series.band and i < len(series.band) and series.band[i] is not None:
                low, high = series.band[i] or (0.0, 0.0)
                tip += f" (interval {fmt(low)} to {fmt(high)})"
            body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"><title>{escape(tip)}</title></circle>')
    return _frame(chart_id, title, body + _legend([s.name for s in lines]))
