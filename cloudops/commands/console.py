"""`cloudops console`: serve the flag console on waitress; `hash-password` and `new-token` make its credentials."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["command"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group("console", invoke_without_command=True, context_settings=_CONTEXT)
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 for every interface).")
@click.option(
    "--db",
    "db",
    envvar="CLOUDOPS_DATABASE_URL",
    show_envvar=True,
    help="SQLAlchemy URL of the cloudops database [default: SQLite under .cloudops/].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Console configuration (YAML, JSON or TOML): users, tokens, secret_key, Temporal UI URL, ...",
)
@click.option("--redis", "redis_url", help="Redis URL: push every change to running routers at once.")
@click.option(
    "--cloud",
    "cloud",
    help="The cloud whose accounts the stage editor knows (a sim cloud URL, 'sim', 'aws'); none: accounts come "
    "from recorded operations and properties.",
)
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True, help="HTTP worker threads.")
@click.pass_context
def command(
    ctx: click.Context,
    /,
    port: int,
    host: str,
    db: str | None,
    config_file: str | None,
    redis_url: str | None,
    cloud: str | None,
    threads: int,
) -> None:
    """The flag console: scopes matrix and stage editor, kill switch, explain, audit with restore, rollout
    dashboard, live durable operations and guarded rollouts, plus a JSON API (/api/openapi.json).

    \b
    Settings: defaults, then --config, then CLOUDOPS_* / CONSOLE_* environment variables, then these options.
    Users sign in with passwords hashed by `cloudops console hash-password`; API clients use bearer tokens made
    by `cloudops console new-token`. Put both in the config file:

    \b
      console:
        secret_key: "<long random string>"
        users:
          alice: {role: editor, password_hash: "scrypt:32768:8:1$..."}
        tokens:
          ci: {role: viewer, sha256: "<digest>"}
    """
    if ctx.invoked_subcommand is not None:
        return
    _serve(port=port, host=host, db=db, config_file=config_file, redis_url=redis_url, cloud=cloud, threads=threads)


def _serve(
    *,
    port: int,
    host: str,
    db: str | None,
    config_file: str | None,
    redis_url: str | None,
    cloud: str | None,
    threads: int,
) -> None:
    import logging

    import waitress

    from cloudops.paths import state_dir
    from console import create_app
    from console.errors import ConsoleError
    from console.services import ConsoleServices
    from flags import FlagError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {"STATE_DIR": str(state_dir())}
    if db:
        overrides["DATABASE_URL"] = db
    if config_file:
        overrides["CONFIG_FILE"] = config_file
    if redis_url:
        overrides["REDIS_URL"] = redis_url
    if cloud:
        overrides["CLOUD"] = cloud
    try:
        app = create_app(overrides)
        services = app.extensions["console"]
        assert isinstance(services, ConsoleServices)
        _ensure_schema(services)
    except (ConsoleError, FlagError) as exc:
        raise click.ClickException(exc.message) from exc
    settings = services.settings
    if not settings.users and not settings.tokens:
        raise click.ClickException(
            "nobody could sign in: configure users (password hashes from `cloudops console hash-password`) "
            "and/or API tokens (`cloudops console new-token`) in the file given with --config"
        )
    click.echo(
        f"console on http://{host}:{port} ({len(settings.users)} user(s), {len(settings.tokens)} token(s), "
        f"database {services.store.url})",
        err=True,
    )
    waitress.serve(app, host=host, port=port, threads=threads, ident="cloudops-console", _quiet=True)


def _ensure_schema(services: Any) -> None:
    """The embedded SQLite database gets its schema on first use; any other needs `cloudops db upgrade`."""
    import migrations
    from flags import FlagSchemaNotMigrated

    store = services.store
    if store.engine.dialect.name == "sqlite":
        try:
            migrations.upgrade(store.engine)
        except migrations.MigrationError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    try:
        store.check_schema()
    except FlagSchemaNotMigrated as exc:
        raise click.ClickException(f"{exc.message} (then start the console again)") from exc


@command.command("hash-password")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
def hash_password(password_stdin: bool) -> None:
    """Print a salted scrypt hash of a password, for the `password_hash` of a user in the console's config."""
    import sys

    from console.identity import hash_password as make_hash

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("the password is empty: choose one")
    click.echo(make_hash(password))


@command.command("new-token")
@click.option("--name", required=True, help="Who or what uses the token (recorded as token:<name> on changes).")
@click.option(
    "--role", type=click.Choice(["viewer", "editor"]), default="viewer", show_default=True, help="What it may do."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def new_token(name: str, role: str, as_json: bool) -> None:
    """Make a random API token: the token is printed once (give it to the client); the config keeps its SHA-256."""
    from console.identity import hash_token, new_token as make_token

    token = make_token()
    digest = hash_token(token)
    if as_json:
        click.echo(json.dumps({"name": name, "role": role, "token": token, "sha256": digest}, indent=2))
        return
    click.echo(f"token (shown once; send it as 'Authorization: Bearer <token>'):\n  {token}\n")
    click.echo(f"add to the console's config file:\n  tokens:\n    {name}: {{role: {role}, sha256: {digest}}}")
