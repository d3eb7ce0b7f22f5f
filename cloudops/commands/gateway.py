"""`cloudops gateway`: serve the Clouddriver-compatible gateway (routing every operation through the router)."""

from __future__ import annotations

import click

from cloudops.commands._input import FiniteFloat
from cloudops.commands._tracing import start_tracing

__all__ = ["command"]


@click.command("gateway", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--port", type=click.IntRange(1, 65535), default=7003, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="YAML, JSON or TOML file: the router's settings under `router:`, the gateway's under `gateway:`.",
)
@click.option(
    "--cloud", default=None, help="The cloud whose accounts validate submissions (a sim cloud URL, 'aws', ...)."
)
@click.option(
    "--upstream",
    default=None,
    metavar="URL",
    help="The real Clouddriver behind the gateway: what it does not route itself passes through to it, and its "
    "GET /credentials gives the accounts (--cloud is then not used).",
)
@click.option(
    "--tick",
    "tick_s",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Seconds between the driver's rounds [default 1].",
)
@click.option(
    "--lease",
    "lease_s",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Seconds a silent gateway keeps its tasks [15].",
)
@click.option("--threads", type=click.IntRange(1, 256), default=16, show_default=True, help="HTTP worker threads.")
def command(
    port: int,
    host: str,
    config_file: str | None,
    cloud: str | None,
    upstream: str | None,
    tick_s: float | None,
    lease_s: float | None,
    threads: int,
) -> None:
    """Serve Clouddriver's HTTP contract in front of the RoutingRunner, so an orchestrator that speaks it (Orca)
    migrates by pointing at this URL: POST /{provider}/ops, POST /ops, GET /task/{id}, GET /task and
    POST /task/{id}:resume, with Clouddriver's shapes, status codes and clientRequestId deduplication.

    \b
    Each operation of a list is routed by the flags on its own dimensions: stage type from the
    X-Spinnaker-Stage-Type header (or the operation's `stageType`; default its name), account from
    `credentials`, application from `application` / `moniker.app` / the server group name, operation, provider.
    Operations run in order, each with the results of those before it in `cloudops.priorResults`.

    \b
    With --upstream URL (the real Clouddriver), Orca's one clouddriver.baseUrl points at the gateway: a list
    goes to the durable path's router only when the catalogue knows every operation of it and the flags
    send one to durable (or shadow it there); every other list, every read, the jobs endpoints and the tasks
    the upstream issued pass through to it unchanged, streamed.

    \b
    Settings: the router's (legacy_url, temporal_*, database_url, ...) from the file's `router:` section and
    CLOUDOPS_* variables; the gateway's (cloud, upstream, tick_s, lease_s, ...) from its `gateway:`
    section, CLOUDOPS_GATEWAY_* variables and these options. Tasks live in the router's database: a restarted
    gateway answers for every task it issued and drives the unfinished ones on. See docs/gateway.md.
    """
    import logging
    import os
    import signal
    import sys

    import waitress

    from gateway import build_gateway, create_app, load_gateway_settings
    from router.config import load_config
    from router.errors import ConfigurationError
    from router.tracing import flush_tracing

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll of a legacy task is noise
    start_tracing("cloudops-gateway")
    try:
        config = load_config(config_file)
        settings = load_gateway_settings(
            config_file, overrides={"cloud": cloud, "upstream": upstream, "tick_s": tick_s, "lease_s": lease_s}
        )
        gateway = build_gateway(config, settings)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc

    def on_term(signum: int, frame: object) -> None:
        gateway.close()  # finishes the driver's round and releases its leases, so another gateway continues at once
        flush_tracing()  # os._exit skips atexit, where the exporter would send its last spans
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip interpreter finalization once the Temporal runtime has run (its native threads can abort it).
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    gateway.driver.start()
    behind = f"upstream {settings.upstream}" if settings.upstream else f"cloud {settings.cloud}"
    click.echo(
        f"gateway on http://{host}:{port} (legacy {config.legacy_url}, Temporal {config.temporal_address}, {behind})",
        err=True,
    )
    waitress.serve(
        create_app(gateway),
        host=host,
        port=port,
        threads=threads,
        ident="cloudops-gateway",
        # A slow reader of a large pass-through answer holds the app thread back at 1 MiB buffered, not
        # waitress's default 16 MiB, so the gateway's memory stays flat whatever the upstream streams.
        outbuf_high_watermark=1024 * 1024,
        _quiet=True,
    )
