"""The demo's summary as values: what ran where, what failed, what the shadows found, where each rollout ended.

Pure. `summarise_paths` turns the orchestrator's own step records into per-path counts and latency percentiles;
`waits_after_kills` finds the operations that were running when the worker was killed and took long;
`rollout_line` says where a rollout ended and why it stopped there. `DemoSummary.to_json` is the document
printed with --json; `cloudops.demo.render` prints the table. Every number comes from the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudops.demo.pipelines import StepRecord
from rollouts.model import Rollout, RolloutStatus
from rollouts.stats import percentiles

__all__ = [
    "COMPARISON_OUTCOMES",
    "PATHS",
    "CloudSummary",
    "ConsoleAccess",
    "DemoSummary",
    "KilledWait",
    "PathSummary",
    "RolloutLine",
    "rollout_line",
    "summarise_paths",
    "waits_after_kills",
]

PATHS = ("legacy", "durable")
COMPARISON_OUTCOMES = ("match", "mismatch", "ignored", "candidate_error", "candidate_timeout", "control_error")


@dataclass(frozen=True, slots=True)
class PathSummary:
    """One path's operations as the orchestrator saw them."""

    path: str
    operations: int
    failed: int
    error_kinds: Mapping[str, int]
    error_codes: Mapping[str, int]
    latency_s: Mapping[str, float] | None
    by_operation: Mapping[str, int] = field(default_factory=dict)

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.operations if self.operations else None

    def to_json(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "succeeded": self.operations - self.failed,
            "failed": self.failed,
            "failureRate": self.failure_rate,
            "errorKinds": dict(self.error_kinds),
            "errorCodes": dict(self.error_codes),
            "latencyS": dict(self.latency_s) if self.latency_s else None,
            "byOperation": dict(self.by_operation),
        }


def summarise_paths(records: Iterable[StepRecord]) -> tuple[PathSummary, ...]:
    """Per path (legacy, then durable): operations, failures by kind and code, p50/p95/p99 latency in seconds."""
    grouped: dict[str, list[StepRecord]] = {p: [] for p in PATHS}
    for record in records:
        grouped.setdefault(record.path, []).append(record)
    out = []
    for path, rows in grouped.items():
        failed = [r for r in rows if not r.succeeded]
        out.append(
            PathSummary(
                path=path,
                operations=len(rows),
                failed=len(failed),
                error_kinds=dict(Counter(r.error_kind or "unknown" for r in failed)),
                error_codes=dict(Counter(r.error_code or "none" for r in failed)),
                latency_s=percentiles([r.duration_s for r in rows]),
                by_operation=dict(Counter(r.step.value for r in rows)),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class KilledWait:
    """An operation that was running when the worker was killed, and took at least the threshold."""

    operation_id: str
    path: str
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {"operationId": self.operation_id, "path": self.path, "durationS": self.duration_s}


def waits_after_kills(
    records: Iterable[StepRecord], kill_times: Sequence[float], min_s: float = 20.0
) -> tuple[KilledWait, ...]:
    """Durable operations of at least `min_s` that were running at one of `kill_times`, slowest first."""
    waits = [
        KilledWait(r.operation_id, r.path, r.duration_s)
        for r in records
        if r.path == "durable" and r.duration_s >= min_s and any(r.started_at <= t <= r.finished_at for t in kill_times)
    ]
    return tuple(sorted(waits, key=lambda w: -w.duration_s))


@dataclass(frozen=True, slots=True)
class RolloutLine:
    """Where one rollout ended, how many moves it made on the way, and why it stopped where it did."""

    id: str
    scope: str
    status: str
    stage: str
    percent: float | None
    label: str
    moves: int
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "status": self.status,
            "stage": self.stage,
            "percent": self.percent,
            "label": self.label,
            "moves": self.moves,
            "why": self.why,
        }


def rollout_line(rollout: Rollout, moves: int) -> RolloutLine:
    """The rollout's final place; `why` gives the reasons of its last gate result that did not pass."""
    phase = rollout.target or rollout.phase
    at = phase.label()
    status = rollout.status
    label = at if status is RolloutStatus.RUNNING else f"{at} ({status.value.replace('_', ' ')})"
    why = ""
    last = rollout.last_result or {}
    if status in (RolloutStatus.RUNNING, RolloutStatus.ROLLED_BACK):
        wanted = "fail" if status is RolloutStatus.ROLLED_BACK else "inconclusive"
        why = "; ".join(str(c.get("reason", "")) for c in last.get("checks", []) if c.get("outcome") == wanted)
    return RolloutLine(
        id=rollout.id,
        scope=rollout.plan.describe_scope(),
        status=status.value,
        stage=phase.stage.value,
        percent=phase.percent,
        label=label,
        moves=moves,
        why=why,
    )


@dataclass(frozen=True, slots=True)
class CloudSummary:
    """What the sim cloud saw: transient faults it injected, changes it applied, and changes applied twice."""

    faults_injected: Mapping[str, int]
    mutations: int
    duplicated_changes: int
    duplicated_by_legacy: int

    def to_json(self) -> dict[str, Any]:
        return {
            "faultsInjected": dict(self.faults_injected),
            "mutationsApplied": self.mutations,
            "duplicatedChanges": self.duplicated_changes,
            "duplicatedByLegacy": self.duplicated_by_legacy,
        }


@dataclass(frozen=True, slots=True)
class ConsoleAccess:
    url: str
    user: str
    password: str

    def to_json(self) -> dict[str, str]:
        return {"url": self.url, "user": self.user, "password": self.password}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """Everything the demo reports at the end."""

    run_id: str
    seed: int
    fault_rate: float
    elapsed_s: float
    planned_operations: int
    pipelines: Mapping[str, int]
    paths: tuple[PathSummary, ...]
    comparisons: Mapping[str, int]
    fallbacks: int
    rollouts: tuple[RolloutLine, ...]
    worker_kills: int
    cloud: CloudSummary | None
    state_dir: str
    report_path: str | None
    console: ConsoleAccess | None
    killed_waits: tuple[KilledWait, ...] = ()
    unshadowed: tuple[str, ...] = ()
    shadows_skipped: Mapping[str, int] = field(default_factory=dict)
    addresses: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    report_verdicts: Mapping[str, int] = field(default_factory=dict)  # per flag scope in use

    @property
    def operations(self) -> int:
        return sum(p.operations for p in self.paths)

    def path(self, name: str) -> PathSummary | None:
        return next((p for p in self.paths if p.path == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "seed": self.seed,
            "faultRate": self.fault_rate,
            "elapsedS": self.elapsed_s,
            "plannedOperations": self.planned_operations,
            "operations": self.operations,
            "pipelines": dict(self.pipelines),
            "paths": {p.path: p.to_json() for p in self.paths},
            "shadowComparisons": {k: int(self.comparisons.get(k, 0)) for k in COMPARISON_OUTCOMES},
            "unshadowedOperations": list(self.unshadowed),
            "shadowsSkipped": dict(self.shadows_skipped),
            "fallbacks": self.fallbacks,
            "rollouts": [r.to_json() for r in self.rollouts],
            "workerKills": self.worker_kills,
            "killedWaits": [w.to_json() for w in self.killed_waits],
            "cloud": self.cloud.to_json() if self.cloud else None,
            "stateDir": self.state_dir,
            "report": self.report_path,
            "reportVerdicts": dict(self.report_verdicts),
            "console": self.console.to_json() if self.console else None,
            "addresses": dict(self.addresses),
            "notes": list(self.notes),
        }
