"""`cloudops flags`: list, read, write, explain, audit and restore scoped flags; engage kill switches.

Every write names a reason (and optionally a change ticket) and is recorded with who made it and the value before
and after. The database is `--db URL`, else CLOUDOPS_DATABASE_URL, else the embedded SQLite file (whose schema is
created on first use; a PostgreSQL database needs `cloudops db upgrade` first). With `--redis URL` (or
CLOUDOPS_REDIS_URL) every change is pushed to running readers at once; otherwise they pick it up when they poll.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cloudops.commands._input import BadInput, FiniteFloat

if TYPE_CHECKING:
    from flags import FlagStore

__all__ = ["command"]

F = TypeVar("F", bound=Callable[..., Any])
_DIMENSION_OPTIONS = ("application", "account", "operation", "stage_type", "provider")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_STAGE_KEY = "cloudops.migration.stage"


def _scope_options(func: F) -> F:
    for name in reversed(_DIMENSION_OPTIONS):
        flag = "--" + name.replace("_", "-")
        func = click.option(flag, name, metavar="VALUE", help=f"Scope: the {name.replace('_', ' ')}.")(func)
    return func


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def _write_options(func: F) -> F:
    func = click.option("--actor", envvar="CLOUDOPS_ACTOR", help="Who makes the change (default: your user name).")(
        func
    )
    func = click.option("--ticket", help="A change ticket to record with the change.")(func)
    return click.option("--reason", required=True, help="Why (recorded in the audit trail; required).")(func)


def _scope(values: dict[str, Any]) -> dict[str, str]:
    return {name: values[name] for name in _DIMENSION_OPTIONS if values.get(name)}


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@contextmanager
def _errors() -> Iterator[None]:
    from flags import FlagError, InvalidInput, PropertyConflict

    try:
        yield
    except (InvalidInput, PropertyConflict) as exc:
        raise BadInput(exc.message) from exc
    except FlagError as exc:
        raise click.ClickException(exc.message) from exc


def _open_store(ctx: click.Context) -> FlagStore:
    from cloudops.paths import default_database_url
    from flags import FlagSchemaNotMigrated, SqlFlagStore

    url = ctx.obj["db"] or default_database_url()
    notifier = None
    if ctx.obj["redis"]:
        from flags import RedisChangeBus

        notifier = RedisChangeBus(ctx.obj["redis"])
    with _errors():
        store = SqlFlagStore(url, notifier=notifier)
        ctx.call_on_close(store.close)
        try:
            store.check_schema()
        except FlagSchemaNotMigrated:
            if store.engine.dialect.name != "sqlite":
                raise
            import migrations

            migrations.upgrade(store.engine)  # the embedded default needs no setup
    return store


@click.group()
@click.option(
    "--db",
    "db",
    envvar="CLOUDOPS_DATABASE_URL",
    show_envvar=True,
    help="SQLAlchemy URL of the flag database [default: SQLite under .cloudops/].",
)
@click.option(
    "--redis", "redis_url", envvar="CLOUDOPS_REDIS_URL", show_envvar=True, help="Redis URL to push changes to readers."
)
@click.pass_context
def command(ctx: click.Context, /, db: str | None, redis_url: str | None) -> None:
    """Scoped dynamic flags: the migration stage of each application, account, operation, stage type, provider.

    \b
    cloudops flags set cloudops.migration.stage canary --percent 10 --application api --account prod \\
        --reason "ramp api/prod to 10%"
    cloudops flags explain --application api --account prod --operation createServerGroup \\
        --provider aws --stage-type deploy
    cloudops flags kill-switch on --reason "incident 123: everything back to legacy"
    """
    ctx.obj = {"db": db, "redis": redis_url}


@command.command("list")
@click.argument("key", required=False)
@_json_option
@click.pass_context
def list_(ctx: click.Context, /, key: str | None, as_json: bool) -> None:
    """List live properties (of KEY, or all) and engaged kill switches."""
    store = _open_store(ctx)
    with _errors():
        props, switches = store.list_properties(key), [s for s in store.kill_switches() if s.engaged]
    lines = [_line(p) for p in props] or ["no properties"]
    lines += [f"KILL SWITCH  {s.describe()}" for s in switches]
    data = {"properties": [p.to_json() for p in props], "killSwitches": [s.to_json() for s in switches]}
    _emit(as_json, data, "\n".join(lines))


def _line(prop: Any) -> str:
    expiry = f"  expires {prop.expires_at.isoformat()}" if prop.expires_at else ""
    ticket = f" [{prop.ticket}]" if prop.ticket else ""
    return f"{prop.describe()}  {prop.key}{expiry}  ({prop.updated_by}: {prop.reason}{ticket})"


@command.command()
@click.argument("key", required=False)
@click.option("--id", "property_id", help="The property id (instead of KEY and a scope).")
@_scope_options
@_json_option
@click.pass_context
def get(ctx: click.Context, /, key: str | None, property_id: str | None, as_json: bool, **scope: str | None) -> None:
    """Show the property of KEY at exactly the given scope (no scope: the global one), or --id ID."""
    if not key and not property_id:
        raise BadInput("give a KEY (with its scope options) or --id ID")
    store = _open_store(ctx)
    with _errors():
        prop = store.get_property(property_id) if property_id else store.find_property(key or "", _scope(scope))
    if prop is None:
        raise click.ClickException(f"no property of {key} at exactly that scope (see `cloudops flags list {key}`)")
    _emit(as_json, prop.to_json(), _line(prop))


def _parse_value(raw: str, as_string: bool) -> Any:
    if as_string:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _parse_expiry(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    found = _DURATION.match(raw.strip())
    if found:
        try:
            return datetime.now(UTC) + timedelta(**{_UNITS[found[2]]: int(found[1])})
        except OverflowError:
            raise BadInput(f"--expires {raw!r} is too far ahead: give a shorter duration or an ISO time") from None
    from flags.model import parse_time

    try:
        return parse_time(raw)
    except ValueError:
        raise BadInput(
            f"--expires {raw!r}: give an ISO time (2030-01-31T12:00Z) or a duration (90s, 30m, 2h, 7d)"
        ) from None


@command.command("set")
@click.argument("key")
@click.argument("value")
@_scope_options
@click.option(
    "--percent", type=FiniteFloat(0, 100), help="For a canary: the share (0-100) of the scope that goes durable."
)
@click.option("--bucket-by", help="Dimension or attribute a percent buckets by (default operation_id).")
@click.option("--expires", help="When the property stops applying: ISO time or a duration (30m, 2h, 7d).")
@click.option("--id", "property_id", help="Update this property (and move it to the given scope).")
@click.option("--expected-version", type=click.IntRange(min=0), help="Refuse unless the property is at this version.")
@click.option("--string", "as_string", is_flag=True, help="Take VALUE as a string even if it parses as JSON.")
@_write_options
@_json_option
@click.pass_context
def set_(ctx: click.Context, /, key: str, value: str, **options: Any) -> None:
    """Set KEY to VALUE (JSON, or a plain string) at a scope; the scope's existing property is updated."""
    expires = _parse_expiry(options["expires"])
    store = _open_store(ctx)
    with _errors():
        prop = store.set_property(
            key,
            _parse_value(value, options["as_string"]),
            _scope(options),
            actor=_actor(options["actor"]),
            reason=options["reason"],
            ticket=options["ticket"],
            percent=options["percent"],
            bucket_by=options["bucket_by"],
            expires_at=expires,
            property_id=options["property_id"],
            expected_version=options["expected_version"],
        )
    _emit(options["as_json"], prop.to_json(), f"set {_line(prop)}")


