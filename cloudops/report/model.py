"""The shadow-run report's values: per-scope statistics, the fields that differ most, verdicts and rollouts.

The scopes a report judges are the flag scopes in use (`FlagScope`: what a stage property or a rollout names,
see `cloudops.report.scopes`); under each, the breakdown is by `ScopeKey`, one (operation, provider, account,
application) combination seen in the window. A path's statistics are the router's read model's `PathStats`. Every
value is immutable and converts to JSON; the Markdown and HTML renderers read the same values the JSON shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.admission_log import AdmissionSummary
from rollouts.gates import ComparisonCounts, GateResult, Thresholds
from rollouts.model import Rollout, RolloutEvent
from router.read_values import PathStats

__all__ = [
    "REPORT_DIMENSIONS",
    "ComparisonStats",
    "DiffExample",
    "FieldStat",
    "FlagScope",
    "FlagScopeReport",
    "PathStats",
    "Report",
    "RolloutHistory",
    "ScopeKey",
    "ScopeReport",
    "ScopeVerdict",
    "VerdictResult",
    "path_json",
]

REPORT_DIMENSIONS = ("operation", "provider", "account", "application")


@dataclass(frozen=True, slots=True, order=True)
class ScopeKey:
    operation: str
    provider: str
    account: str
    application: str

    def label(self) -> str:
        return " / ".join(v or "(none)" for v in (self.operation, self.provider, self.account, self.application))

    def to_json(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in REPORT_DIMENSIONS}


def path_json(stats: PathStats) -> dict[str, Any]:
    """One path's statistics as the report's JSON shows them."""
    return {
        "path": stats.path,
        "total": stats.total,
        "failures": stats.failures,
        "failureRate": stats.failure_interval.to_json(),
        "latencyS": dict(stats.latency) if stats.latency else None,
        "errorKinds": stats.error_kinds,
        "fallbacks": stats.fallbacks,
    }


@dataclass(frozen=True, slots=True)
class ComparisonStats:
    """Shadow comparisons by outcome, with each outcome's share of all comparisons."""

    counts: ComparisonCounts

    def rates(self) -> dict[str, float | None]:
        c, total = self.counts, self.counts.total
        parts = {
            "match": c.match,
            "mismatch": c.mismatch,
            "ignored": c.ignored,
            "candidateError": c.candidate_failures,
            "controlError": c.control_error,
        }
        return {name: (n / total if total else None) for name, n in parts.items()}

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts.to_json(), "total": self.counts.total, "rates": self.rates()}


@dataclass(frozen=True, slots=True)
class DiffExample:
    operation_id: str
    control: Any
    candidate: Any
    ignored_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "operationId": self.operation_id,
            "control": self.control,
            "candidate": self.candidate,
            "ignoredBy": self.ignored_by,
        }


@dataclass(frozen=True, slots=True)
class FieldStat:
    """A field path that differed: in how many mismatched comparisons, how often it was ignored, and examples."""

    path: str
    mismatches: int
    ignored: int
    examples: tuple[DiffExample, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "mismatches": self.mismatches,
            "ignored": self.ignored,
            "examples": [e.to_json() for e in self.examples],
        }


class ScopeVerdict(StrEnum):
    READY = "ready"
    HOLD = "hold"
    ROLL_BACK = "roll_back"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class VerdictResult:
    """The verdict with the gate result it comes from (the same gates a guarded rollout uses)."""

    verdict: ScopeVerdict
    gate: GateResult

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "reasons": list(self.gate.reasons), "gate": self.gate.to_json()}


@dataclass(frozen=True, slots=True)
class ScopeReport:
    key: ScopeKey | None  # None: every scope together, or a flag scope (then `title` names it)
    legacy: PathStats
    durable: PathStats
    comparisons: ComparisonStats
    fields: tuple[FieldStat, ...]
    verdict: VerdictResult
    title: str = ""

    @property
    def label(self) -> str:
        return self.title or (self.key.label() if self.key else "all scopes")

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.key.to_json() if self.key else None,
            "label": self.label,
            "paths": {"legacy": path_json(self.legacy), "durable": path_json(self.durable)},
            "shadow": self.comparisons.to_json(),
            "topDiffFields": [f.to_json() for f in self.fields],
            "verdict": self.verdict.to_json(),
        }


@dataclass(frozen=True, slots=True, order=True)
class FlagScope:
    """A scope a stage property or a rollout names, with every source that names it."""

    dimensions: tuple[tuple[str, str], ...]  # sorted (dimension, value) pairs; empty: everything
    sources: tuple[str, ...] = ()
    rollout_id: str | None = None  # the newest rollout of this scope, if any

    @property
    def scope(self) -> dict[str, str]:
        return dict(self.dimensions)

    def label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.dimensions) or "everything (a global property)"

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "label": self.label(), "sources": list(self.sources), "rollout": self.rollout_id}


@dataclass(frozen=True, slots=True)
class FlagScopeReport:
    """A flag scope judged as a whole over the report's window (with its rollout's thresholds when it has a
    rollout), the breakdown rows inside it, and, when the verdict differs from where its rollout ended, why."""

    scope: FlagScope
    report: ScopeReport
    thresholds_from: str  # "the report's" or "rollout <id>'s"
    breakdown: tuple[ScopeKey, ...]
    disagreement: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.scope.to_json(),
            "thresholdsFrom": self.thresholds_from,
            "evidence": self.report.to_json(),
            "breakdown": [k.to_json() for k in self.breakdown],
            "disagreement": self.disagreement,
        }


@dataclass(frozen=True, slots=True)
class RolloutHistory:
    rollout: Rollout
    events: tuple[RolloutEvent, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.rollout.to_json(), "timeline": [e.to_json() for e in self.events]}


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: datetime
    since: datetime
    until: datetime
    database: str
    thresholds: Thresholds
    overall: ScopeReport
    scopes: tuple[ScopeReport, ...]
    rollouts: tuple[RolloutHistory, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    flag_scopes: tuple[FlagScopeReport, ...] = ()
    unscoped: tuple[ScopeKey, ...] = ()  # breakdown rows no flag scope covers: they ran at the default stage
    gateway: AdmissionSummary | None = None  # what went through `cloudops gateway --upstream`, if anything

    def verdict_counts(self) -> dict[str, int]:
        """Verdicts of the flag scopes in use: the scopes a decision is made on."""
        return _count(f.report for f in self.flag_scopes)

    def breakdown_counts(self) -> dict[str, int]:
        """Verdicts of the finer rows (operation x provider x account x application), for reading under a scope."""
        return _count(self.scopes)

    def to_json(self) -> dict[str, Any]:
        return {
            "generatedAt": self.generated_at.isoformat(),
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "database": self.database,
            "thresholds": self.thresholds.to_json(),
            "percentileMethod": "linear (Hyndman-Fan type 7)",
            "verdictCounts": self.verdict_counts(),
            "breakdownVerdictCounts": self.breakdown_counts(),
            "flagScopes": [f.to_json() for f in self.flag_scopes],
            "unscoped": [k.to_json() for k in self.unscoped],
            "overall": self.overall.to_json(),
            "scopes": [s.to_json() for s in self.scopes],
            "rollouts": [r.to_json() for r in self.rollouts],
            "notes": list(self.notes),
            "gateway": self.gateway.to_json() if self.gateway is not None else None,
        }


def _count(scopes: Iterable[ScopeReport]) -> dict[str, int]:
    counts = {v.value: 0 for v in ScopeVerdict}
    for scope in scopes:
        counts[scope.verdict.verdict.value] += 1
    return counts
