"""Shadow-run reports: per operation, provider, account and application, how the two paths compare.

    report = build_report(engine, since=now - timedelta(hours=24), until=now)
    text = render(report, ReportFormat.HTML)   # or MARKDOWN, JSON

Counts, failure rates with Wilson intervals, latency percentiles per path, shadow outcome rates, the fields that
differ most with examples, a verdict per scope (ready, hold, roll back: the guarded rollout's own gates) and the
timelines of rollouts active in the window. The HTML is one self-contained file (inline CSS and SVG).

May import: `router`, `flags`.
"""

from __future__ import annotations

import json
from enum import StrEnum

from cloudops.report.aggregate import ReportUnavailable, build_report
from cloudops.report.model import Report, ScopeReport, ScopeVerdict
from cloudops.report.render_html import render_html
from cloudops.report.render_md import render_markdown

__all__ = [
    "Report",
    "ReportFormat",
    "ReportUnavailable",
    "ScopeReport",
    "ScopeVerdict",
    "build_report",
    "render",
]


class ReportFormat(StrEnum):
    HTML = "html"
    MARKDOWN = "md"
    JSON = "json"


def render(report: Report, fmt: ReportFormat) -> str:
    """The report as text in `fmt`."""
    if fmt is ReportFormat.HTML:
        return render_html(report)
    if fmt is ReportFormat.MARKDOWN:
        return render_markdown(report)
    return json.dumps(report.to_json(), indent=2, default=str) + "\n"
