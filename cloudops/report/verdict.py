"""A scope's verdict, from the same gates a guarded rollout applies (`rollouts.gates.evaluate`).

pass -> ready, fail -> roll back, inconclusive -> hold. A scope with durable operations is judged as a canary
(failure rate, latency, comparisons); a scope with only shadow comparisons is judged as a shadow (comparisons
only: ready means ready for a canary). No minimum duration applies to a report: the window is the report's.
"""

from __future__ import annotations

from cloudops.report.model import ScopeVerdict, VerdictResult
from rollouts.gates import Evidence, GateMode, Thresholds, Verdict, evaluate

__all__ = ["judge", "mode_for"]

_VERDICTS = {
    Verdict.PASS: ScopeVerdict.READY,
    Verdict.FAIL: ScopeVerdict.ROLL_BACK,
    Verdict.INCONCLUSIVE: ScopeVerdict.HOLD,
}


def mode_for(evidence: Evidence) -> GateMode:
    """Canary when durable executed operations in the window, else shadow."""
    return GateMode.CANARY if evidence.durable.total > 0 else GateMode.SHADOW


def judge(evidence: Evidence, thresholds: Thresholds) -> VerdictResult:
    gate = evaluate(evidence, mode_for(evidence), thresholds)
    return VerdictResult(_VERDICTS[gate.outcome], gate)
