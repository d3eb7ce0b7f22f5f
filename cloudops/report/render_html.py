"""The report as one self-contained HTML file: inline CSS, inline SVG charts, no scripts, no external references.

Every piece of recorded text (scope names, field paths, example values, reasons) goes through `html.escape`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from cloudops.report.model import FieldStat, FlagScopeReport, PathStats, Report, RolloutHistory, ScopeReport
from cloudops.report.svg import failure_chart, latency_chart, shadow_chart
from rollouts.gates import GateFamily, Thresholds, format_duration

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:1.5rem;
color:#1d1d1f;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.6rem;font-size:.8rem;font-weight:600;color:#fff}
.ready{background:#2e7d32}.hold{background:#ef6c00}.roll_back{background:#c62828}
.charts{display:flex;flex-wrap:wrap;gap:1rem;margin:.5rem 0}.charts svg{background:#fafafa;border:1px solid #eee}
article{border:1px solid #e3e3e8;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
pre{margin:0;white-space:pre-wrap;word-break:break-all;font-size:.8rem;max-width:28rem}
.muted{color:#666}ul.reasons li{margin:.15rem 0}
"""


def _canary_method(th: Thresholds) -> str:
    """How the failure and latency checks of these thresholds' gate family decide, in a sentence or two."""
    if th.family is GateFamily.SEQUENTIAL:
        return (
            "Durable vs legacy by sequential (anytime-valid) mixture SPRTs: ready once the failure rate is shown "
            f"within {th.failure_margin:.1%} (points) of legacy's and the typical latency (geometric mean) within "
            f"{th.latency_bound:.0%}, at promotion alpha {th.promotion_alpha:g}; roll back once either is shown "
            f"worse, at rollback alpha {th.rollback_alpha:g} split over the two checks; at least "
            f"{th.min_samples} operations per path."
        )
    return (
        "Durable vs legacy by a one-sided two-proportion z-test (Fisher's exact test when an expected count is "
        f"under 5), alpha {th.alpha:g}, at least {th.min_samples} operations per path; p99 may be "
        f"{th.latency_bound:.0%} worse than legacy's, beyond which Mann-Whitney U (one-sided, tie-corrected) with "
        f"a common-language effect size of at least {0.5 + th.min_cles_effect:.2f} decides (fixed-horizon tests)."
    )


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.1f}%"


def _badge(verdict: str, label: str) -> str:
    return f'<span class="badge {_e(verdict)}">{_e(label)}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _latency(p: PathStats, q: str) -> str:
    return _e(format_duration(p.latency[q])) if p.latency else "-"


def _path_rows(scope: ScopeReport) -> list[list[str]]:
    rows = []
    for p in (scope.legacy, scope.durable):
        ci = p.failure_interval
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(p.error_kinds.items())) or "-"
        rows.append(
            [
                _e(p.path),
                _e(p.total),
                _e(p.failures),
                _e(f"{_pct(ci.estimate)} [{_pct(ci.low)}-{_pct(ci.high)}]") if p.total else "-",
                _latency(p, "p50"),
                _latency(p, "p95"),
                _latency(p, "p99"),
                _e(kinds),
                _e(p.fallbacks),
            ]
        )
    return rows


def _json_cell(value: Any) -> str:
    return f"<pre>{_e(json.dumps(value, default=str, sort_keys=True))}</pre>"


def _fields(fields: Sequence[FieldStat]) -> str:
    if not fields:
        return '<p class="muted">No differing fields in this window.</p>'
    rows = []
    for f in fields:
        examples = "".join(
            f"<div><code>{_e(x.operation_id)}</code>{' (ignored: ' + _e(x.ignored_by) + ')' if x.ignored_by else ''}"
            f"<br>control {_json_cell(x.control)}candidate {_json_cell(x.candidate)}</div>"
            for x in f.examples
        )
        rows.append([f"<code>{_e(f.path)}</code>", _e(f.mismatches), _e(f.ignored), examples])
    return _table(["field", "mismatched comparisons", "ignored", "examples"], rows, numeric=(1, 2))


