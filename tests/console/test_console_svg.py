"""The console's SVG charts (`console.svg`, `console.scope_charts`): well-formed XML, every label escaped, no
script and no external reference, a tooltip on every bar and point, and the interval band drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from console.scope_charts import scope_charts
from console.scope_series import Bucket, ScopeSeries
from console.svg import Line, bar_chart, line_chart

_NS = "{http://www.w3.org/2000/svg}"
_EVIL = '<script>alert("x")</script> & "q"'


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # raises on malformed XML


def _no_external(root: ET.Element) -> None:
    for element in root.iter():
        assert element.tag not in (f"{_NS}script", f"{_NS}image", f"{_NS}use", f"{_NS}foreignObject")
        assert not any(name.endswith("href") or name.startswith("on") for name in element.attrib)


def test_bars_escape_their_labels_and_carry_tooltips() -> None:
    svg = bar_chart("c1", _EVIL, ["00:00", _EVIL], [Line(_EVIL, (3.0, 1.0)), Line("durable", (None, 2.0))])
    assert "<script>" not in svg
    root = _parse(svg)
    _no_external(root)
    assert root.findtext(f"{_NS}title") == _EVIL
    tips = [t.text for t in root.iter(f"{_NS}title")][1:]
    assert tips == [f"00:00: {_EVIL} 3", f"{_EVIL}: {_EVIL} 1", f"{_EVIL}: durable 2"]
    assert [t.text for t in root.iter(f"{_NS}text")][-2:] == [_EVIL, "durable"]  # the legend


def test_lines_break_at_missing_values_and_draw_their_bands() -> None:
    line = Line("legacy", (0.1, None, 0.2, 0.3), ((0.0, 0.3), None, (0.1, 0.4), (0.2, 0.5)))
    root = _parse(line_chart("c2", "rates", ["a", "b", "c", "d"], [line], lambda v: f"{v:.1f}", top=1.0))
    _no_external(root)
    polylines = list(root.iter(f"{_NS}polyline"))
    assert len(polylines) == 1 and len(polylines[0].attrib["points"].split()) == 2  # c-d; a stands alone
    assert len(list(root.iter(f"{_NS}circle"))) == 3
    bands = [r for r in root.iter(f"{_NS}rect") if r.attrib.get("fill-opacity")]
    assert len(bands) == 3
    assert "c: legacy 0.2 (interval 0.1 to 0.4)" in [t.text for t in root.iter(f"{_NS}title")]


def test_the_scope_charts_come_from_a_series() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    buckets = (
        Bucket(start, {"legacy": 10, "durable": 4}, {"durable": 1}, {"legacy": {"p50": 1.0, "p99": 2.0}}, {"match": 3}),
        Bucket(start + timedelta(hours=1), {}, {}, {}, {}),
    )
    charts = scope_charts(ScopeSeries(start, timedelta(hours=1), buckets))
    for markup in (charts.split, charts.failure_rate, charts.shadow, charts.latency):
        _no_external(_parse(markup))
    tips = [t.text for t in _parse(charts.failure_rate).iter(f"{_NS}title")]
    assert any(t and t.startswith("00:00: durable 25.0% (interval") for t in tips)
    assert "00:00: legacy p99 2s" in [t.text for t in _parse(charts.latency).iter(f"{_NS}title")]
    assert charts.bucket == "1h00m"


def test_a_window_of_days_is_labelled_by_date() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    buckets = tuple(Bucket(start + timedelta(days=i), {"legacy": 1}, {}, {}, {}) for i in range(3))
    split = _parse(scope_charts(ScopeSeries(start, timedelta(days=1), buckets)).split)
    assert "03-02: legacy 1" in [t.text for t in split.iter(f"{_NS}title")]
