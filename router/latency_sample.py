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
from typing import Any

import sqlalchemy as sa

from router.tables import operation_outcomes

__all__ = ["HASH", "Key", "read_sample"]

HASH = 2654435761  # Knuth's multiplicative hash: a stable, well-spread order of row ids for the sample
_SPACE = 4294967296
_MAX_LISTED = 2_000  # (scope, path)s named in one IN list; past that the rows are filtered here instead

Key = tuple[Any, ...]
"""A (scope, path): the values of the read's group_by dimensions, then the path, as the table holds them."""


def _spread() -> sa.ColumnElement[Any]:
    t = operation_outcomes
    return (t.c.id * sa.literal(HASH, sa.BigInteger)) % sa.literal(_SPACE, sa.BigInteger)


def _columns(dims: Sequence[str]) -> list[sa.Column[Any]]:
    t = operation_outcomes
    return [*(t.c[d] for d in dims), t.c.path]


def _among(dims: Sequence[str], keys: Collection[Key]) -> sa.ColumnElement[bool] | None:
    """Rows of `keys` only (None: too many to list, so the caller filters)."""
    if len(keys) > _MAX_LISTED:
        return None
    columns = _columns(dims)
    if len(columns) == 1:
        return columns[0].in_([k[0] for k in keys])
    return sa.tuple_(*columns).in_(list(keys))


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
        if keys is None and not big:
            among = None  # every (scope, path) of the window
        elif keys is None and len(big) <= _MAX_LISTED:
            among = sa.not_(_among(dims, big))  # type: ignore[arg-type]
        else:
            among = _among(dims, plain)
        _read_plain(conn, [*where] if among is None else [*where, among], dims, plain, found)
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
    t = operation_outcomes
    width = len(dims) + 1
    for row in conn.execute(sa.select(*_columns(dims), t.c.duration_s).where(*where)):
        key = tuple(row[:width])
        if key in plain:  # the IN list may have been too long to send
            found[key].append(float(row[width]))


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
    among = _among(dims, keys)
    if among is not None:
        clauses.append(among)
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