def _scope(scope: ScopeReport, anchor: str) -> str:
    verdict = scope.verdict
    reasons = "".join(f"<li>{_e(r)}</li>" for r in verdict.gate.reasons)
    c = scope.comparisons.counts
    shadow_rows = [
        [
            _e(c.total),
            _e(c.match),
            _e(c.mismatch),
            _e(c.ignored),
            _e(c.candidate_error),
            _e(c.candidate_timeout),
            _e(c.control_error),
        ]
    ]
    return (
        f'<article id="{_e(anchor)}"><h3>{_e(scope.label)} {_badge(verdict.verdict.value, verdict.verdict.label)}</h3>'
        f"<p>Verdict: <strong>{_e(verdict.verdict.label)}</strong> (gates: {_e(verdict.gate.mode.value)} mode, "
        f'{_e(verdict.gate.outcome.value)}).</p><ul class="reasons">{reasons}</ul>'
        f'<div class="charts">{failure_chart([scope.legacy, scope.durable])}'
        f"{latency_chart([scope.legacy, scope.durable])}{shadow_chart(scope.comparisons)}</div>"
        + _table(
            ["path", "operations", "failures", "failure rate [95% CI]", "p50", "p95", "p99", "errors", "fallbacks"],
            _path_rows(scope),
            numeric=(1, 2, 4, 5, 6, 8),
        )
        + "<h4>Shadow comparisons</h4>"
        + _table(
            ["total", "match", "mismatch", "ignored", "candidate error", "candidate timeout", "control error"],
            shadow_rows,
            numeric=range(7),
        )
        + "<h4>Fields that differ most</h4>"
        + _fields(scope.fields)
        + "</article>"
    )


_SUMMARY_HEADERS: tuple[str, ...] = ("scope", "legacy ops", "durable ops", "legacy fail", "durable fail")
_SUMMARY_HEADERS += ("mismatch", "legacy p99", "durable p99", "verdict")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items())


def _summary_row(s: ScopeReport, anchor: str) -> list[str]:
    c = s.comparisons.counts
    return [
        f'<a href="#{_e(anchor)}">{_e(s.label)}</a>',
        _e(s.legacy.total),
        _e(s.durable.total),
        _e(_pct(s.legacy.failure_interval.estimate) if s.legacy.total else "-"),
        _e(_pct(s.durable.failure_interval.estimate) if s.durable.total else "-"),
        _e(_pct(c.mismatch_rate) if c.mismatch_rate is not None else "-"),
        _latency(s.legacy, "p99"),
        _latency(s.durable, "p99"),
        _badge(s.verdict.verdict.value, s.verdict.verdict.label),
    ]


def _summary(report: Report) -> str:
    """The flag scopes in use (what a decision is made on), then the finer breakdown."""
    if report.flag_scopes:
        rows = [
            _summary_row(f.report, f"flag-scope-{i + 1}") + [_e(len(f.breakdown))]
            for i, f in enumerate(report.flag_scopes)
        ]
        flag_table = _table((*_SUMMARY_HEADERS, "rows"), rows, numeric=(1, 2, 3, 4, 5, 6, 7, 9))
        notes = [f.disagreement for f in report.flag_scopes if f.disagreement]
        if report.unscoped:
            notes.append(f"{len(report.unscoped)} breakdown rows are in no flag scope: they ran at the default stage.")
        flags = (
            f"<p>{len(report.flag_scopes)} flag scopes: {_e(_counts(report.verdict_counts()))}.</p>{flag_table}"
            + "".join(f'<p class="muted">{_e(n)}</p>' for n in notes)
        )
    else:
        flags = (
            '<p class="muted">No stage property or rollout names a scope: every operation ran at the default stage.</p>'
        )
    rows = [_summary_row(s, f"scope-{i + 1}") for i, s in enumerate(report.scopes)]
    table = _table(_SUMMARY_HEADERS, rows, numeric=(1, 2, 3, 4, 5, 6, 7)) if rows else '<p class="muted">No scopes.</p>'
    return (
        f'<section id="summary"><h2>Flag scopes in use</h2>{flags}'
        f"<h2>Breakdown: by operation, provider, account and application</h2>"
        f"<p>{len(report.scopes)} rows: {_e(_counts(report.breakdown_counts()))}.</p>{table}</section>"
    )


