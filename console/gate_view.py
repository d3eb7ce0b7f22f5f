"""A rollout's gate evidence as people read it: one row per check of its last tick (what the check measures, the
value it saw, with its Wilson interval when it is a rate, the threshold it was held to, the verdict, and for a
hold what it still needs), and the rollout's thresholds as a table.

Pure: it reads the JSON a tick stored (`rollouts.gate_values.GateResult.to_json`, kept as `Rollout.last_result`
and as each timeline event's evidence) and the rollout's own `Thresholds`; the rollout page and the scope page
(`console.pages.rollouts`, `console.pages.scope`) render the rows. A check this version does not know still gets
a row, with its reason as the observed value, so nothing the gates said is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rollouts.gate_text import format_duration, pct, rate
from rollouts.gate_values import GateFamily, Thresholds
from rollouts.model import RolloutPlan

__all__ = ["GateRow", "GateTable", "gate_table", "threshold_rows"]

_VERDICT = {"pass": "pass", "fail": "fail", "inconclusive": "hold"}


@dataclass(frozen=True, slots=True)
class GateRow:
    """One check, in words: `needs` is empty unless the check holds and can say what would let it decide."""

    name: str
    measures: str
    observed: str
    threshold: str
    verdict: str
    needs: str
    reason: str


@dataclass(frozen=True, slots=True)
class GateTable:
    outcome: str
    mode: str
    rows: tuple[GateRow, ...]


def _int(evidence: Mapping[str, Any], name: str) -> int | None:
    value = evidence.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(evidence: Mapping[str, Any], name: str) -> float | None:
    value = evidence.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _more(short: int, what: str) -> str:
    return f"needs {short} more {what}" if short > 0 else ""


def _needs(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _failure_rate(ev: Mapping[str, Any], th: Thresholds, mode: str) -> tuple[str, str, str, str]:
    measures = "durable's failure rate against legacy's"
    if th.family is GateFamily.SEQUENTIAL:
        threshold = f"at most {pct(th.failure_margin)} points above legacy (sequential test)"
    else:
        threshold = f"not worse than legacy at alpha {th.alpha:g} (fixed horizon)"
    d_fail, l_fail = _int(ev, "candidateFailures"), _int(ev, "baselineFailures")
    durable_n = _int(ev, "candidateN") if _int(ev, "candidateN") is not None else _int(ev, "durableN")
    legacy_n = _int(ev, "baselineN") if _int(ev, "baselineN") is not None else _int(ev, "legacyN")
    if durable_n is None or legacy_n is None:
        return measures, "", threshold, ""
    if d_fail is not None and l_fail is not None and durable_n and legacy_n:
        observed = f"durable {rate(d_fail, durable_n)} vs legacy {rate(l_fail, legacy_n)}"
    else:
        observed = f"{durable_n} durable and {legacy_n} legacy operations"
    needs = _needs(
        _more(th.min_samples - durable_n, "durable operations"), _more(th.min_samples - legacy_n, "legacy operations")
    )
    return measures, observed, threshold + f", from {th.min_samples} operations on each path", needs


def _latency(ev: Mapping[str, Any], th: Thresholds, mode: str) -> tuple[str, str, str, str]:
    typical = "typical (geometric mean)" if th.family is GateFamily.SEQUENTIAL else "p99"
    measures = f"durable's {typical} latency against legacy's"
    threshold = f"at most {th.latency_bound:.0%} slower, from {th.min_latency_samples} timed operations per path"
    parts = []
    for path in ("durable", "legacy"):
        described = ev.get(path)
        if isinstance(described, Mapping) and isinstance(described.get("p50"), int | float):
            parts.append(f"{path} p50 {format_duration(described['p50'])}, p99 {format_duration(described['p99'])}")
    ratio = _num(ev, "ratio") if _num(ev, "ratio") is not None else _num(ev, "p99Ratio")
    if ratio is not None:
        parts.append(f"{(ratio - 1) * 100:+.0f}% {typical}")
    return measures, "; ".join(parts) or "no timed operation yet", threshold, ""


def _mismatch(ev: Mapping[str, Any], th: Thresholds, mode: str) -> tuple[str, str, str, str]:
    measures = "shadow comparisons: how often the durable plan differs, and how often the candidate fails"
    threshold = (
        f"mismatches at most {pct(th.max_mismatch_rate)}, candidate errors at most "
        f"{pct(th.max_candidate_error_rate)}, ignored at most {pct(th.max_ignored_share)}; "
        f"from {th.min_samples} judged and {th.min_matches} matched"
    )
    counts = {k: _int(ev, k) or 0 for k in ("match", "mismatch", "ignored", "candidate_error", "candidate_timeout")}
    judged = counts["match"] + counts["mismatch"]
    failures = counts["candidate_error"] + counts["candidate_timeout"]
    attempted = judged + counts["ignored"] + failures
    if not any(isinstance(ev.get(k), int) for k in counts):
        return measures, "", threshold, ""
    parts = [f"mismatch rate {rate(counts['mismatch'], judged)}" if judged else "no comparison judged yet"]
    if attempted:
        parts.append(f"candidate errors {rate(failures, attempted)}")
    if counts["ignored"]:
        parts.append(f"{counts['ignored']} ignored")
    needs = _comparisons_needed(th.min_matches - counts["match"], th.min_samples - judged)
    return measures, ", ".join(parts), threshold, needs


def _comparisons_needed(matches: int, judged: int) -> str:
    """A matched comparison is judged too, so the judged shortfall is worth saying only beyond the matched one."""
    if judged > matches > 0:
        return f"needs {judged} more judged comparisons, {matches} of them matched"
    return _more(matches, "matched comparisons") or _more(judged, "judged comparisons")


def _min_ops(ev: Mapping[str, Any], th: Thresholds, mode: str) -> tuple[str, str, str, str]:
    what = "durable operations" if mode == "canary" else "shadow comparisons"
    ops, required = _int(ev, "ops"), _int(ev, "required")
    if ops is None or required is None:
        return f"{what} at this step", "", "", ""
    return f"{what} at this step", str(ops), f"at least {required}", _more(required - ops, what)


def _min_duration(ev: Mapping[str, Any], th: Thresholds, mode: str) -> tuple[str, str, str, str]:
    elapsed, required = _num(ev, "elapsedS"), _num(ev, "requiredS")
    if elapsed is None or required is None:
        return "time at this step", "", "", ""
    needs = f"needs {format_duration(required - elapsed)} more" if required > elapsed else ""
    return "time at this step", format_duration(elapsed), f"at least {format_duration(required)}", needs


_READERS: dict[str, Callable[[Mapping[str, Any], Thresholds, str], tuple[str, str, str, str]]] = {
    "failure_rate": _failure_rate,
    "latency": _latency,
    "mismatch": _mismatch,
    "min_ops": _min_ops,
    "min_duration": _min_duration,
}


def _row(check: Mapping[str, Any], th: Thresholds, mode: str) -> GateRow:
    name = str(check.get("name") or "?")
    verdict = _VERDICT.get(str(check.get("outcome")), str(check.get("outcome")))
    reason = str(check.get("reason") or "")
    evidence = check.get("evidence")
    reader = _READERS.get(name)
    if reader is None or not isinstance(evidence, Mapping):
        return GateRow(name, name.replace("_", " "), reason, "", verdict, "", reason)
    measures, observed, threshold, needs = reader(evidence, th, mode)
    return GateRow(name, measures, observed or reason, threshold, verdict, needs if verdict == "hold" else "", reason)


def gate_table(result: Mapping[str, Any] | None, thresholds: Thresholds) -> GateTable | None:
    """The rows of one stored gate result (None when there is none, or it is not a gate result)."""
    if not isinstance(result, Mapping) or not isinstance(result.get("checks"), list):
        return None
    mode = str(result.get("mode") or "")
    rows = tuple(_row(c, thresholds, mode) for c in result["checks"] if isinstance(c, Mapping))
    return GateTable(_VERDICT.get(str(result.get("outcome")), str(result.get("outcome"))), mode, rows)


def threshold_rows(plan: RolloutPlan) -> list[tuple[str, str]]:
    """The plan's requirements and the thresholds its gates apply, in words, in the order a person checks them."""
    th = plan.thresholds
    rows = [
        ("operations per step", f"at least {plan.min_ops}"),
        ("time per step", f"at least {format_duration(plan.min_duration_s)}"),
        ("gate family", th.family.value.replace("_", " ")),
        ("operations per path before comparing failure rates", str(th.min_samples)),
    ]
    if th.family is GateFamily.SEQUENTIAL:
        rows += [
            ("failure margin (durable over legacy)", f"{pct(th.failure_margin)} points"),
            ("chance of promoting a worse durable (whole rollout)", f"{th.promotion_alpha:g}"),
            ("chance of rolling back a good durable (whole rollout)", f"{th.rollback_alpha:g}"),
        ]
    else:
        rows.append(("alpha", f"{th.alpha:g}"))
    rows += [
        ("latency bound", f"at most {th.latency_bound:.0%} slower"),
        ("timed operations per path before comparing latency", str(th.min_latency_samples)),
        ("max mismatch rate", pct(th.max_mismatch_rate)),
        ("max candidate error rate", pct(th.max_candidate_error_rate)),
        ("matched comparisons needed", str(th.min_matches)),
        ("max share hidden by ignore rules", pct(th.max_ignored_share)),
        ("comparisons needed in canary", "yes" if th.require_comparisons_in_canary else "no"),
    ]
    return rows
