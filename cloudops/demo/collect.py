"""Gathering the demo's summary once the workload is done: the HTML report (and what it read from the router's
records), the sim cloud's journal, and the orchestrator's own step records, put together as a `DemoSummary`."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cloud.sim import summarise_journal
from cloud.sim.client import SimCloudClient
from cloudops.demo.pipelines import PipelineOutcome, StepRecord
from cloudops.demo.render import findings
from cloudops.demo.summary import (
    CloudSummary,
    ConsoleAccess,
    DemoSummary,
    rollout_line,
    summarise_paths,
    waits_after_kills,
)
from cloudops.demo.workload import Workload
from rollouts.gates import Thresholds
from rollouts.model import Rollout

__all__ = ["ReportFacts", "RunFacts", "build_summary", "cloud_summary", "write_report"]

log = logging.getLogger(__name__)

_MOVES = {"advanced", "completed", "rolled_back"}


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the run itself observed."""

    workload: Workload
    elapsed_s: float
    records: tuple[StepRecord, ...]
    outcomes: tuple[PipelineOutcome, ...]
    kill_times: tuple[float, ...]
    rollouts: tuple[Rollout, ...]
    unshadowed: tuple[str, ...] = ()
    shadows_skipped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """The report written (None when it could not be) and what the summary takes from it."""

    path: Path | None
    comparisons: Mapping[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    moves: Mapping[str, int] = field(default_factory=dict)
    problem: str = ""
    verdicts: Mapping[str, int] = field(default_factory=dict)  # per flag scope in use, as the rollouts judge
    disagreements: tuple[str, ...] = ()  # where the report's verdict differs from where a rollout ended, and why


def write_report(database_url: str, *, since: datetime, thresholds: Thresholds, path: Path) -> ReportFacts:
    """Build the report of everything recorded since `since`, write it as HTML to `path`, and keep its totals."""
    from cloudops.report import ReportFormat, ReportUnavailable, build_report, render
    from cloudops.report.database import DatabaseUnavailable, open_flag_store
    from flags import STAGE_KEY, FlagError

    try:
        store = open_flag_store(database_url)
    except DatabaseUnavailable as exc:
        return ReportFacts(None, problem=str(exc))
    try:
        report = build_report(
            store.engine,
            since=since,
            until=datetime.now(UTC),
            thresholds=thresholds,
            properties=store.list_properties(STAGE_KEY),
        )
    except (ReportUnavailable, FlagError) as exc:
        return ReportFacts(None, problem=str(exc))
    finally:
        store.close()
    try:
        path.write_text(render(report, ReportFormat.HTML), encoding="utf-8")
    except OSError as exc:
        return ReportFacts(None, problem=f"cannot write {path}: {exc.strerror or exc}")
    return ReportFacts(
        path=path,
        comparisons=report.overall.comparisons.counts.to_json(),
        fallbacks=report.overall.legacy.fallbacks,
        moves={h.rollout.id: sum(1 for e in h.events if e.kind.value in _MOVES) for h in report.rollouts},
        verdicts=report.verdict_counts(),
        disagreements=tuple(f.disagreement for f in report.flag_scopes if f.disagreement),
    )


def cloud_summary(cloud: SimCloudClient) -> CloudSummary | None:
    """The sim cloud's side: faults injected, changes applied, and those applied twice (and by whose retries)."""
    try:
        journal = summarise_journal(cloud.journal())
        injected = cloud.injected_faults()
    except Exception:  # the summary is still worth printing without the sim's side of the story
        log.exception("could not read the sim cloud's journal")
        return None
    return CloudSummary(
        faults_injected=injected,
        mutations=journal.total,
        duplicated_changes=len(journal.duplicates),
        # Clouddriver's retries use fresh `clouddriver-<uuid>` tokens; the durable path's are derived hashes.
        duplicated_by_legacy=sum(1 for e in journal.duplicates if e.token.startswith("clouddriver-")),
    )


def build_summary(
    run: RunFacts,
    report: ReportFacts,
    cloud: CloudSummary | None,
    *,
    seed: int,
    fault_rate: float,
    state_dir: Path,
    console: ConsoleAccess | None,
    addresses: Mapping[str, str],
) -> DemoSummary:
    outcomes = Counter(o.status.value for o in run.outcomes)
    summary = DemoSummary(
        run_id=run.workload.run_id,
        seed=seed,
        fault_rate=fault_rate,
        elapsed_s=run.elapsed_s,
        planned_operations=run.workload.operations,
        pipelines={s: outcomes.get(s, 0) for s in ("succeeded", "failed", "stopped")},
        paths=summarise_paths(run.records),
        comparisons=report.comparisons,
        fallbacks=report.fallbacks,
        rollouts=tuple(rollout_line(r, report.moves.get(r.id, 0)) for r in run.rollouts),
        worker_kills=len(run.kill_times),
        cloud=cloud,
        state_dir=str(state_dir),
        report_path=str(report.path) if report.path else None,
        console=console,
        killed_waits=waits_after_kills(run.records, run.kill_times),
        unshadowed=run.unshadowed,
        shadows_skipped=run.shadows_skipped,
        addresses=addresses,
        report_verdicts=report.verdicts,
    )
    notes = findings(summary) + report.disagreements + ((f"no report: {report.problem}",) if report.problem else ())
    return replace(summary, notes=notes)