def _flag_scope(f: FlagScopeReport, anchor: str) -> str:
    inside = ", ".join(k.label() for k in f.breakdown) or "none"
    note = f"<p><strong>Note:</strong> {_e(f.disagreement)}.</p>" if f.disagreement else ""
    return (
        _scope(f.report, anchor).removesuffix("</article>")
        + f'<p class="muted">Named by: {_e("; ".join(f.scope.sources))}. Judged with {_e(f.thresholds_from)} '
        f"thresholds. Breakdown rows inside: {_e(inside)}.</p>{note}</article>"
    )


def _rollout(history: RolloutHistory) -> str:
    r = history.rollout
    rows = [
        [
            _e(e.at.isoformat(timespec="seconds")),
            _e(e.kind.value),
            _e(e.from_phase.label() if e.from_phase else "-"),
            _e(e.to_phase.label() if e.to_phase else "-"),
            _e(e.actor),
            _e(e.reason),
        ]
        for e in history.events
    ]
    return (
        f"<article><h3>{_e(r.id)}: {_e(r.plan.describe_scope())} ({_e(r.status.value)}, at "
        f"{_e(r.target.label() if r.target else 'flag left as is')})</h3>"
        + _table(["at", "event", "from", "to", "actor", "reason"], rows)
        + "</article>"
    )


def render_html(report: Report) -> str:
    th = report.thresholds
    rollouts = "".join(_rollout(h) for h in report.rollouts) or '<p class="muted">No rollouts in this window.</p>'
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    scopes = "".join(_scope(s, f"scope-{i + 1}") for i, s in enumerate(report.scopes))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>cloudops shadow-run report</title><style>{_CSS}</style></head><body>"
        f'<header><h1>Shadow-run report</h1><p class="muted">{_e(report.since.isoformat(timespec="seconds"))} to '
        f"{_e(report.until.isoformat(timespec='seconds'))} &middot; {_e(report.database)} &middot; generated "
        f"{_e(report.generated_at.isoformat(timespec='seconds'))}</p>"
        + (f'<ul class="muted">{notes}</ul>' if notes else "")
        + "</header>"
        + _summary(report)
        + (
            '<section id="flag-scopes"><h2>Each flag scope</h2>'
            + "".join(_flag_scope(f, f"flag-scope-{i + 1}") for i, f in enumerate(report.flag_scopes))
            + "</section>"
            if report.flag_scopes
            else ""
        )
        + f'<section id="overall"><h2>All scopes together</h2>{_scope(report.overall, "overall-scope")}</section>'
        + f'<section id="scopes"><h2>By operation, provider, account and application</h2>{scopes}</section>'
        + f'<section id="rollouts"><h2>Rollouts</h2>{rollouts}</section>'
        + '<footer class="muted"><h2>Method</h2><p>'
        + _e(
            f"Failure rates with 95% Wilson intervals. {_canary_method(th)} Latency percentiles by linear "
            f"interpolation (Hyndman-Fan type 7). Mismatch rate (mismatch / (match + mismatch): an ignored "
            f"comparison is neither) at most "
            f"{th.max_mismatch_rate:.2%}; candidate error rate at most {th.max_candidate_error_rate:.2%}. "
            "Verdicts use the same gates as guarded rollouts: pass = ready, fail = roll back, "
            "inconclusive = hold."
        )
        + "</p></footer></body></html>\n"
    )
