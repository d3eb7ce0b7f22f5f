"""The report as Markdown: the flag scopes in use and their verdicts, the finer breakdown, one section per scope,
then the rollout timelines.

Table cells escape `|`, `<` and `>` and fold newlines, so recorded text can never break the layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from cloudops.report.model import FlagScopeReport, PathStats, Report, RolloutHistory, ScopeReport
from rollouts.gates import format_duration

__all__ = ["render_markdown"]


def _cell(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.1f}%"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _latency(p: PathStats, q: str) -> str:
    return format_duration(p.latency[q]) if p.latency else "-"


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scope(scope: ScopeReport, level: str) -> list[str]:
    v = scope.verdict
    lines = [f"{level} {_cell(scope.label)}: {v.verdict.label.upper()}", ""]
    lines += [f"- {_cell(r)}" for r in v.gate.reasons] + [""]
    rows = []
    for p in (scope.legacy, scope.durable):
        ci = p.failure_interval
        rate = f"{_pct(ci.estimate)} [{_pct(ci.low)}-{_pct(ci.high)}]" if p.total else "-"
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(p.error_kinds.items())) or "-"
        row = [p.path, p.total, p.failures, rate, _latency(p, "p50"), _latency(p, "p95"), _latency(p, "p99")]
        rows.append(row + [kinds, p.fallbacks])
    headers = ["path", "operations", "failures", "failure rate [95% CI]", "p50", "p95", "p99", "errors"]
    lines += _table(headers + ["fallbacks"], rows)
    c, rates = scope.comparisons.counts, scope.comparisons.rates()
    lines += _table(
        ["comparisons", "match", "mismatch", "ignored", "candidate error", "control error"],
        [
            [
                c.total,
                f"{c.match} ({_pct(rates['match'])})",
                f"{c.mismatch} ({_pct(rates['mismatch'])})",
                f"{c.ignored} ({_pct(rates['ignored'])})",
                f"{c.candidate_failures} ({_pct(rates['candidateError'])})",
                f"{c.control_error} ({_pct(rates['controlError'])})",
            ]
        ],
    )
    if scope.fields:
        rows = [
            [
                f"`{f.path}`",
                f.mismatches,
                f.ignored,
                "; ".join(f"{x.operation_id}: {_short(x.control)} -> {_short(x.candidate)}" for x in f.examples),
            ]
            for f in scope.fields
        ]
        lines += ["Fields that differ most:", ""] + _table(["field", "mismatched", "ignored", "examples"], rows)
    return lines


def _rollout(h: RolloutHistory) -> list[str]:
    r = h.rollout
    at = r.target.label() if r.target else "flag left as is"
    lines = [f"### {_cell(r.id)}: {_cell(r.plan.describe_scope())} ({r.status.value}, at {_cell(at)})", ""]
    rows = [
        [
            e.at.isoformat(timespec="seconds"),
            e.kind.value,
            e.from_phase.label() if e.from_phase else "-",
            e.to_phase.label() if e.to_phase else "-",
            e.actor,
            e.reason,
        ]
        for e in h.events
    ]
    return lines + _table(["at", "event", "from", "to", "actor", "reason"], rows)


_SUMMARY_HEADERS = ["scope", "legacy ops", "durable ops", "legacy fail", "durable fail", "mismatch", "legacy p99"]
_SUMMARY_HEADERS += ["durable p99", "verdict"]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items())


def _summary_row(s: ScopeReport) -> list[Any]:
    c = s.comparisons.counts
    return [
        s.label,
        s.legacy.total,
        s.durable.total,
        _pct(s.legacy.failure_interval.estimate) if s.legacy.total else "-",
        _pct(s.durable.failure_interval.estimate) if s.durable.total else "-",
        _pct(c.mismatch_rate) if c.mismatch_rate is not None else "-",
        _latency(s.legacy, "p99"),
        _latency(s.durable, "p99"),
        s.verdict.verdict.label,
    ]


def _flag_scope_summary(report: Report) -> list[str]:
    lines = ["## Flag scopes in use", ""]
    if not report.flag_scopes:
        return lines + ["No stage property or rollout names a scope: every operation ran at the default stage.", ""]
    lines += [f"{len(report.flag_scopes)} flag scopes: {_counts(report.verdict_counts())}.", ""]
    lines += _table(
        _SUMMARY_HEADERS + ["rows"], [_summary_row(f.report) + [len(f.breakdown)] for f in report.flag_scopes]
    )
    lines += [f"- {_cell(f.disagreement)}" for f in report.flag_scopes if f.disagreement]
    if report.unscoped:
        lines += [f"- {len(report.unscoped)} breakdown rows are in no flag scope: they ran at the default stage."]
    return lines + [""]


def _flag_scope(f: FlagScopeReport) -> list[str]:
    lines = _scope(f.report, "###")
    lines += [f"Named by: {_cell('; '.join(f.scope.sources))}. Judged with {_cell(f.thresholds_from)} thresholds.", ""]
    if f.disagreement:
        lines += [f"Note: {_cell(f.disagreement)}.", ""]
    lines += [f"Breakdown rows inside: {_cell(', '.join(k.label() for k in f.breakdown) or 'none')}.", ""]
    return lines


def render_markdown(report: Report) -> str:
    lines = [
        "# Shadow-run report",
        "",
        f"{report.since.isoformat(timespec='seconds')} to {report.until.isoformat(timespec='seconds')}, "
        f"{_cell(report.database)}.",
        "",
    ]
    lines += [f"- {_cell(n)}" for n in report.notes] + ([""] if report.notes else [])
    lines += _flag_scope_summary(report)
    rows = [_summary_row(s) for s in report.scopes]
    lines += ["## Breakdown: by operation, provider, account and application", ""]
    lines += [f"{len(report.scopes)} rows: {_counts(report.breakdown_counts())}.", ""]
    lines += _table(_SUMMARY_HEADERS, rows) if rows else ["No scopes in this window.", ""]
    lines += ["## Each flag scope", ""] if report.flag_scopes else []
    for flag_scope in report.flag_scopes:
        lines += _flag_scope(flag_scope)
    lines += ["## All scopes together", ""] + _scope(report.overall, "###")
    lines += ["## By operation, provider, account and application", ""]
    for scope in report.scopes:
        lines += _scope(scope, "###")
    lines += ["## Rollouts", ""]
    for history in report.rollouts:
        lines += _rollout(history)
    if not report.rollouts:
        lines += ["No rollouts in this window.", ""]
    lines += [
        "Percentiles: linear interpolation (Hyndman-Fan type 7). Verdicts: the guarded rollout's gates "
        "(pass = ready, fail = roll back, inconclusive = hold).",
        "",
    ]
    return "\n".join(lines)
