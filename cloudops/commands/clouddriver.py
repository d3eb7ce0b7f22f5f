"""`cloudops clouddriver`: serve the Clouddriver-compatible legacy service on waitress."""

from __future__ import annotations

import click

from cloudops.commands._tracing import start_tracing

__all__ = ["command"]


@click.command("clouddriver", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--port", type=click.IntRange(1, 65535), default=7002, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--cloud",
    default=None,
    help="The cloud: a sim cloud URL (http://127.0.0.1:7010), 'sim', 'aws', ... [default: CLOUDDRIVER_CLOUD, else sim]",
)
@click.option("--redis-url", default=None, help="Keep tasks in Redis (redis://host:port/db); default: in memory.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A JSON or YAML file of settings (TASK_TTL_S, PROVIDER_ATTEMPTS, HEALTH_TIMEOUT_S, ...).",
)
@click.option("--threads", type=click.IntRange(1, 256), default=16, show_default=True, help="HTTP worker threads.")
def command(
    port: int, host: str, cloud: str | None, redis_url: str | None, config_file: str | None, threads: int
) -> None:
    """Run the legacy path: POST /{provider}/ops, GET /task/{id}, as Spinnaker's Clouddriver.

    Settings come from defaults, then --config, then CLOUDDRIVER_* environment variables, then these options.
    Tasks live in this process's memory unless --redis-url is given; either way a task whose process dies stays
    STARTED, as in Clouddriver. SIGTERM waits for running tasks (up to SHUTDOWN_WAIT_S) before exiting.
    """
    import logging
    import signal
    import sys
    from typing import Any

    import waitress

    from clouddriver_wire.errors import ClouddriverError
    from legacy_clouddriver import create_app
    from legacy_clouddriver.service import Clouddriver

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    start_tracing("cloudops-clouddriver")
    overrides: dict[str, Any] = {}
    if cloud:
        overrides["CLOUD"] = cloud
    if redis_url:
        overrides["REDIS_URL"] = redis_url
    if config_file:
        overrides["CONFIG_FILE"] = config_file
    try:
        app = create_app(overrides)
    except ClouddriverError as e:
        raise click.ClickException(e.message) from e
    service = app.extensions["clouddriver"]
    assert isinstance(service, Clouddriver)

    def on_term(signum: int, frame: object) -> None:
        left = service.processor.shutdown(service.settings.shutdown_wait_s)
        sys.exit(1 if left else 0)

    signal.signal(signal.SIGTERM, on_term)
    repo = f"redis {service.settings.redis_url}" if service.settings.redis_url else "memory"
    click.echo(f"clouddriver on http://{host}:{port} (cloud {service.settings.cloud}, tasks in {repo})", err=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="clouddriver", _quiet=True)
