"""From the router's SQL tables to a `Report`: per flag scope in use, and per (operation, provider, account,
application) under it.

The flag scopes are those the stage properties and the rollouts name (`cloudops.report.scopes`); each is read
with the same filter a rollout's evidence uses and judged as a whole. Reads, through the router's read model
(aggregated in SQL, latency samples bounded per scope), the outcomes per path (status, error kind, fallbacks,
durations) and the comparisons (counts by outcome; the fields that differed in mismatched and ignored
comparisons) inside [since, until], for each scope and for all of them together, and the rollouts that changed
in that window with their timelines. The statistics themselves are `rollouts.stats`; the verdicts are
`rollouts.gates` (see `cloudops.report.verdict`). It also says what share of the operations submitted through
`cloudops gateway --upstream` the durable path could take at all (gateway.admission_log).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from cloudops.report.model import (
    REPORT_DIMENSIONS,
    ComparisonStats,
    DiffExample,
    FieldStat,
    FlagScopeReport,
    Report,
    RolloutHistory,
    ScopeKey,
    ScopeReport,
)
from cloudops.report.scopes import covers, disagreement, scopes_in_use
from cloudops.report.verdict import judge
from flags.model import Property, utc
from gateway.admission_log import AdmissionLog, AdmissionSummary
from rollouts.errors import RolloutStoreUnavailable
from rollouts.gates import ComparisonCounts, Evidence, PathSample, Thresholds
from rollouts.store import RolloutStore
from router.contract import Path
from router.read_model import FieldCount, OutcomeReadModel, PathStats, ReadWindow

__all__ = ["ReportUnavailable", "build_report"]

TOP_FIELDS = 10
EXAMPLES_PER_FIELD = 3
_MAX_EXAMPLE_CHARS = 1000
_OVERALL = ScopeKey("", "", "", "")  # where a read grouped by nothing puts its one scope
_T = TypeVar("_T")


def _capped(value: Any) -> Any:
    """An example value as is when its JSON is short, else a preview (a report stays readable and small)."""
    text = json.dumps(value, default=str, sort_keys=True)
    return value if len(text) <= _MAX_EXAMPLE_CHARS else {"truncated": True, "preview": text[:300]}


class ReportUnavailable(Exception):
    """The database cannot be read (unreachable, or the router's tables are missing); the message says which."""


@dataclass
class _ScopeAcc:
    paths: dict[str, PathStats] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    fields: dict[str, FieldCount] = field(default_factory=dict)

    def path(self, name: str) -> PathStats:
        return self.paths.get(name) or PathStats.of(name, {})


def _read(engine: sa.Engine, read: Callable[[], _T]) -> _T:
    try:
        return read()
    except sa.exc.SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        url = engine.url.render_as_string(hide_password=True)
        if "no such table" in text or getattr(getattr(exc, "orig", None), "sqlstate", None) == "42P01":
            raise ReportUnavailable(f"{url} has no router tables: run `cloudops db upgrade --db {url}`") from exc
        raise ReportUnavailable(f"cannot read {url}: {text.splitlines()[0] if text else type(exc).__name__}") from exc


def _collect(engine: sa.Engine, window: ReadWindow, group_by: Sequence[str]) -> dict[ScopeKey, _ScopeAcc]:
    """Per scope: the read model's path statistics, comparison counts and differing fields (aggregated in SQL)."""
    model = OutcomeReadModel(engine)
    scopes: dict[ScopeKey, _ScopeAcc] = defaultdict(_ScopeAcc)
    for key, paths in _read(engine, lambda: model.paths(window, group_by)).items():
        scopes[ScopeKey(*key) if key else _OVERALL].paths.update(paths)
    for key, outcomes in _read(engine, lambda: model.comparison_counts(window, group_by)).items():
        scopes[ScopeKey(*key) if key else _OVERALL].outcomes.update(outcomes)
    differing = _read(engine, lambda: model.differing_fields(window, group_by, examples=EXAMPLES_PER_FIELD))
    for key, fields in differing.items():
        scopes[ScopeKey(*key) if key else _OVERALL].fields.update(fields)
    return scopes


def _field_stat(count: FieldCount) -> FieldStat:
    examples = tuple(
        DiffExample(operation_id, _capped(diff.get("control")), _capped(diff.get("candidate")), diff.get("ignoredBy"))
        for operation_id, diff in count.examples
    )
    return FieldStat(count.path, count.mismatches, count.ignored, examples)


def _scope_report(key: ScopeKey | None, acc: _ScopeAcc, thresholds: Thresholds) -> ScopeReport:
    legacy, durable = acc.path(Path.LEGACY.value), acc.path(Path.DURABLE.value)
    counts = ComparisonCounts.of(acc.outcomes)
    evidence = Evidence(
        legacy=PathSample(legacy.total, legacy.failures, legacy.latencies),
        durable=PathSample(durable.total, durable.failures, durable.latencies),
        comparisons=counts,
    )
    ranked = sorted(acc.fields.values(), key=lambda f: (-f.mismatches, -f.ignored, f.path))[:TOP_FIELDS]
    return ScopeReport(
        key=key,
        legacy=legacy,
        durable=durable,
        comparisons=ComparisonStats(counts),
        fields=tuple(_field_stat(f) for f in ranked),
        verdict=judge(evidence, thresholds),
    )


def _flag_scopes(
    engine: sa.Engine,
    window: ReadWindow,
    properties: Sequence[Property],
    rollouts: Sequence[RolloutHistory],
    breakdown: Sequence[ScopeKey],
    thresholds: Thresholds,
) -> tuple[FlagScopeReport, ...]:
    """Each flag scope in use judged as a whole over `window`, with its rollout's thresholds when it has one."""
    by_id = {h.rollout.id: h.rollout for h in rollouts}
    found = []
    for flag_scope in scopes_in_use(properties, (h.rollout for h in rollouts)):
        scoped = ReadWindow(window.since, window.until, flag_scope.scope)
        acc = _collect(engine, scoped, ()).get(_OVERALL, _ScopeAcc())
        rollout = by_id.get(flag_scope.rollout_id or "")
        th = rollout.plan.thresholds if rollout else thresholds
        report = replace(_scope_report(None, acc, th), title=flag_scope.label())
        found.append(
            FlagScopeReport(
                scope=flag_scope,
                report=report,
                thresholds_from=f"rollout {rollout.id}'s" if rollout else "the report's",
                breakdown=tuple(k for k in breakdown if covers(flag_scope, k)),
                disagreement=disagreement(rollout, report.verdict.verdict) if rollout else None,
            )
        )
    return tuple(found)


def _gateway(engine: sa.Engine, since: datetime, until: datetime) -> AdmissionSummary | None:
    """What the gateway took and passed to its upstream in the window; None when nothing went through one (or
    the database predates the gateway's admissions table)."""
    try:
        found = AdmissionLog(engine).summary(since, until)
    except sa.exc.SQLAlchemyError:
        return None
    return found if found.operations else None


def _rollouts(engine: sa.Engine, since: datetime) -> tuple[tuple[RolloutHistory, ...], tuple[str, ...]]:
    store = RolloutStore(engine)
    try:
        found = store.list(since=since)
        return tuple(RolloutHistory(r, tuple(store.events(r.id))) for r in found), ()
    except RolloutStoreUnavailable as exc:
        return (), (f"rollouts left out: {exc.message}",)


def build_report(
    engine: sa.Engine,
    *,
    since: datetime,
    until: datetime,
    thresholds: Thresholds | None = None,
    generated_at: datetime | None = None,
    properties: Sequence[Property] = (),
) -> Report:
    """The report of everything recorded in [since, until], judged per flag scope in use: those of `properties`
    (the stage key's, as the flag store lists them) and of the rollouts active in the window. Raises
    ReportUnavailable when the tables are missing."""
    th = thresholds or Thresholds()
    since, until = utc(since), utc(until)
    window = ReadWindow(since, until)
    scopes = _collect(engine, window, REPORT_DIMENSIONS)
    overall = _collect(engine, window, ()).get(_OVERALL, _ScopeAcc())
    reports: Sequence[ScopeReport] = [_scope_report(key, scopes[key], th) for key in sorted(scopes)]
    rollouts, notes = _rollouts(engine, since)
    flag_scopes = _flag_scopes(engine, window, properties, rollouts, sorted(scopes), th)
    covered = {k for f in flag_scopes for k in f.breakdown}
    if not flag_scopes:
        notes += ("no stage property or rollout names a scope: every operation ran at the default stage",)
    if not scopes:
        notes += (f"no operations or comparisons were recorded between {since.isoformat()} and {until.isoformat()}",)
    gateway = _gateway(engine, since, until)
    if gateway is not None:
        notes += (gateway.describe(),)
    return Report(
        generated_at=utc(generated_at or until),
        since=since,
        until=until,
        database=engine.url.render_as_string(hide_password=True),
        thresholds=th,
        overall=_scope_report(None, overall, th),
        scopes=tuple(reports),
        rollouts=rollouts,
        notes=notes,
        flag_scopes=flag_scopes,
        unscoped=tuple(k for k in sorted(scopes) if k not in covered),
        gateway=gateway,
    )
