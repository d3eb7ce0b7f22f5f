"""The read model's latency sample, bounded per (scope, path), read without ranking every row of the window.

The sample is what it always was: every duration of a (scope, path) with at most `bound` operations in the
window, else the `bound` rows first in the order of a multiplicative hash of the row id (then the id), a
deterministic pseudo-random choice independent of the durations. What changed is how it is read, knowing each
(scope, path)'s operations from the counts (router/rollups.py):

- where the count is at most `bound`, the durations are read plainly (no window function, no sort);
- above it, only rows whose hash falls under a threshold are ranked: one chosen so that some 1.2 x `bound` + 50
  rows of the busiest such (scope, path) are expected to pass, so the ranking sorts a few thousand rows instead
  of the window. A (scope, path) that got fewer than `bound` rows through the threshold (improbable: about nine
  standard deviations) is ranked again in full, so the sample stays exactly the same as a full ranking's.

`keys` restricts the read to some (scope, path)s (the dashboard's busiest scopes). On SQLite, which keeps no
statistics, a window holding a large share of the table is scanned rather than walked through the time index.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.tables import operation_outcomes, outcome_rollups

__all__ = ["HASH", "Key", "read_sample", "sample_where"]

HASH = 2654435761  # Knuth's multiplicative hash: a stable, well-spread order of row ids for the sample
_SPACE = 4294967296
_SEPARATOR = "\x1f"  # ASCII's unit separator: in no dimension's value
_MAX_LISTED = 2_000  # (scope, path)s whose values are listed in SQL; past that the rows are filtered here

Key = tuple[Any, ...]
"""A (scope, path): the values of the read's group_by dimensions, then the path, as the table holds them."""


def _spread() -> sa.ColumnElement[Any]:
    t = operation_outcomes
    return (t.c.id * sa.literal(HASH, sa.BigInteger)) % sa.literal(_SPACE, sa.BigInteger)


def _columns(dims: Sequence[str]) -> list[sa.Column[Any]]:
    t = operation_outcomes
    return [*(t.c[d] for d in dims), t.c.path]


def _among(dims: Sequence[str], keys: Collection[Key]) -> list[sa.ColumnElement[bool]]:
    """Rows whose first dimension takes one of the values among `keys` (a superset of the keys' rows, which the
    caller narrows): one IN list, which SQLite matches with an index led by that column (the scope index, for
    the application). A list of row values made it test each of a million rows against every key (6 s for the
    dashboard's 100 scopes); a list per dimension made it pick the operation's index (every row has one)."""
    if len(keys) > _MAX_LISTED:
        return []
    first = _columns(dims)[0]
    return [first.in_(sorted({k[0] for k in keys}))]


def _threshold(bound: int, counts: Sequence[int]) -> int:
    """The hash threshold under which about 1.2 x bound + 50 rows of the least busy of `counts` fall."""
    share = min(1.0, (1.2 * bound + 50) / min(counts))
    return min(_SPACE, math.ceil(_SPACE * share))


def read_sample(
    conn: sa.Connection,
    where: Sequence[sa.ColumnElement[bool]],
    dims: Sequence[str],
    counts: Mapping[Key, int],
    bound: int,
    keys: Collection[Key] | None = None,
) -> dict[Key, list[float]]:
    """Durations per (scope, path) of `counts` (all of them, or those of `keys`) among the rows `where` selects."""
    wanted = set(counts) if keys is None else {k for k in keys if k in counts}
    plain = {k for k in wanted if counts[k] <= bound}
    big = wanted - plain
    found: dict[Key, list[float]] = {k: [] for k in wanted}
    if plain:
        # Every (scope, path) of the window, or those of `keys`; some busy ones left out are filtered here.
        among = _among(dims, plain) if keys is not None else []
        _read_plain(conn, [*where, *among], dims, plain, found)
    if big:
        _read_ranked(conn, where, dims, big, bound, found, _threshold(bound, [counts[k] for k in big]))
        short = {k for k in big if len(found[k]) < bound}
        if short:
            for k in short:
                found[k] = []
            _read_ranked(conn, where, dims, short, bound, found, None)
    return found