@command.command()
@click.argument("key", required=False)
@click.option("--id", "property_id", help="The property id (instead of KEY and a scope).")
@_scope_options
@_write_options
@_json_option
@click.pass_context
def delete(ctx: click.Context, /, key: str | None, property_id: str | None, **options: Any) -> None:
    """Delete the property of KEY at exactly the given scope, or --id ID (restorable from history)."""
    store = _open_store(ctx)
    with _errors():
        if not property_id:
            if not key:
                raise BadInput("give a KEY (with its scope options) or --id ID")
            found = store.find_property(key, _scope(options))
            if found is None:
                raise click.ClickException(f"no property of {key} at exactly that scope")
            property_id = found.id
        change = store.delete_property(
            property_id, actor=_actor(options["actor"]), reason=options["reason"], ticket=options["ticket"]
        )
    _emit(options["as_json"], change.to_json(), f"deleted {property_id} (version {change.property_version})")


@command.command()
@click.argument("key", default=_STAGE_KEY)
@_scope_options
@click.option("--operation-id", help="Bucketing attribute operation_id (for a canary).")
@click.option("--attribute", "attributes", multiple=True, metavar="NAME=VALUE", help="Another bucketing attribute.")
@_json_option
@click.pass_context
def explain(
    ctx: click.Context, /, key: str, operation_id: str | None, attributes: tuple[str, ...], **options: Any
) -> None:
    """Explain the value of KEY (default: the migration stage) for a request: every candidate, and why."""
    from flags import explain as evaluator_explain

    attrs = {"operation_id": operation_id} if operation_id else {}
    for item in attributes:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise BadInput(f"--attribute {item!r}: use NAME=VALUE")
        attrs[name] = val
    store = _open_store(ctx)
    with _errors():
        snapshot = store.load_snapshot()
    found = evaluator_explain(snapshot, key, _scope(options), attrs)
    d = found.decision
    lines = [f"{key} = {json.dumps(d.value)}  ({d.reason_kind.value}: {d.reason})"]
    if d.percent is not None:
        lines.append(f"  canary {d.percent:g}%: bucket {d.bucket}, in rollout: {d.in_rollout}")
    lines += [f"  {c.outcome.value:<10} {c.property.describe()}: {c.detail}" for c in found.candidates]
    _emit(options["as_json"], found.to_json(), "\n".join(lines))


