"""The Alembic schema: upgrade, downgrade and upgrade again on SQLite and PostgreSQL; it matches flags' tables;
the audit trail is append-only in the database itself; `cloudops db` drives it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from infra import Process

import migrations
from cloudops.cli import cli
from flags.sql_schema import metadata as flags_metadata

FLAG_TABLES = {"flag_state", "flag_properties", "flag_switches", "flag_changes"}


def _postgres_url(server: Process) -> str:
    base = server.extra["url"]
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cloudops.db'}"
    return _postgres_url(request.getfixturevalue("postgres_server"))


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _flag_diffs(url: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), flags_metadata)
    finally:
        engine.dispose()
    # Later revisions add other packages' tables; only the flags tables are compared here.
    return [d for d in diffs if _table_of(d) in FLAG_TABLES]


def _table_of(diff: Any) -> str:
    if isinstance(diff, list):  # modify_* diffs come grouped per column
        return _table_of(diff[0])
    kind, target = diff[0], diff[1]
    if kind.endswith("_table"):
        return str(target.name)
    if kind.endswith(("_index", "_constraint", "_fk")):
        return str(target.table.name)
    return str(diff[2])  # add_column / remove_column / modify_*: (kind, schema, table, ...)


def test_upgrade_downgrade_upgrade(url: str) -> None:
    assert migrations.current(url) is None
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.head()
    assert FLAG_TABLES <= _tables(url)
    assert _flag_diffs(url) == []
    migrations.downgrade(url, "base")
    assert migrations.current(url) is None and not FLAG_TABLES & _tables(url)
    migrations.upgrade(url, "0001_flags")
    assert migrations.current(url) == "0001_flags" and _flag_diffs(url) == []
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.head()


def test_the_audit_trail_is_append_only_in_the_database(url: str) -> None:
    from flags import SqlFlagStore

    migrations.upgrade(url)
    store = SqlFlagStore(url)
    try:
        store.set_property("cloudops.migration.stage", "shadow", actor="a", reason="r")
        for statement in ("UPDATE flag_changes SET actor = 'mallory'", "DELETE FROM flag_changes"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
                conn.execute(sa.text(statement))
        assert store.history()[0].actor == "a"
    finally:
        store.close()


def test_migration_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(migrations.MigrationError, match="invalid database URL"):
        migrations.upgrade("not a url")
    with pytest.raises(migrations.MigrationError, match="9999"):
        migrations.upgrade(f"sqlite:///{tmp_path / 'x.db'}", "9999_nope")
    with pytest.raises(migrations.MigrationError, match="cannot migrate"):
        migrations.upgrade(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")


def test_cloudops_db_commands(url: str) -> None:
    runner = CliRunner()
    before = runner.invoke(cli, ["db", "current", "--db", url, "--json"])
    assert before.exit_code == 0 and '"current": null' in before.output
    up = runner.invoke(cli, ["db", "upgrade", "--db", url])
    assert up.exit_code == 0 and migrations.head() in up.output
    down = runner.invoke(cli, ["db", "downgrade", "base", "--db", url])
    assert down.exit_code == 0 and "base" in down.output
    again = runner.invoke(cli, ["db", "upgrade"], env={"CLOUDOPS_DATABASE_URL": url})
    assert again.exit_code == 0 and migrations.current(url) == migrations.head()
    bad = runner.invoke(cli, ["db", "downgrade", "nope", "--db", url])
    assert bad.exit_code == 1 and "nope" in bad.output and "Traceback" not in bad.output
