"""The gateway's own settings: defaults, then the `gateway` section of the configuration file, then
CLOUDOPS_GATEWAY_* environment variables, then the command line's options.

The router's settings (legacy URL, Temporal, database, flags) are the RoutingRunner's, read by
`router.config.load_config` from the same file's `router` section; the gateway adds what only it needs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from router.config import read_document
from router.errors import ConfigurationError
from router.retention_values import DEFAULT_RETENTION, parse_retention

__all__ = ["ENV_PREFIX", "GatewaySettings", "load_gateway_settings"]

ENV_PREFIX = "CLOUDOPS_GATEWAY_"


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """`cloud` is the cloud whose accounts validate submissions (a `cloud.factory` spec), unless `upstream` names
    the real Clouddriver behind the gateway: then every request the gateway does not route itself goes there, and
    the accounts are its `GET /credentials`. `retention` is how long a finished task is kept (`30d`, `12h`, or
    `off`: gateway/retention.py); the rest pace the driver and bound what a request may wait for."""

    cloud: str = "http://127.0.0.1:7010"
    upstream: str | None = None
    upstream_connect_timeout_s: float = 5.0
    upstream_timeout_s: float = 60.0
    tick_s: float = 1.0
    lease_s: float = 15.0
    start_timeout_s: float = 300.0
    accounts_ttl_s: float = 30.0
    progress_timeout_s: float = 2.0
    legacy_http_timeout_s: float = 5.0
    max_body_bytes: int = 512 * 1024
    workers: int = 8
    retention: str = DEFAULT_RETENTION

    def __post_init__(self) -> None:
        parse_retention(self.retention, what="gateway setting 'retention'")
        if self.upstream is not None and not self.upstream.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"gateway setting 'upstream' must be the Clouddriver's http:// or https:// URL (got {self.upstream!r})"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in _NOT_NUMBERS and (not math.isfinite(value) or value <= 0):  # nan <= 0 is False: test both
                raise ConfigurationError(
                    f"gateway setting {f.name!r} must be a finite number greater than 0 (got {value!r})"
                )

    @property
    def retention_s(self) -> float | None:
        """The retention in seconds, None when it is off."""
        return parse_retention(self.retention, what="gateway setting 'retention'")


_NOT_NUMBERS = frozenset({"cloud", "upstream", "retention"})


def _convert(name: str, raw: Any, kind: str, origin: str) -> Any:
    if name == "retention":  # a duration or `off` (YAML reads a bare off as false): validated, `off` normalised
        return "off" if parse_retention(raw, what=f"gateway setting {name!r}", origin=origin) is None else raw.strip()
    try:
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError("expected a whole number")
            return int(raw)
        if kind == "float":
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            return float(raw)
        if not isinstance(raw, str) or not raw:
            raise ValueError("expected a non-empty string")
        return raw
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"gateway setting {name!r} from {origin} is {raw!r}: expected {kind} ({exc})"
        ) from None


def _file_section(path: Path) -> Mapping[str, Any]:
    data = read_document(path)
    section = data.get("gateway") if isinstance(data, Mapping) else None
    if section is None:
        return {}
    assert isinstance(data, Mapping)
    if "router" not in data and set(data) - {"gateway"}:
        raise ConfigurationError(
            f"{path} has a 'gateway' section: put the router's settings under a 'router' section beside it"
        )
    if not isinstance(section, Mapping):
        raise ConfigurationError(f"the 'gateway' section of {path} must be a mapping of settings")
    return section


def load_gateway_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> GatewaySettings:
    """Defaults < the file's `gateway` section < CLOUDOPS_GATEWAY_* < `overrides` (None values are ignored)."""
    environ = os.environ if environ is None else environ
    known = {f.name: str(f.type) for f in fields(GatewaySettings)}
    values: dict[str, Any] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if path is not None:
        layers.append((str(path), _file_section(Path(path))))
    env = {name: environ[ENV_PREFIX + name.upper()] for name in known if ENV_PREFIX + name.upper() in environ}
    layers.append(("the environment", env))
    layers.append(("the command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
    for origin, layer in layers:
        for key, raw in layer.items():
            if key not in known:
                raise ConfigurationError(
                    f"unknown gateway setting {key!r} in {origin}; known settings: {', '.join(sorted(known))}"
                )
            values[key] = _convert(key, raw, known[key], origin)
    return GatewaySettings(**values)
