"""From the router's SQL tables to a `Report`: per (operation, provider, account, application) statistics.

Reads `operation_outcomes` (path, status, error kind, duration, fallback) and `shadow_comparisons` (outcome
counts; the field diffs of mismatched and ignored comparisons only) inside [since, until], and the rollouts that
changed in that window with their timelines. The statistics themselves are `rollouts.stats`; the verdicts are
`rollouts.gates` (see `cloudops.report.verdict`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cloudops.report.model import (
    REPORT_DIMENSIONS,
    ComparisonStats,
    DiffExample,
    FieldStat,
    PathStats,
    Report,
    RolloutHistory,
    ScopeKey,
    ScopeReport,
)
from cloudops.report.verdict import judge
from flags.model import utc
from rollouts.errors import RolloutStoreUnavailable
from rollouts.gates import ComparisonCounts, Evidence, PathSample, Thresholds
from rollouts.stats import percentiles, wilson_interval
from rollouts.store import RolloutStore
from router.contract import Path, ResultStatus
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["ReportUnavailable", "build_report"]

TOP_FIELDS = 10
EXAMPLES_PER_FIELD = 3
_MAX_EXAMPLE_CHARS = 1000


def _capped(value: Any) -> Any:
    """An example value as is when its JSON is short, else a preview (a report stays readable and small)."""
    text = json.dumps(value, default=str, sort_keys=True)
    return value if len(text) <= _MAX_EXAMPLE_CHARS else {"truncated": True, "preview": text[:300]}


class ReportUnavailable(Exception):
    """The database cannot be read (unreachable, or the router's tables are missing); the message says which."""


@dataclass
class _PathAcc:
    total: int = 0
    failures: int = 0
    fallbacks: int = 0
    latencies: list[float] = field(default_factory=list)
    error_kinds: Counter[str] = field(default_factory=Counter)

    def add(self, status: str, error_kind: str | None, duration: float, fallback: bool) -> None:
        self.total += 1
        self.latencies.append(float(duration))
        self.fallbacks += bool(fallback)
        if status == ResultStatus.FAILED.value:
            self.failures += 1
            self.error_kinds[error_kind or "unknown"] += 1

    def merge(self, other: _PathAcc) -> None:
        self.total += other.total
        self.failures += other.failures
        self.fallbacks += other.fallbacks
        self.latencies += other.latencies
        self.error_kinds.update(other.error_kinds)


@dataclass
class _FieldAcc:
    mismatches: int = 0
    ignored: int = 0
    examples: list[DiffExample] = field(default_factory=list)

    def merge(self, other: _FieldAcc) -> None:
        self.mismatches += other.mismatches
        self.ignored += other.ignored
        room = EXAMPLES_PER_FIELD - len(self.examples)
        self.examples += other.examples[: max(0, room)]


@dataclass
class _ScopeAcc:
    paths: dict[str, _PathAcc] = field(default_factory=lambda: {p.value: _PathAcc() for p in Path})
    outcomes: Counter[str] = field(default_factory=Counter)
    fields: dict[str, _FieldAcc] = field(default_factory=lambda: defaultdict(_FieldAcc))

    def merge(self, other: _ScopeAcc) -> None:
        for path, path_acc in other.paths.items():
            self.paths.setdefault(path, _PathAcc()).merge(path_acc)
        self.outcomes.update(other.outcomes)
        for name, field_acc in other.fields.items():
            self.fields[name].merge(field_acc)


def _key(row: sa.RowMapping) -> ScopeKey:
    return ScopeKey(*(str(row[name] or "") for name in REPORT_DIMENSIONS))


def _read(engine: sa.Engine, query: sa.Select[Any]) -> Iterable[sa.RowMapping]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).mappings())
    except sa.exc.SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        url = engine.url.render_as_string(hide_password=True)
        if "no such table" in text or getattr(getattr(exc, "orig", None), "sqlstate", None) == "42P01":
            raise ReportUnavailable(f"{url} has no router tables: run `cloudops db upgrade --db {url}`") from exc
        raise ReportUnavailable(f"cannot read {url}: {text.splitlines()[0] if text else type(exc).__name__}") from exc


