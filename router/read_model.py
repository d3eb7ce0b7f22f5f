"""The read model of outcomes and comparisons: bounded queries that aggregate in SQL, for every reader.

The console's dashboard, the shadow report and the rollout gates' evidence all read `operation_outcomes` and
`shadow_comparisons` through `OutcomeReadModel`. Each query returns aggregates, never the window's rows:

- `paths`: per scope (the dimensions in `group_by`) and path, the operations by status, error kind and stage,
  and the fallbacks: whole hours from the hourly rollups the database keeps, the partial hours at the window's
  edges from the rows (router/rollups.py), so the counts are exact and cost hours, not rows. With them, a latency
  sample bounded per (scope, path) (`latency_sample`, default 2,000: every duration when there are fewer, else a
  deterministic pseudo-random subset chosen in SQL by a hash of the row id), read without ranking every row
  (router/latency_sample.py), so a busy window never brings more than `scopes x paths x latency_sample` floats
  into Python; `latency_for` (and `with_latencies`) read it for some scopes only (the dashboard's busiest).
- `comparison_counts`: comparisons per scope and outcome (rollups and edges, like the counts above).
- `differing_fields`: per scope and field path, in how many mismatched comparisons the field differed, how often
  it was ignored, and its newest examples (the diffs are expanded in SQL: SQLite's json_each, PostgreSQL's
  json_array_elements).

`PathStats` is the one value every reader shows for a path. Database errors are raised as they come
(`sqlalchemy.exc.SQLAlchemyError`): each reader turns them into its own error with its own advice.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.latency_sample import read_sample, sample_where
from router.read_values import FieldCount, PathStats, ScopeKey
from router.rollups import comparison_counts, outcome_counts
from router.tables import shadow_comparisons

__all__ = [
    "DIMENSIONS",
    "LATENCY_SAMPLE",
    "FieldCount",
    "OutcomeReadModel",
    "PathStats",
    "ReadWindow",
    "ScopeKey",
]

DIMENSIONS = ("application", "account", "operation", "stage_type", "provider")
LATENCY_SAMPLE = 2_000


@dataclass(frozen=True, slots=True)
class ReadWindow:
    """The rows a read covers: [since, until] (no upper bound when until is None), each `scope` dimension equal."""

    since: datetime
    until: datetime | None = None
    scope: Mapping[str, str] = field(default_factory=dict)

    def where(self, table: sa.Table, time_column: sa.Column[Any]) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [time_column >= self.since]
        if self.until is not None:
            clauses.append(time_column <= self.until)
        clauses += [table.c[name] == value for name, value in self.scope.items()]
        return clauses


def _check(group_by: Sequence[str]) -> None:
    unknown = [d for d in group_by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group by {unknown[0]!r}: the dimensions are {', '.join(DIMENSIONS)}")


def _key(row: Sequence[Any], width: int) -> ScopeKey:
    return tuple(str(v or "") for v in row[:width])


class OutcomeReadModel:
    """Aggregated reads of the router's outcome and comparison tables through `engine`."""

    def __init__(self, engine: sa.Engine, *, latency_sample: int = LATENCY_SAMPLE) -> None:
        if latency_sample < 1:
            raise ValueError(f"latency_sample must be at least 1, got {latency_sample}")
        self.engine = engine
        self.latency_sample = latency_sample

    def _rows(self, query: sa.Select[Any]) -> Iterable[sa.Row[Any]]:
        with self.engine.connect() as conn:
            yield from conn.execute(query)

    def paths(
        self,
        window: ReadWindow,
        group_by: Sequence[str] = (),
        *,
        path: str | None = None,
        latency_for: Collection[ScopeKey] | None = None,
    ) -> dict[ScopeKey, dict[str, PathStats]]:
        """Per scope (values of `group_by`, in order) and path: counts and a bounded latency sample (for the
        scopes of `latency_for` only, when given: the others' `latencies` are empty)."""
        _check(group_by)
        width = len(group_by)
        found: dict[ScopeKey, dict[str, _PathAcc]] = {}
        with self.engine.connect() as conn:
            for statement in outcome_counts(window.since, window.until, dict(window.scope), group_by, path):
                for row in conn.execute(statement):
                    acc = found.setdefault(_key(row, width), {}).setdefault(str(row[width]), _PathAcc())
                    status, kind, stage, n, fallbacks = row[width + 1 :]
                    acc.statuses[(str(status), kind or None)] = acc.statuses.get((str(status), kind or None), 0) + int(
                        n
                    )
                    acc.stages[str(stage)] = acc.stages.get(str(stage), 0) + int(n)
                    acc.fallbacks += int(fallbacks or 0)
            counts = {
                (*key, name): sum(acc.statuses.values())
                for key, by_path in found.items()
                for name, acc in by_path.items()
            }
            keys = None if latency_for is None else {(*k, p) for k in latency_for for p in found.get(tuple(k), {})}
            for key, durations in self._samples(conn, window, group_by, path, counts, keys).items():
                found[key[:width]][str(key[width])].latencies = durations
        return {key: {name: acc.stats(name) for name, acc in sorted(by_path.items())} for key, by_path in found.items()}

    def with_latencies(
        self,
        window: ReadWindow,
        group_by: Sequence[str],
        paths: Mapping[ScopeKey, Mapping[str, PathStats]],
        scopes: Collection[ScopeKey],
    ) -> dict[ScopeKey, dict[str, PathStats]]:
        """`paths` (read with `latency_for=()`: counts only) with the latency samples of `scopes` added."""
        _check(group_by)
        width = len(group_by)
        counts = {(*key, name): stats.total for key, by_path in paths.items() for name, stats in by_path.items()}
        keys = {(*k, p) for k in scopes for p in paths.get(tuple(k), {})}
        with self.engine.connect() as conn:
            samples = self._samples(conn, window, group_by, None, counts, keys)
        out = {key: dict(by_path) for key, by_path in paths.items()}
        for key, durations in samples.items():
            old = out[key[:width]][str(key[width])]
            out[key[:width]][old.path] = PathStats.of(old.path, old.statuses, old.fallbacks, durations, old.stages)
        return out

    def _samples(
        self,
        conn: sa.Connection,
        window: ReadWindow,
        group_by: Sequence[str],
        path: str | None,
        counts: Mapping[ScopeKey, int],
        keys: Collection[ScopeKey] | None,
    ) -> dict[ScopeKey, list[float]]:
        """The latency sample of each (scope, path) key in `keys` (every one of `counts` when None), given the
        window's operation counts per key (router/latency_sample.py)."""
        rows = sum(counts.values()) if keys is None else sum(counts.get(k, 0) for k in keys)
        where = sample_where(conn, window.since, window.until, window.scope, path, (group_by, keys, rows))
        return read_sample(conn, where, group_by, counts, self.latency_sample, keys)

    def comparison_counts(self, window: ReadWindow, group_by: Sequence[str] = ()) -> dict[ScopeKey, dict[str, int]]:
        """Per scope: comparisons by outcome."""
        _check(group_by)
        width = len(group_by)
        found: dict[ScopeKey, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for statement in comparison_counts(window.since, window.until, dict(window.scope), group_by):
                for row in conn.execute(statement):
                    outcomes = found.setdefault(_key(row, width), {})
                    outcomes[str(row[width])] = outcomes.get(str(row[width]), 0) + int(row[width + 1])
        return found

    def differing_fields(
        self, window: ReadWindow, group_by: Sequence[str] = (), *, examples: int = 3
    ) -> dict[ScopeKey, dict[str, FieldCount]]:
        """Per scope and field path, over mismatched and ignored comparisons: in how many mismatched comparisons
        the field differed (not ignored), how many of its differences were ignored, and its newest `examples`."""
        _check(group_by)
        diffs = _diff_elements(self.engine.dialect.name, window, group_by)
        dims = [diffs.c[d] for d in group_by]
        counted = sa.select(
            *dims,
            diffs.c.field,
            sa.func.count(sa.distinct(sa.case((diffs.c.counts_as_mismatch, diffs.c.id)))),
            sa.func.sum(sa.case((diffs.c.is_ignored, 1), else_=0)),
        ).group_by(*dims, diffs.c.field)
        width = len(dims)
        found: dict[ScopeKey, dict[str, FieldCount]] = {}
        for row in self._rows(counted):
            found.setdefault(_key(row, width), {})[str(row[width])] = FieldCount(
                str(row[width]), int(row[width + 1]), int(row[width + 2] or 0), ()
            )
        newest = sa.func.row_number().over(
            partition_by=[*dims, diffs.c.field],
            order_by=[diffs.c.compared_at.desc(), diffs.c.id.desc(), diffs.c.position],
        )
        ranked = sa.select(*dims, diffs.c.field, diffs.c.operation_id, diffs.c.diff, newest.label("rank")).subquery()
        picked = sa.select(*(ranked.c[d] for d in group_by), ranked.c.field, ranked.c.operation_id, ranked.c.diff)
        picked = picked.where(ranked.c.rank <= examples).order_by(*(ranked.c[d] for d in group_by), ranked.c.rank)
        for row in self._rows(picked):
            stat = found[_key(row, width)][str(row[width])]
            diff = row[width + 2]
            diff = json.loads(diff) if isinstance(diff, str) else diff
            found[_key(row, width)][stat.path] = stat.with_example(str(row[width + 1]), diff)
        return found


@dataclass
class _PathAcc:
    statuses: dict[tuple[str, str | None], int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    latencies: list[float] = field(default_factory=list)

    def stats(self, path: str) -> PathStats:
        return PathStats.of(path, self.statuses, self.fallbacks, self.latencies, self.stages)


def _diff_elements(dialect: str, window: ReadWindow, group_by: Sequence[str]) -> sa.Subquery:
    """One row per field diff of the window's mismatched and ignored comparisons (whose diffs are a list)."""
    c = shadow_comparisons
    where = [*window.where(c, c.c.compared_at), c.c.outcome.in_(["mismatch", "ignored"])]
    dims = [c.c[d] for d in group_by]
    if dialect == "postgresql":
        as_list = sa.case((sa.func.json_typeof(c.c.diffs) == "array", c.c.diffs), else_=sa.literal_column("'[]'::json"))
        elements = sa.func.json_array_elements(as_list).table_valued("value", with_ordinality="position")
        element = elements.render_derived().lateral()
        value = element.c.value
        field_of: sa.ColumnElement[Any] = value.op("->>")("path")
        ignored_by: sa.ColumnElement[Any] = value.op("->>")("ignoredBy")
        is_object = sa.func.json_typeof(value) == "object"
        position = element.c.position
    else:
        element = sa.func.json_each(c.c.diffs).table_valued("key", "value", "type")
        value = element.c.value
        field_of = sa.func.json_extract(value, "$.path")
        ignored_by = sa.func.json_extract(value, "$.ignoredBy")
        is_object = sa.and_(element.c.type == "object", sa.func.json_type(c.c.diffs) == "array")
        position = element.c.key
    ignored = sa.func.coalesce(sa.cast(ignored_by, sa.String), "") != ""
    return (
        sa.select(
            *dims,
            c.c.id,
            c.c.operation_id,
            c.c.compared_at,
            position.label("position"),
            sa.cast(field_of, sa.String).label("field"),
            value.label("diff"),
            ignored.label("is_ignored"),
            sa.and_(c.c.outcome == "mismatch", sa.not_(ignored)).label("counts_as_mismatch"),
        )
        .select_from(c.join(element, sa.true()))
        .where(*where, is_object, field_of.is_not(None))
        .subquery()
    )
