"""`cloudops db`: create or migrate the SQL schema (Alembic revisions in migrations/), and prune old rows
(`prune`: the rules are router/retention.py's and gateway/retention.py's, run by router/retention_sql.py)."""

from __future__ import annotations

import json

import click

from cloudops.commands._input import Duration
from router.retention_values import DEFAULT_BATCH_SIZE

__all__ = ["command"]

_DB_HELP = "SQLAlchemy URL of the database (default: CLOUDOPS_DATABASE_URL, else a SQLite file under .cloudops/)."


def _url(db: str | None) -> str:
    from cloudops.paths import default_database_url

    return db or default_database_url()


def _public(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


@click.group()
def command() -> None:
    """Create, upgrade or downgrade the cloudops SQL schema (flags, audit, outcomes, rollouts); prune old rows.

    Run `cloudops db upgrade` once per database, and again after upgrading cloudops.
    """


@command.command()
@click.option("--db", "db", envvar="CLOUDOPS_DATABASE_URL", help=_DB_HELP)
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
def upgrade(db: str | None, revision: str) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    import migrations

    url = _url(db)
    try:
        migrations.upgrade(url, revision)
        now = migrations.current(url)
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{_public(url)} is at revision {now}")


@command.command()
@click.argument("revision")
@click.option("--db", "db", envvar="CLOUDOPS_DATABASE_URL", help=_DB_HELP)
def downgrade(revision: str, db: str | None) -> None:
    """Take the schema down to REVISION ("base" drops every cloudops table, data included)."""
    import migrations

    url = _url(db)
    try:
        migrations.downgrade(url, revision)
        now = migrations.current(url)
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{_public(url)} is at revision {now or 'base (no tables)'}")


@command.command()
@click.option("--db", "db", envvar="CLOUDOPS_DATABASE_URL", help=_DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def current(db: str | None, as_json: bool) -> None:
    """Show the revision the database is at, and the newest one available."""
    import migrations

    url = _url(db)
    try:
        found, newest = migrations.current(url), migrations.head()
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"database": _public(url), "current": found, "head": newest}))
        return
    state = "up to date" if found == newest else "run `cloudops db upgrade`"
    click.echo(f"{_public(url)}: at {found or 'base (no tables)'}, newest {newest} ({state})")


@command.command()
@click.option(
    "--older-than",
    "older_than_s",
    type=Duration(positive=True),
    required=True,
    help="Delete what finished longer ago than this: a duration (30d, 12h, 90m).",
)
@click.option("--db", "db", envvar="CLOUDOPS_DATABASE_URL", help=_DB_HELP)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per delete statement (each batch is one short transaction).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def prune(older_than_s: float, db: str | None, batch_size: int, dry_run: bool, as_json: bool) -> None:
    """Delete finished rows older than --older-than: outcomes (by finished_at), shadow comparisons (by
    compared_at), the owners of operations whose outcome goes (never the owner of an operation without an outcome:
    it may still be running), and finished gateway tasks with their operations (by their last change).

    Routers and gateways do this on their own once an hour, by their `retention` setting (30d by default);
    this command is for a one-off clean-up, or for a cron job where they run with `retention: off`.
    """
    import migrations
    from gateway.retention import gateway_rules
    from router.errors import ConfigurationError, RetentionUnavailable
    from router.factory import database_engine
    from router.retention import router_rules
    from router.retention_sql import prune as run_prune
    from router.retention_values import RetentionPolicy

    url = _url(db)
    try:
        found, newest = migrations.current(url), migrations.head()
    except migrations.MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if found != newest:
        raise click.ClickException(
            f"{_public(url)} is at {found or 'base (no tables)'}, not at the newest schema {newest}: "
            "run `cloudops db upgrade` first"
        )
    try:
        engine = database_engine(url)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    try:
        policy = RetentionPolicy(older_than_s, batch_size)
        report = run_prune(engine, policy, (*router_rules(), *gateway_rules()), dry_run=dry_run)
    except RetentionUnavailable as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"database": _public(url), "olderThanSeconds": older_than_s, **report.to_json()}))
        return
    done = "would be deleted (dry run)" if dry_run else "deleted"
    click.echo(f"{_public(url)}: rows finished before {report.cutoff.isoformat(timespec='seconds')} {done}:")
    width = max(len(table) for table in report.deleted)
    for table, rows in report.deleted.items():
        click.echo(f"  {table:<{width}}  {rows}")
