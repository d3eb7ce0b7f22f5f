"""`cloudops db`: create or migrate the SQL schema (Alembic revisions in migrations/)."""

from __future__ import annotations

import json

import click

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
    """Create, upgrade or downgrade the cloudops SQL schema (flags, audit, outcomes, rollouts).

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
