"""What the long-running commands (worker, clouddriver, gateway) share about tracing: start it from the OTEL_*
variables (`router.tracing.configure_tracing`), a bad value refused with one line, never a traceback.

It is no command: its name starts with `_`. docs/production.md "Tracing" is the user's side.
"""

from __future__ import annotations

import click

__all__ = ["start_tracing"]


def start_tracing(service_name: str) -> None:
    """Export this process's spans over OTLP when the OTEL_* variables ask for it; say so on stderr."""
    from router.errors import ConfigurationError
    from router.tracing import configure_tracing

    try:
        exporting = configure_tracing(service_name)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from exc
    if exporting:
        click.echo(f"tracing: exporting spans over OTLP as {service_name} (OTEL_* variables)", err=True)
