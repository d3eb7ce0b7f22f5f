"""Exactly once, across processes: the conditional updates on an operation's `operation_owners` row that decide
who records its outcome and who records its comparison, run inside the record writer's transaction.

Whoever sees an operation finish (the starter's poll, another process's poll, the reconciler) hands an outcome
record to its writer; the writer claims the row (`UPDATE ... SET finished_at WHERE finished_at IS NULL`) and
inserts the outcome row in the same transaction, so only one claim wins (rowcount 1), and a crash can lose
neither: before the commit there is no claim and no row (the reconciler finds the operation again), after it
there are both. A batch of records is claimed by one conditional update (`RETURNING` the ids it won) that opens
its transaction, so SQLite takes its write lock at once (waiting its busy timeout) instead of failing on a stale
read snapshot, and PostgreSQL re-checks the condition on each row as committed by whoever held its lock first.

A comparison has two halves that may finish in different processes: the shadow's candidate observation (kept on
the row when the shadow finishes before the control is known in its process) and the control observation (kept
with the outcome when no shadow of this process waits for it). Whoever writes the second half pairs them, under
the same kind of claim on `compared_at`; a comparison made in memory (both halves in one process) takes that
claim too. An operation without a row (its claim failed while the store was down, or its ownership lives in
another store) is recorded as before, unconditionally: nothing is lost, though nothing is deduplicated either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.compare import Observation
from router.redaction import MAX_JSON_BYTES, redact
from router.tables import operation_owners

__all__ = [
    "claim_comparisons",
    "claim_outcomes",
    "claim_pair",
    "keep_candidate",
    "keep_control",
    "observation_json",
]

_HALF_LIMIT = 16 * MAX_JSON_BYTES
_c = operation_owners.c


def observation_json(observation: Observation) -> dict[str, Any]:
    """A half as it is kept: redacted, and when too large, a marker that pairs as a candidate error."""
    kept = redact(observation.to_json())
    size = len(json.dumps(kept, default=str).encode())
    if size <= _HALF_LIMIT:
        return dict(kept)
    too_large = Observation(observation.path, None, exception=f"the observation was too large to keep ({size} bytes)")
    return too_large.to_json()


def _claimed(conn: sa.Connection, operation_ids: Sequence[str], column: sa.Column[Any], now: datetime) -> set[str]:
    """The ids whose claim on `column` this writer won, and those with no row at all (nothing to claim): one
    conditional update of the whole batch (ids sorted, so two writers lock rows in the same order), one read."""
    unique = sorted(set(operation_ids))
    won = set(
        conn.execute(
            operation_owners.update()
            .where(_c.operation_id.in_(unique), column.is_(None))
            .values({column.name: now, "updated_at": now})
            .returning(_c.operation_id)
        ).scalars()
    )
    rest = [i for i in unique if i not in won]
    if rest:
        present = set(conn.execute(sa.select(_c.operation_id).where(_c.operation_id.in_(rest))).scalars())
        won |= set(rest) - present
    return won


def claim_outcomes(conn: sa.Connection, operation_ids: Sequence[str], now: datetime) -> set[str]:
    """The operations whose outcome this writer records: it won the claim on `finished_at`, or there is no row."""
    return _claimed(conn, operation_ids, _c.finished_at, now)


def claim_comparisons(conn: sa.Connection, operation_ids: Sequence[str], now: datetime) -> set[str]:
    """The operations whose in-memory comparison this writer records (a claim on `compared_at`, or no row)."""
    return _claimed(conn, operation_ids, _c.compared_at, now)


def keep_control(conn: sa.Connection, operation_id: str, control: Observation) -> bool:
    """Keep the control's half on the row whose outcome this writer just claimed; False when there is no row."""
    kept = conn.execute(
        operation_owners.update().where(_c.operation_id == operation_id).values(control=observation_json(control))
    )
    return kept.rowcount == 1


def keep_candidate(conn: sa.Connection, operation_id: str, candidate: Observation, now: datetime) -> bool:
    """Keep the shadow's half on the row; False when there is no row or a half is there already."""
    kept = conn.execute(
        operation_owners.update()
        .where(_c.operation_id == operation_id, _c.candidate.is_(None))
        .values(candidate=observation_json(candidate), updated_at=now)
    )
    return kept.rowcount == 1


def claim_pair(conn: sa.Connection, operation_id: str, now: datetime) -> tuple[Any, Observation, Observation] | None:
    """The row and both halves when this writer pairs them (both are there and nobody compared them yet)."""
    won = conn.execute(
        operation_owners.update()
        .where(
            _c.operation_id == operation_id,
            _c.compared_at.is_(None),
            _c.control.is_not(None),
            _c.candidate.is_not(None),
        )
        .values(compared_at=now)
    )
    if won.rowcount != 1:
        return None
    row = conn.execute(sa.select(operation_owners).where(_c.operation_id == operation_id)).one()
    return row, Observation.from_json(row.control), Observation.from_json(row.candidate)
