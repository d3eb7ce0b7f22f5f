"""Configuration in layers: defaults, then an optional file, then CLOUDDRIVER_* environment variables, then the
mapping given to `create_app` (the command line's options come that way).

Keys are upper case, as Flask's. Environment values are JSON-decoded when they parse (`CLOUDDRIVER_TASK_TTL_S=60`
is an int), as `Flask.config.from_prefixed_env` does. The file is JSON or YAML, named by `CONFIG_FILE` in any
earlier layer (usually `CLOUDDRIVER_CONFIG_FILE`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Config

from clouddriver_wire.errors import ClouddriverError

__all__ = ["DEFAULTS", "ConfigError", "Settings", "load_settings"]

DEFAULTS: dict[str, Any] = {
    "CLOUD": "sim",  # a cloud.factory.open_provider spec: "http://127.0.0.1:7010", "sim", "aws", ...
    "REDIS_URL": None,  # None: tasks in memory (Clouddriver's default without Redis)
    "TASK_TTL_S": 12 * 3600,  # Redis task keys, as Clouddriver's TASK_TTL
    "REDIS_RESULT_DELAY_S": 0.0,  # pause between writing COMPLETED and the result objects (widens the race)
    "REDIS_RETRY_DELAY_S": 0.5,
    "PROVIDER_ATTEMPTS": 3,  # the executor's hand-written retries around each provider call
    "PROVIDER_BACKOFF_S": 0.5,  # first pause; doubles per attempt
    "HEALTH_TIMEOUT_S": 1800.0,  # waiting for desired capacity to be healthy after a create or resize
    "HEALTH_POLL_S": 5.0,
    "ACCOUNTS_TTL_S": 30.0,  # how long the cloud's account list is cached
    "MAX_BODY_BYTES": 512 * 1024,
    "MAX_WORKERS": 64,  # Clouddriver's pool is unbounded; this one is merely large
    "SHUTDOWN_WAIT_S": 600.0,  # admin.tasks.shutdown-wait-seconds
    "CONFIG_FILE": None,
}


class ConfigError(ClouddriverError):
    """A configuration value is missing or of the wrong type; the message names the key."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's settings, typed and checked."""

    cloud: str
    redis_url: str | None
    task_ttl_s: int
    redis_result_delay_s: float
    redis_retry_delay_s: float
    provider_attempts: int
    provider_backoff_s: float
    health_timeout_s: float
    health_poll_s: float
    accounts_ttl_s: float
    max_body_bytes: int
    max_workers: int
    shutdown_wait_s: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        def number(key: str, kind: type[int] | type[float], minimum: float = 0) -> Any:
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
                raise ConfigError(f"CLOUDDRIVER_{key} must be a number >= {minimum}, got {value!r}")
            return kind(value)

        redis_url = config.get("REDIS_URL") or None
        if redis_url is not None and not str(redis_url).startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"CLOUDDRIVER_REDIS_URL must be a redis:// URL, got {redis_url!r}")
        return cls(
            cloud=str(config.get("CLOUD") or "sim"),
            redis_url=str(redis_url) if redis_url else None,
            task_ttl_s=number("TASK_TTL_S", int, 1),
            redis_result_delay_s=number("REDIS_RESULT_DELAY_S", float),
            redis_retry_delay_s=number("REDIS_RETRY_DELAY_S", float),
            provider_attempts=number("PROVIDER_ATTEMPTS", int, 1),
            provider_backoff_s=number("PROVIDER_BACKOFF_S", float),
            health_timeout_s=number("HEALTH_TIMEOUT_S", float),
            health_poll_s=number("HEALTH_POLL_S", float, 0.001),
            accounts_ttl_s=number("ACCOUNTS_TTL_S", float),
            max_body_bytes=number("MAX_BODY_BYTES", int, 1),
            max_workers=number("MAX_WORKERS", int, 1),
            shutdown_wait_s=number("SHUTDOWN_WAIT_S", float),
        )


def _read_file(path: str) -> Mapping[str, Any]:
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read the configuration file {path}: {e.strerror}") from e
    import yaml

    try:
        data = yaml.safe_load(text) if file.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"the configuration file {path} is not valid: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"the configuration file {path} must hold a mapping of KEY: value")
    return {str(k).upper(): v for k, v in data.items()}


def load_settings(config: Config, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Fill `config` layer by layer and return the checked settings."""
    config.from_mapping(DEFAULTS)
    env = Config(config.root_path)
    env.from_prefixed_env("CLOUDDRIVER")
    file_path = (overrides or {}).get("CONFIG_FILE") or env.get("CONFIG_FILE")
    if file_path:
        config.from_mapping(_read_file(str(file_path)))
    config.from_mapping(env)
    config.from_mapping({k.upper(): v for k, v in (overrides or {}).items()})
    return Settings.from_config(config)