def _add_diffs(acc: _ScopeAcc, operation_id: str, outcome: str, diffs: Any) -> None:
    if not isinstance(diffs, list):
        return  # a size-capped record keeps no diff list
    seen: set[str] = set()
    for diff in diffs:
        if not isinstance(diff, Mapping) or "path" not in diff:
            continue
        path, ignored_by = str(diff["path"]), diff.get("ignoredBy")
        stat = acc.fields[path]
        if ignored_by:
            stat.ignored += 1
        elif outcome == "mismatch" and path not in seen:
            stat.mismatches += 1
            seen.add(path)
        if len(stat.examples) < EXAMPLES_PER_FIELD:
            example = DiffExample(
                operation_id, _capped(diff.get("control")), _capped(diff.get("candidate")), ignored_by
            )
            stat.examples.append(example)


def _collect(engine: sa.Engine, since: datetime, until: datetime) -> dict[ScopeKey, _ScopeAcc]:
    scopes: dict[ScopeKey, _ScopeAcc] = defaultdict(_ScopeAcc)
    o = operation_outcomes
    dims = [o.c[name] for name in REPORT_DIMENSIONS]
    rows = _read(
        engine,
        sa.select(*dims, o.c.path, o.c.status, o.c.error_kind, o.c.duration_s, o.c.fallback).where(
            o.c.finished_at >= since, o.c.finished_at <= until
        ),
    )
    for row in rows:
        path = scopes[_key(row)].paths.setdefault(row["path"], _PathAcc())
        path.add(row["status"], row["error_kind"], row["duration_s"], row["fallback"])
    c = shadow_comparisons
    cdims = [c.c[name] for name in REPORT_DIMENSIONS]
    window = (c.c.compared_at >= since, c.c.compared_at <= until)
    counts = _read(
        engine, sa.select(*cdims, c.c.outcome, sa.func.count().label("n")).where(*window).group_by(*cdims, c.c.outcome)
    )
    for row in counts:
        scopes[_key(row)].outcomes[row["outcome"]] += int(row["n"])
    differing = _read(
        engine,
        sa.select(*cdims, c.c.operation_id, c.c.outcome, c.c.diffs)
        .where(*window, c.c.outcome.in_(["mismatch", "ignored"]))
        .order_by(c.c.compared_at.desc()),
    )
    for row in differing:
        _add_diffs(scopes[_key(row)], row["operation_id"], row["outcome"], row["diffs"])
    return scopes


def _path_stats(path: str, acc: _PathAcc) -> PathStats:
    return PathStats(
        path=path,
        total=acc.total,
        failures=acc.failures,
        failure_rate=wilson_interval(acc.failures, acc.total),
        latency=percentiles(acc.latencies),
        error_kinds=dict(acc.error_kinds),
        fallbacks=acc.fallbacks,
    )


def _scope_report(key: ScopeKey | None, acc: _ScopeAcc, thresholds: Thresholds) -> ScopeReport:
    legacy, durable = acc.paths[Path.LEGACY.value], acc.paths[Path.DURABLE.value]
    counts = ComparisonCounts.of(acc.outcomes)
    evidence = Evidence(
        legacy=PathSample(legacy.total, legacy.failures, tuple(legacy.latencies)),
        durable=PathSample(durable.total, durable.failures, tuple(durable.latencies)),
        comparisons=counts,
    )
    ranked = sorted(acc.fields.items(), key=lambda kv: (-kv[1].mismatches, -kv[1].ignored, kv[0]))[:TOP_FIELDS]
    fields = tuple(FieldStat(name, f.mismatches, f.ignored, tuple(f.examples)) for name, f in ranked)
    return ScopeReport(
        key=key,
        legacy=_path_stats(Path.LEGACY.value, legacy),
        durable=_path_stats(Path.DURABLE.value, durable),
        comparisons=ComparisonStats(counts),
        fields=fields,
        verdict=judge(evidence, thresholds),
    )


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
) -> Report:
    """The report of everything recorded in [since, until]. Raises ReportUnavailable when the tables are missing."""
    th = thresholds or Thresholds()
    since, until = utc(since), utc(until)
    scopes = _collect(engine, since, until)
    overall = _ScopeAcc()
    for acc in scopes.values():
        overall.merge(acc)
    reports: Sequence[ScopeReport] = [_scope_report(key, scopes[key], th) for key in sorted(scopes)]
    rollouts, notes = _rollouts(engine, since)
    if not scopes:
        notes += (f"no operations or comparisons were recorded between {since.isoformat()} and {until.isoformat()}",)
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
    )
