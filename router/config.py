"""RoutingRunner configuration: defaults, then a file (YAML, JSON or TOML), then CLOUDOPS_* environment variables.

Every setting has the same name in all three layers: `legacy_url` in a file is CLOUDOPS_LEGACY_URL in the
environment. A value of the wrong type, or an unknown setting, is a ConfigurationError that names the setting,
the layer it came from and what it accepts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from router.errors import ConfigurationError
from router.policy import DEFAULT_SHADOW_SAMPLE_PERCENT
from router.retention_values import DEFAULT_RETENTION, parse_retention
from router.routing_values import FallbackPolicy, FlagBackend

__all__ = ["ENV_PREFIX", "RouterConfig", "load_config", "read_document"]

ENV_PREFIX = "CLOUDOPS_"


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """Everything a RoutingRunner needs to reach both paths and its stores."""

    legacy_url: str = "http://127.0.0.1:7002"
    legacy_poll_interval_s: float = 5.0
    legacy_timeout_s: float = 3600.0
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "cloudops-operations"
    temporal_api_key: str | None = None
    temporal_tls: bool | None = None  # None: on when an API key or a certificate is given
    temporal_tls_cert_path: str | None = None
    temporal_tls_key_path: str | None = None
    temporal_tls_ca_path: str | None = None
    retry_window_seconds: int = 7200
    # How soon an activity attempt whose worker died is retried elsewhere (a mutation's health wait heartbeats).
    durable_heartbeat_timeout_seconds: int = 30
    database_url: str = "sqlite:///.cloudops/cloudops.db"
    redis_url: str | None = None
    fallback: FallbackPolicy = FallbackPolicy.LEGACY
    shadow_max_concurrency: int = 8
    shadow_timeout_s: float = 120.0
    shadow_default_sample_percent: float = DEFAULT_SHADOW_SAMPLE_PERCENT
    flag_poll_interval_s: float = 1.0
    # The reconciler (router/reconciler.py): how often it looks for operations nobody recorded, and how old
    # their claim must be before it polls them (a live starter's own poll usually records them first).
    reconcile_interval_s: float = 60.0
    reconcile_grace_s: float = 300.0
    flag_backend: FlagBackend = FlagBackend.SQL
    # How long finished outcomes, comparisons and owners are kept (`30d`, `12h`, or `off`): router/retention.py.
    retention: str = DEFAULT_RETENTION

    @property
    def retention_s(self) -> float | None:
        """The retention in seconds, None when it is off; ConfigurationError if it is no valid retention."""
        return parse_retention(self.retention, origin="the router's configuration")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if out.get("temporal_api_key"):
            out["temporal_api_key"] = "[redacted]"
        return out


# Numbers that must be above 0 (a zero interval spins, a zero cap or timeout disables silently), and percents.
_POSITIVE = frozenset(
    {
        "legacy_poll_interval_s",
        "legacy_timeout_s",
        "retry_window_seconds",
        "durable_heartbeat_timeout_seconds",
        "shadow_max_concurrency",
        "shadow_timeout_s",
        "flag_poll_interval_s",
        "reconcile_interval_s",
        "reconcile_grace_s",
    }
)
_PERCENT = frozenset({"shadow_default_sample_percent"})


def _in_range(name: str, value: float, origin: str) -> None:
    """ConfigurationError unless `value` is finite and in the range `name` accepts."""
    if not math.isfinite(value):
        raise ConfigurationError(f"setting {name!r} from {origin} is {value}: give a finite number")
    if name in _POSITIVE and value <= 0:
        raise ConfigurationError(f"setting {name!r} from {origin} is {value}: give a number above 0")
    if name in _PERCENT and not 0 <= value <= 100:
        raise ConfigurationError(f"setting {name!r} from {origin} is {value}: give a percent from 0 to 100")


def _convert(name: str, raw: Any, annotation: str, origin: str) -> Any:
    if name == "retention":  # a duration or `off`: validated here, kept as the user wrote it (`off` normalised)
        return "off" if parse_retention(raw, what=f"setting {name!r}", origin=origin) is None else str(raw).strip()
    value = _parse(name, raw, annotation, origin)
    if isinstance(value, int | float) and not isinstance(value, bool):
        _in_range(name, value, origin)
    return value


_CHOICES: dict[str, type[StrEnum]] = {"FallbackPolicy": FallbackPolicy, "FlagBackend": FlagBackend}


def _parse(name: str, raw: Any, annotation: str, origin: str) -> Any:
    optional = "None" in annotation
    if raw is None or (optional and isinstance(raw, str) and raw == ""):
        if optional:
            return None
        raise ConfigurationError(f"setting {name!r} from {origin} cannot be empty")
    try:
        if annotation.startswith("bool"):
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in {"1", "true", "yes", "on"}:
                return True
            if str(raw).lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true or false")
        if annotation.startswith("int"):
            if isinstance(raw, bool):
                raise ValueError("expected a whole number")
            return int(raw)
        if annotation.startswith("float"):
            return float(raw)
        if annotation in _CHOICES:
            return _CHOICES[annotation](str(raw))
        return str(raw)
    except ValueError as exc:
        accepted = ", ".join(p.value for p in _CHOICES[annotation]) if annotation in _CHOICES else annotation
        raise ConfigurationError(f"setting {name!r} from {origin} is {raw!r}: expected {accepted} ({exc})") from None


def read_document(path: Path) -> Any:
    """The parsed configuration file (YAML, or JSON/TOML by suffix); ConfigurationError saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"the configuration file {path} is not UTF-8 text: save it as UTF-8") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        problem = " ".join(str(exc).split())  # one line: YAML's messages draw the spot over several
        raise ConfigurationError(
            f"the configuration file {path} is not valid {path.suffix or 'YAML'}: {problem}"
        ) from None
    return data


def _read_file(path: Path) -> Mapping[str, Any]:
    data = read_document(path)
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"the configuration file {path} must hold a mapping of settings")
    router_section = data.get("router", data)
    if not isinstance(router_section, Mapping):
        raise ConfigurationError(f"the 'router' section of {path} must be a mapping of settings")
    return router_section


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> RouterConfig:
    """Defaults, overridden by the file at `path` (if any), overridden by CLOUDOPS_* variables in `environ`."""
    environ = os.environ if environ is None else environ
    known = {f.name: str(f.type) for f in fields(RouterConfig)}
    values: dict[str, Any] = {}
    if path is not None:
        for key, raw in _read_file(Path(path)).items():
            if key not in known:
                raise ConfigurationError(
                    f"unknown setting {key!r} in {path}; known settings: {', '.join(sorted(known))}"
                )
            values[key] = _convert(key, raw, known[key], str(path))
    for name, annotation in known.items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = _convert(name, environ[env_name], annotation, f"${env_name}")
    return RouterConfig(**values)