def _read_plain(
    conn: sa.Connection,
    where: Sequence[sa.ColumnElement[bool]],
    dims: Sequence[str],
    plain: set[Key],
    found: dict[Key, list[float]],
) -> None:
    """Every duration of `plain`'s rows. The key comes back as one text (its values joined by a separator the
    names never hold), so each of up to a million rows makes two Python objects, not one per dimension."""
    t = operation_outcomes
    columns = _columns(dims)
    label: sa.ColumnElement[str] = columns[0]
    for column in columns[1:]:
        label = label + _SEPARATOR + column
    into = {_SEPARATOR.join(k): found[k] for k in plain}  # the IN lists select a superset, or none was sent
    for text, duration in conn.execute(sa.select(label, t.c.duration_s).where(*where)):
        durations = into.get(text)
        if durations is not None:
            durations.append(duration)


def _read_ranked(
    conn: sa.Connection,
    where: Sequence[sa.ColumnElement[bool]],
    dims: Sequence[str],
    keys: set[Key],
    bound: int,
    found: dict[Key, list[float]],
    threshold: int | None,
) -> None:
    """The `bound` first rows in hash order of each of `keys`, ranking only rows under `threshold` (if any)."""
    t = operation_outcomes
    columns = _columns(dims)
    spread = _spread()
    clauses = list(where)
    clauses += _among(dims, keys)
    if threshold is not None and threshold < _SPACE:
        clauses.append(spread < threshold)
    rank = sa.func.row_number().over(partition_by=columns, order_by=[spread, t.c.id]).label("rank")
    ranked = sa.select(*columns, t.c.duration_s, rank).where(*clauses).subquery()
    names = [ranked.c[c.name] for c in columns]
    query = sa.select(*names, ranked.c.duration_s).where(ranked.c.rank <= bound)
    width = len(columns)
    for row in conn.execute(query):
        key = tuple(row[:width])
        if key in keys:
            found[key].append(float(row[width]))


def sample_where(
    conn: sa.Connection,
    since: datetime,
    until: datetime | None,
    scope: Mapping[str, str],
    path: str | None,
    reading: tuple[Sequence[str], Collection[Key] | None, int],
) -> list[sa.ColumnElement[bool]]:
    """The window's rows for the latency read of `reading` (the dimensions, the keys or None for all, and how
    many rows of the window they have). SQLite keeps no statistics and walks the time index even when the window
    holds most of the rows read (a random read per row): there, when the window holds at least a third of all the
    rows of those keys (the table's id range for all of them, the rollups' counts for some), the time index is
    left out, so SQLite scans or takes the scope index instead."""
    t = operation_outcomes
    time_column: sa.ColumnElement[Any] = t.c.finished_at
    dims, keys, rows = reading
    if conn.dialect.name == "sqlite" and rows and rows * 3 >= _rows_at_all(conn, dims, keys, scope):
        unindexed: sa.ColumnElement[Any] = sa.literal_column(
            f"+{t.name}.{t.c.finished_at.name}"
        )  # SQLite's "no index" prefix
        time_column = sa.type_coerce(unindexed, t.c.finished_at.type)
    where = [time_column >= since]
    if until is not None:
        where.append(time_column <= until)
    where += [t.c[name] == value for name, value in scope.items()]
    if path is not None:
        where.append(t.c.path == path)
    return where


def _rows_at_all(
    conn: sa.Connection, dims: Sequence[str], keys: Collection[Key] | None, scope: Mapping[str, str]
) -> int:
    """The rows of `keys` in the whole table (an upper bound): the id range for all, else the rollups' sum."""
    t = operation_outcomes
    if keys is None or len(keys) > _MAX_LISTED:
        # Two statements: SQLite answers a lone min() or max() of the key from the b-tree's end, not both.
        low = conn.execute(sa.select(sa.func.min(t.c.id))).scalar()
        high = conn.execute(sa.select(sa.func.max(t.c.id))).scalar()
        return 0 if low is None or high is None else int(high) - int(low) + 1
    r = outcome_rollups
    columns = [*(r.c[d] for d in dims), r.c.path]
    where: list[sa.ColumnElement[bool]] = [c.in_(sorted({k[i] for k in keys})) for i, c in enumerate(columns)]
    where += [r.c[name] == value for name, value in scope.items()]
    return int(conn.execute(sa.select(sa.func.sum(r.c.operations)).where(*where)).scalar() or 0)
