"""outcome rollups: counts per hour bucket, kept by triggers in the transaction of every insert and delete

Revision ID: 0011_outcome_rollups
Revises: 0010_gateway_admissions
Create Date: 2026-12-02

`outcome_rollups` counts `operation_outcomes` per (hour, the five dimensions, path, status, error kind, stage),
with the fallbacks among them; `comparison_rollups` counts `shadow_comparisons` per (hour, dimensions, outcome).
The database keeps them: a trigger on each raw table adds a row's cell on insert and takes it away on delete, in
the same transaction, with an upsert that is atomic under concurrent writers (`INSERT .. ON CONFLICT .. DO UPDATE
SET n = n + excluded.n`). Every writer (the record store, a paired comparison, a bulk load, a test, retention's
deletes) so leaves the rollups exactly equal to the rows. SQLite's triggers are per row; PostgreSQL's are per
statement over the transition table, grouped and ordered by cell, so a bulk insert costs one upsert per cell and
concurrent writers lock cells in one order. A NULL error kind is counted under ''. The upgrade backfills both
tables from the rows already there (`_backfill`), adds an index of comparisons by outcome and time (the differing
fields' read) and widens the outcomes' scope index to cover the latency sample's columns. router/rollups.py reads
the rollups; router/tables.py has the tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_outcome_rollups"
down_revision = "0010_gateway_admissions"
branch_labels = None
depends_on = None

_DIMS = ("application", "account", "operation", "stage_type", "provider")
_OUTCOME_CELL = (*_DIMS, "path", "status", "error_kind", "stage")
_COMPARISON_CELL = (*_DIMS, "outcome")
_SCOPE_WINDOW = ["application", "account", "operation", "provider", "finished_at"]
_COVERED = ["path", "stage_type", "duration_s"]
_SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {row}.{column})"
_POSTGRES_HOUR = "(date_trunc('hour', {row}.{column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


def _cells(hour: str, row: str, table: str) -> tuple[list[str], list[str]]:
    """The cell's key columns and their values in `row` (NEW, OLD, a table alias) for one rollup."""
    if table == "outcome_rollups":
        time_column, cell = "finished_at", _OUTCOME_CELL
    else:
        time_column, cell = "compared_at", _COMPARISON_CELL
    values = [hour.format(row=row, column=time_column)]
    values += [f"coalesce({row}.error_kind, '')" if c == "error_kind" else f"{row}.{c}" for c in cell]
    return ["bucket", *cell], values


def _counts(table: str, row: str, sign: str, grouped: bool) -> tuple[list[str], list[str]]:
    """The count columns and the values they change by (a row's, or a group's when `grouped`)."""
    if table == "outcome_rollups":
        fallback = f"CASE WHEN {row}.fallback THEN 1 ELSE 0 END"
        if grouped:
            return ["operations", "fallbacks"], [f"{sign}count(*)", f"{sign}sum({fallback})"]
        return ["operations", "fallbacks"], [f"{sign}1", f"{sign}({fallback})"]
    return ["comparisons"], [f"{sign}count(*)" if grouped else f"{sign}1"]


