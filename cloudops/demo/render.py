"""The demo's summary as text: the table printed at the end, and plain sentences on what its numbers show. Pure.

`findings` only states what the summary's own numbers support; where it names a mechanism (a retry under a new
token, an attempt timeout), that mechanism is how the code behaves, and the numbers say how often it happened.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudops.demo.rollouts import gates_note
from cloudops.demo.summary import COMPARISON_OUTCOMES, DemoSummary, PathSummary
from rollouts.gates import format_duration

__all__ = ["findings", "render_text"]

# Codes a Clouddriver retry meets when a lost response hid that its first attempt had already done the change.
_RETRY_AFTER_LOST_RESPONSE = ("AlreadyExists", "NotFound")


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f}%" if whole else "-"


def _latency(p: PathSummary, q: str) -> str:
    return format_duration(p.latency_s[q]) if p.latency_s else "-"


def findings(s: DemoSummary) -> tuple[str, ...]:
    """Sentences on what the numbers show; none says more than the data does."""
    notes = []
    legacy, durable = s.path("legacy"), s.path("durable")
    if legacy and durable:
        notes.append(
            f"with {s.fault_rate:.0%} of cloud calls failing transiently, legacy failed {legacy.failed} of "
            f"{legacy.operations} operations ({_pct(legacy.failed, legacy.operations)}) and durable "
            f"{durable.failed} of {durable.operations} ({_pct(durable.failed, durable.operations)})"
        )
    retried = sum(legacy.error_codes.get(code, 0) for code in _RETRY_AFTER_LOST_RESPONSE) if legacy else 0
    if retried:
        notes.append(
            f"{retried} legacy failures were AlreadyExists or NotFound: what a Clouddriver retry under a new token "
            "meets when a lost response hid that its first attempt had done the change; durable retries keep "
            "their token, so the cloud answers them from its idempotency ledger"
        )
    if s.cloud is not None and s.cloud.duplicated_changes:
        notes.append(
            f"the cloud applied {s.cloud.duplicated_changes} changes twice, {s.cloud.duplicated_by_legacy} of them "
            "under legacy retry tokens"
        )
    if s.killed_waits:
        longest = s.killed_waits[0]
        notes.append(
            f"{len(s.killed_waits)} durable operations were running when the worker was killed and took "
            f"{format_duration(s.killed_waits[-1].duration_s)} to {format_duration(longest.duration_s)}: Temporal "
            "retried their lost attempt after its timeout (5s heartbeat timeout while applying a change; "
            "planning lost with the worker is redone after the 10s workflow-task timeout)"
        )
    if s.unshadowed:
        notes.append(
            f"not shadowed: {', '.join(s.unshadowed)} (a dry run beside the real call finds the group already "
            "gone; --shadow-destroys keeps them, counted as ignored state races)"
        )
    if s.rollouts:
        notes.append(gates_note())
    rolled_back = [r for r in s.rollouts if r.status == "rolled_back"]
    if rolled_back:
        notes.append(
            f"{len(rolled_back)} rollouts rolled back on their gates' evidence: see their timelines in the report"
        )
    return tuple(notes)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """A plain text table; the columns numbered in `right` (numbers) are right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _why(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_text(s: DemoSummary) -> str:
    """The summary as the table a person reads at the end of the demo."""
    out = [
        f"cloudops demo {s.run_id}: {s.operations} of {s.planned_operations} planned operations in "
        f"{format_duration(s.elapsed_s)} (seed {s.seed}, {s.fault_rate:.0%} transient cloud faults, "
        f"{s.worker_kills} worker kills)",
        "",
    ]
    rows = []
    for p in s.paths:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(p.error_kinds.items())) or "-"
        latency = [_latency(p, q) for q in ("p50", "p95", "p99")]
        rows.append([p.path, str(p.operations), str(p.failed), _pct(p.failed, p.operations), kinds, *latency])
    headers = ["path", "operations", "failed", "rate", "failures by kind", "p50", "p95", "p99"]
    out += _table(headers, rows, right=(1, 2, 3, 5, 6, 7))
    pipelines = ", ".join(f"{n} {status}" for status, n in s.pipelines.items() if n) or "none"
    out += ["", f"pipelines: {pipelines}; fallbacks from durable to legacy: {s.fallbacks}"]
    compared = sum(s.comparisons.get(k, 0) for k in COMPARISON_OUTCOMES)
    shadow = ", ".join(f"{k.replace('_', ' ')} {s.comparisons.get(k, 0)}" for k in COMPARISON_OUTCOMES)
    out.append(f"shadow comparisons: {compared} ({shadow})")
    skipped = ", ".join(f"{n} for {why.replace('_', ' ')}" for why, n in s.shadows_skipped.items() if n)
    if skipped:
        out.append(f"shadows not run: {skipped}")
    if s.cloud is not None:
        injected = sum(s.cloud.faults_injected.values())
        out.append(
            f"sim cloud: {injected} transient faults injected, {s.cloud.mutations} changes applied, "
            f"{s.cloud.duplicated_changes} applied twice"
        )
    if s.rollouts:
        rows = [[r.scope, r.label, str(r.moves), _why(r.why)] for r in s.rollouts]
        out += [
            "",
            *_table(["rollout scope", "final stage", "moves", "holding on / rolled back for"], rows, right=(2,)),
        ]
    if s.notes:
        out += ["", *(f"- {n}" for n in s.notes)]
    out.append("")
    if s.report_path:
        verdicts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in s.report_verdicts.items())
        scopes = sum(s.report_verdicts.values())
        out.append(f"report:  {s.report_path}" + (f"  ({scopes} flag scopes: {verdicts})" if scopes else ""))
    if s.console:
        out.append(f"console: {s.console.url}  (user {s.console.user}, password {s.console.password})")
    if "temporal-ui" in s.addresses:
        out.append(f"Temporal UI: {s.addresses['temporal-ui']}")
    return "\n".join(line.rstrip() for line in out) + "\n"
