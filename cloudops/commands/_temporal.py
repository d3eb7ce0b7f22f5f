"""The options every command that talks to a Temporal cluster takes, declared once (worker, replay).

They are read as Temporal's own tools read them: an option, else the TEMPORAL_* environment variables and the
profile of the Temporal config file, else localhost:7233 and namespace `default` (durable_runner/client.py).
The command receives them as one `connection: ConnectionSettings` argument.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["connection_options"]

_F = TypeVar("_F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("--address", default=None, help="Temporal host:port [env TEMPORAL_ADDRESS, else localhost:7233]."),
    click.option("--namespace", default=None, help="Temporal namespace [env TEMPORAL_NAMESPACE, else default]."),
    click.option("--api-key", default=None, help="API key (Temporal Cloud); turns TLS on [env TEMPORAL_API_KEY]."),
    click.option("--tls/--no-tls", default=None, help="Force TLS on or off [default: on with an API key or certs]."),
    click.option("--tls-cert", type=click.Path(path_type=Path), default=None, help="Client certificate (mTLS), PEM."),
    click.option("--tls-key", type=click.Path(path_type=Path), default=None, help="Client private key (mTLS), PEM."),
    click.option("--tls-ca", type=click.Path(path_type=Path), default=None, help="Server root CA certificate, PEM."),
    click.option("--tls-server-name", default=None, help="Server name to verify (SNI override)."),
    click.option("--profile", default=None, help="Profile in the Temporal config file [env TEMPORAL_PROFILE]."),
    click.option(
        "--config-file",
        type=click.Path(path_type=Path),
        default=None,
        help="Temporal TOML config [TEMPORAL_CONFIG_FILE].",
    ),
)
_FIELDS: tuple[str, ...] = ("address", "namespace", "api_key", "tls", "tls_cert", "tls_key", "tls_ca")
_FIELDS += ("tls_server_name", "profile", "config_file")


def connection_options(command: _F) -> _F:
    """Add the connection options to `command`, which then takes `connection: ConnectionSettings` instead."""

    @functools.wraps(command)
    def with_connection(**kwargs: Any) -> Any:
        from durable_runner.client import ConnectionSettings  # imported late: `--help` stays fast

        fields = {name: kwargs.pop(name) for name in _FIELDS}
        return command(connection=ConnectionSettings(**fields), **kwargs)

    decorated: Any = with_connection
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
