"""`cloudops op run | start | poll | route`: one operation through the RoutingRunner, from the command line.

For scripting and for trying a scope by hand. The router is built from the same configuration a service uses
(`--config FILE`, CLOUDOPS_* variables; see router/config.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import click

__all__ = ["command"]


def _load_context(ctx: click.Context, param: click.Parameter, raw: str) -> dict[str, Any]:
    """`--context`'s callback: the stage context it gives, inline or as @FILE; click names the option on error."""
    text = _read_file(raw[1:]) if raw.startswith("@") else raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(value, dict):
        raise click.BadParameter('the stage context must be a JSON object, e.g. \'{"credentials": "prod", ...}\'')
    return value


def _read_file(name: str) -> str:
    """The text of the file that `--context @FILE` names; BadParameter saying what is wrong with it."""
    try:
        return Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.BadParameter(f"no file {name!r}: give JSON, or @ and the path of a JSON file") from None
    except IsADirectoryError:
        raise click.BadParameter(f"{name!r} is a directory: give @ and the path of a JSON file") from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{name!r} is not UTF-8 text: give a JSON file") from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {name!r}: {exc.strerror or exc}") from None


def _request_options(func: Any) -> Any:
    options = [
        click.option("--operation", required=True, help="e.g. createServerGroup, resizeServerGroup."),
        click.option(
            "--context",
            "context",
            required=True,
            callback=_load_context,
            help="The stage context: JSON, or @file.json.",
        ),
        click.option("--account", default=None, help="Default: the context's `credentials`."),
        click.option("--application", default=None, help="Default: the context's `application` or `moniker.app`."),
        click.option("--provider", default=None, help="Default: the context's `cloudProvider`."),
        click.option("--stage-type", default=None, help="Default: the operation name."),
        click.option("--operation-id", default=None, help="Idempotency key; default: a new UUID."),
        click.option("--execution-id", default=None, help="The pipeline execution, if any."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _config_options(func: Any) -> Any:
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    return click.option("--config", "config_path", default=None, help="Router configuration file (YAML/JSON/TOML).")(
        func
    )


def _build_request(**opts: Any) -> Any:
    from router.contract import OperationRequest

    context: dict[str, Any] = opts["context"]
    raw_moniker = context.get("moniker")
    moniker: dict[str, Any] = raw_moniker if isinstance(raw_moniker, dict) else {}
    return OperationRequest(
        operation_id=opts["operation_id"] or str(uuid.uuid4()),
        operation=opts["operation"],
        stage_type=opts["stage_type"] or opts["operation"],
        account=opts["account"] or str(context.get("credentials") or context.get("account") or ""),
        application=opts["application"] or str(context.get("application") or moniker.get("app") or ""),
        provider=opts["provider"] or str(context.get("cloudProvider") or ""),
        context=context,
        execution_id=opts["execution_id"],
    )


def _router(config_path: str | None) -> Any:
    from router.config import load_config
    from router.errors import ConfigurationError
    from router.factory import build_routing_runner

    try:
        config = load_config(config_path)
    except ConfigurationError as exc:
        named = config_path is not None and config_path in exc.message  # else an environment variable's fault
        raise click.ClickException(f"--config: {exc.message}" if named else exc.message) from None
    try:
        return build_routing_runner(config)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    click.echo(f"{result.status.value} on the {result.path.value} path (operation {result.operation_id})")
    if result.decision:
        click.echo(f"  decision: stage {result.decision.stage}: {result.decision.reason}")
    for key, value in result.outputs.items():
        click.echo(f"  {key}: {json.dumps(value)}")
    for error in result.errors:
        where = f" at {error.field}" if error.field else ""
        click.echo(f"  {error.kind.value} error{where}: {error.message}")


@click.group()
def command() -> None:
    """Run one operation through the router: the path its scope's flags choose, with shadows and records."""


@command.command("run")
@_request_options
@_config_options
def run(config_path: str | None, as_json: bool, **opts: Any) -> None:
    """Run an operation and wait for its result (exit status 1 when it failed)."""
    request = _build_request(**opts)
    with _router(config_path) as router:
        result = router.run(request)
    _print_result(result, as_json)
    if not result.succeeded:
        raise SystemExit(1)


@command.command("start")
@_request_options
@_config_options
def start(config_path: str | None, as_json: bool, **opts: Any) -> None:
    """Start an operation and print its handle (poll it with `cloudops op poll HANDLE`)."""
    from router.errors import RunnerUnavailable

    request = _build_request(**opts)
    with _router(config_path) as router:
        try:
            handle = router.start(request)
        except RunnerUnavailable as exc:
            raise click.ClickException(f"the {exc.path} path could not take the operation: {exc.message}") from None
    text = str(handle)
    click.echo(json.dumps({"handle": text, "operationId": request.operation_id}) if as_json else text)


@command.command("poll")
@click.argument("handle")
@_config_options
def poll(handle: str, config_path: str | None, as_json: bool) -> None:
    """Poll a started operation once; exit status 2 while it is still running."""
    from router.contract import OperationHandle
    from router.errors import UnknownHandle

    with _router(config_path) as router:
        try:
            status = router.poll(OperationHandle.parse(handle))
        except UnknownHandle as exc:
            raise click.ClickException(exc.message) from None
    if status.result is not None:
        _print_result(status.result, as_json)
        raise SystemExit(0 if status.result.succeeded else 1)
    if as_json:
        click.echo(json.dumps({"handle": handle, "state": status.state.value, "step": status.step}))
    else:
        click.echo(f"{status.state.value}: {status.step or 'no step reported yet'}")
    raise SystemExit(2)


@command.command("route")
@_request_options
@_config_options
def route(config_path: str | None, as_json: bool, **opts: Any) -> None:
    """Show where the router would send an operation now, and why, without running it."""
    request = _build_request(**opts)
    with _router(config_path) as router:
        chosen = router.decide(request)
    shadow = chosen.shadow.value if chosen.shadow else None
    if as_json:
        click.echo(json.dumps({"path": chosen.primary.value, "shadow": shadow, "decision": chosen.decision.to_json()}))
        return
    click.echo(f"{chosen.primary.value} (shadow: {shadow or 'none'}): {chosen.decision.reason}")
