"""The read model of outcomes and comparisons: bounded queries that aggregate in SQL, for every reader.

The console's dashboard, the shadow report and the rollout gates' evidence all read `operation_outcomes` and
`shadow_comparisons` through `OutcomeReadModel`. Each query returns aggregates, never the window's rows:

- `paths`: per scope (the dimensions in `group_by`) and path, the operations by status, error kind and stage,
  the fallbacks, and a latency sample bounded per (scope, path) (`latency_sample`, default 2,000: every duration
  when there are fewer, else a deterministic pseudo-random subset chosen in SQL by a hash of the row id), so a
  busy window never brings more than `scopes x paths x latency_sample` floats into Python.
- `comparison_counts`: comparisons per scope and outcome.
- `differing_fields`: per scope and field path, in how many mismatched comparisons the field differed, how often
  it was ignored, and its newest examples (the diffs are expanded in SQL: SQLite's json_each, PostgreSQL's
  json_array_elements).

`PathStats` is the one value every reader shows for a path. Database errors are raised as they come
(`sqlalchemy.exc.SQLAlchemyError`): each reader turns them into its own error with its own advice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.read_values import FieldCount, PathStats, ScopeKey
from router.tables import operation_outcomes, shadow_comparisons

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
_HASH = 2654435761  # Knuth's multiplicative hash: a stable, well-spread order of row ids for the sample


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
        self, window: ReadWindow, group_by: Sequence[str] = (), *, path: str | None = None
    ) -> dict[ScopeKey, dict[str, PathStats]]:
        """Per scope (values of `group_by`, in order) and path: counts and a bounded latency sample."""
        _check(group_by)
        t = operation_outcomes
        dims = [t.c[d] for d in group_by]
        where = window.where(t, t.c.finished_at)
        if path is not None:
            where.append(t.c.path == path)
        counts = (
            sa.select(
                *dims,
                t.c.path,
                t.c.status,
                t.c.error_kind,
                t.c.stage,
                sa.func.count(),
                sa.func.sum(sa.case((t.c.fallback, 1), else_=0)),
            )
            .where(*where)
            .group_by(*dims, t.c.path, t.c.status, t.c.error_kind, t.c.stage)
        )
        width = len(dims)
        found: dict[ScopeKey, dict[str, _PathAcc]] = {}
        for row in self._rows(counts):
            acc = found.setdefault(_key(row, width), {}).setdefault(str(row[width]), _PathAcc())
            status, kind, stage, n, fallbacks = row[width + 1 :]
            acc.statuses[(str(status), kind)] = acc.statuses.get((str(status), kind), 0) + int(n)
            acc.stages[str(stage)] = acc.stages.get(str(stage), 0) + int(n)
            acc.fallbacks += int(fallbacks or 0)
        for row in self._rows(self._latency_query(dims, where)):
            acc = found[_key(row, width)][str(row[width])]
            acc.latencies.append(float(row[width + 1]))
        return {key: {name: acc.stats(name) for name, acc in sorted(by_path.items())} for key, by_path in found.items()}

    def _latency_query(self, dims: list[sa.Column[Any]], where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
        t = operation_outcomes
        spread = (t.c.id * sa.literal(_HASH, sa.BigInteger)) % sa.literal(4294967296, sa.BigInteger)
        ranked = (
            sa.select(
                *dims,
                t.c.path,
                t.c.duration_s,
                sa.func.row_number().over(partition_by=[*dims, t.c.path], order_by=[spread, t.c.id]).label("rank"),
            )
            .where(*where)
            .subquery()
        )
        names = [ranked.c[d.name] for d in dims]
        return sa.select(*names, ranked.c.path, ranked.c.duration_s).where(ranked.c.rank <= self.latency_sample)

    def comparison_counts(self, window: ReadWindow, group_by: Sequence[str] = ()) -> dict[ScopeKey, dict[str, int]]:
        """Per scope: comparisons by outcome."""
        _check(group_by)
        t = shadow_comparisons
        dims = [t.c[d] for d in group_by]
        query = (
            sa.select(*dims, t.c.outcome, sa.func.count())
            .where(*window.where(t, t.c.compared_at))
            .group_by(*dims, t.c.outcome)
        )
        found: dict[ScopeKey, dict[str, int]] = {}
        for row in self._rows(query):
            outcomes = found.setdefault(_key(row, len(dims)), {})
            outcomes[str(row[len(dims)])] = outcomes.get(str(row[len(dims)]), 0) + int(row[len(dims) + 1])
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