@command.command()
@click.argument("key", required=False)
@click.option("--id", "property_id", help="Only this property's changes.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many changes, newest first."
)
@_json_option
@click.pass_context
def history(ctx: click.Context, /, key: str | None, property_id: str | None, limit: int, as_json: bool) -> None:
    """The audit trail (newest first): who changed what, when, why, before and after."""
    store = _open_store(ctx)
    with _errors():
        changes = store.history(key=key, property_id=property_id, limit=limit)
    lines = [
        f"#{c.change_id} {c.at.isoformat(timespec='seconds')} {c.actor} {c.action.value} "
        f"{c.property_id or c.key or 'global'}{f' v{c.property_version}' if c.property_version else ''}: "
        f"{c.reason}{f' [{c.ticket}]' if c.ticket else ''}  "
        f"{json.dumps((c.before or {}).get('value'))} -> {json.dumps((c.after or {}).get('value'))}"
        for c in changes
    ]
    _emit(as_json, [c.to_json() for c in changes], "\n".join(lines) or "no changes")


@command.command()
@click.argument("property_id")
@click.argument("version", type=click.IntRange(min=1))
@_write_options
@_json_option
@click.pass_context
def restore(ctx: click.Context, /, property_id: str, version: int, **options: Any) -> None:
    """Restore property PROPERTY_ID to its value and scope at VERSION (see `history`)."""
    store = _open_store(ctx)
    with _errors():
        prop = store.restore(
            property_id, version, actor=_actor(options["actor"]), reason=options["reason"], ticket=options["ticket"]
        )
    _emit(options["as_json"], prop.to_json(), f"restored {_line(prop)}")


@command.command("kill-switch")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--key", help="Switch off just this key (its default applies); without it, the global switch.")
@_write_options
@_json_option
@click.pass_context
def kill_switch(ctx: click.Context, /, state: str, key: str | None, **options: Any) -> None:
    """Engage (on) or release (off) the global kill switch (every key to its default: stage legacy) or a key's."""
    store = _open_store(ctx)
    with _errors():
        switch = store.set_kill_switch(
            state == "on", key=key, actor=_actor(options["actor"]), reason=options["reason"], ticket=options["ticket"]
        )
    what = f"off switch of {key}" if key else "global kill switch"
    _emit(options["as_json"], switch.to_json(), f"{what} {'engaged' if switch.engaged else 'released'}")