def _upsert(table: str, keys: list[str], counts: list[str], source: str) -> str:
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return (
        f"INSERT INTO {table} ({', '.join(keys + counts)}) {source} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


_RAW = {"outcome_rollups": "operation_outcomes", "comparison_rollups": "shadow_comparisons"}


def _sqlite_triggers(table: str) -> list[str]:
    raw = _RAW[table]
    keys, new = _cells(_SQLITE_HOUR, "NEW", table)
    counts, added = _counts(table, "NEW", "", grouped=False)
    _, old = _cells(_SQLITE_HOUR, "OLD", table)
    _, taken = _counts(table, "OLD", "", grouped=False)
    # `WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON.
    insert = _upsert(table, keys, counts, f"SELECT {', '.join(new + added)} WHERE true")
    less = ", ".join(f"{c} = {c} - {v}" for c, v in zip(counts, taken, strict=True))
    match = " AND ".join(f"{k} = {v}" for k, v in zip(keys, old, strict=True))
    return [
        f"CREATE TRIGGER {table}_add AFTER INSERT ON {raw} BEGIN {insert}; END",
        f"CREATE TRIGGER {table}_take AFTER DELETE ON {raw} BEGIN UPDATE {table} SET {less} WHERE {match}; END",
    ]


def _postgres_triggers(table: str) -> list[str]:
    raw = _RAW[table]
    keys, cell = _cells(_POSTGRES_HOUR, "r", table)
    counts, added = _counts(table, "r", "", grouped=True)
    grouped = ", ".join(f"{v} AS {k}" for k, v in zip(keys, cell, strict=True))
    order = ", ".join(str(i + 1) for i in range(len(keys)))
    changes = f"SELECT {grouped}, {', '.join(f'{v} AS {c}' for c, v in zip(counts, added, strict=True))}"
    changes += f" FROM {{rows}} r GROUP BY {order} ORDER BY {order}"
    insert = _upsert(table, keys, counts, changes.format(rows="new_rows"))
    less = ", ".join(f"{c} = {table}.{c} - d.{c}" for c in counts)
    match = " AND ".join(f"{table}.{k} = d.{k}" for k in keys)
    take = f"UPDATE {table} SET {less} FROM ({changes.format(rows='old_rows')}) d WHERE {match}"
    return [
        f"""CREATE FUNCTION {table}_add() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {insert}; RETURN NULL; END $$""",
        f"""CREATE FUNCTION {table}_take() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {take}; RETURN NULL; END $$""",
        f"""CREATE TRIGGER {table}_add AFTER INSERT ON {raw} REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_add()""",
        f"""CREATE TRIGGER {table}_take AFTER DELETE ON {raw} REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_take()""",
    ]


def _backfill(table: str, hour: str) -> str:
    """Every existing row of the raw table, counted into its cells (the rollup table is empty before)."""
    keys, cell = _cells(hour, "r", table)
    counts, added = _counts(table, "r", "", grouped=True)
    order = ", ".join(str(i + 1) for i in range(len(keys)))
    return (
        f"INSERT INTO {table} ({', '.join(keys + counts)}) SELECT {', '.join(cell + added)} "
        f"FROM {_RAW[table]} r GROUP BY {order}"
    )


def _dimension_columns() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(200), nullable=False, server_default="") for name in _DIMS]


def upgrade() -> None:
    op.create_table(
        "outcome_rollups",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        *_dimension_columns(),
        sa.Column("path", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=False, server_default=""),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("operations", sa.Integer, nullable=False),
        sa.Column("fallbacks", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("bucket", *_OUTCOME_CELL, name="pk_outcome_rollups"),
    )
    op.create_table(
        "comparison_rollups",
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        *_dimension_columns(),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("comparisons", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("bucket", *_COMPARISON_CELL, name="pk_comparison_rollups"),
    )
    scope = ["application", "account", "operation", "provider", "bucket"]
    op.create_index("ix_outcome_rollups_scope", "outcome_rollups", scope)
    op.create_index("ix_comparison_rollups_scope", "comparison_rollups", scope)
    # The differing fields read only mismatched and ignored comparisons: 1 % of a window, found by outcome.
    op.create_index("ix_comparisons_outcome_window", "shadow_comparisons", ["outcome", "compared_at"])
    # The latency samples read (scope, path, duration) of a scope's rows: the scope index of 0005, widened to
    # cover them, answers that from the index alone (4x less CPU for the dashboard's 100 scopes on SQLite).
    op.drop_index("ix_outcomes_scope_window", table_name="operation_outcomes")
    op.create_index("ix_outcomes_scope_window", "operation_outcomes", _SCOPE_WINDOW + _COVERED)
    dialect = op.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise RuntimeError(f"outcome rollups are kept by triggers written for SQLite and PostgreSQL, not {dialect}")
    hour = _POSTGRES_HOUR if dialect == "postgresql" else _SQLITE_HOUR
    for table in _RAW:
        op.execute(_backfill(table, hour))
        for statement in _postgres_triggers(table) if dialect == "postgresql" else _sqlite_triggers(table):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, raw in _RAW.items():
        for verb in ("add", "take"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{verb}" + (f" ON {raw}" if postgres else ""))
            if postgres:
                op.execute(f"DROP FUNCTION IF EXISTS {table}_{verb}()")
    op.drop_index("ix_outcomes_scope_window", table_name="operation_outcomes")
    op.create_index("ix_outcomes_scope_window", "operation_outcomes", _SCOPE_WINDOW)
    op.drop_index("ix_comparisons_outcome_window", table_name="shadow_comparisons")
    op.drop_index("ix_comparison_rollups_scope", table_name="comparison_rollups")
    op.drop_index("ix_outcome_rollups_scope", table_name="outcome_rollups")
    op.drop_table("comparison_rollups")
    op.drop_table("outcome_rollups")
