"""The console's configuration, in layers: defaults, then a file, then CLOUDOPS_* and CONSOLE_* environment
variables, then the mapping given to `create_app` (the command line's options come that way).

Keys are upper case, as Flask's. The file (YAML, JSON or TOML, named by CONFIG_FILE in any earlier layer, usually
`--config` or CONSOLE_CONFIG_FILE) holds the settings at its top level or under a `console:` section, so one file
can configure the router (`router:`) and the console together. Environment values are JSON-decoded when they
parse (CONSOLE_TEMPORAL_TLS=true is a bool), as `Flask.config.from_prefixed_env` does. The shared settings
(database, Redis, state directory, Temporal) also come from the CLOUDOPS_* variables every cloudops command reads;
CONSOLE_* wins over them.

    console:
      secret_key: "..."                          # required in production; generated under STATE_DIR otherwise
      users:
        alice: {role: editor, password_hash: "scrypt:32768:8:1$..."}   # cloudops console hash-password
      tokens:
        ci: {role: viewer, sha256: "9f86d0..."}                        # cloudops console new-token
      temporal_ui_url: https://temporal.example.com
      cloud: http://127.0.0.1:7010              # its accounts are the names the stage editor knows
"""

from __future__ import annotations

import json
import logging
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.errors import ConfigError
from console.identity import ApiToken, User, parse_tokens, parse_users

__all__ = ["DEFAULTS", "ConsoleSettings", "TemporalSettings", "load_settings"]

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # None: CLOUDOPS_DATABASE_URL, else the SQLite file under STATE_DIR
    "REDIS_URL": None,  # set it to push every change to running routers at once (they poll otherwise)
    "STATE_DIR": None,  # None: CLOUDOPS_STATE_DIR, else ./.cloudops
    "CONFIG_FILE": None,
    "USERS": {},
    "TOKENS": {},
    "TEMPORAL_ADDRESS": "127.0.0.1:7233",
    "TEMPORAL_NAMESPACE": "default",
    "TEMPORAL_API_KEY": None,
    "TEMPORAL_TLS": False,
    "TEMPORAL_UI_URL": "http://127.0.0.1:8233",
    "TEMPORAL_TIMEOUT_S": 3.0,
    "SESSION_COOKIE_SECURE": False,  # always Secure; without it, Secure whenever a request arrives over TLS
    "BEHIND_TLS_PROXY": False,  # trust X-Forwarded-Proto/For from one proxy in front (TLS ends there)
    "SESSION_LIFETIME_S": 8 * 3600,  # absolute: a session ends this long after sign-in
    "SESSION_IDLE_S": 30 * 60,  # a session ends this long after its last request
    "LOGIN_MAX_ATTEMPTS_PER_USER": 5,  # within LOGIN_WINDOW_S; one more locks the user for LOGIN_LOCKOUT_S
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": 20,
    "LOGIN_WINDOW_S": 15 * 60,
    "LOGIN_LOCKOUT_S": 15 * 60,
    "DASHBOARD_WINDOW_HOURS": 24.0,
    "MATRIX_LOOKBACK_HOURS": 7 * 24.0,
    "RECENT_MISMATCHES": 20,
    "MAX_OPERATIONS": 200,
    "CLOUD": None,  # the cloud whose accounts the editor knows: a sim cloud URL, 'sim', 'aws' (cloud.factory)
    "CLOUD_ACCOUNTS_TTL_S": 60.0,
    "TESTING": False,
}

# Settings every cloudops command reads from CLOUDOPS_*: the console takes them too, so one environment serves all.
_SHARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "STATE_DIR",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
)


@dataclass(frozen=True, slots=True)
class TemporalSettings:
    """How the console reaches Temporal (live operations) and links into its web UI."""

    address: str
    namespace: str
    api_key: str | None
    tls: bool
    ui_url: str
    timeout_s: float

    def workflow_url(self, workflow_id: str, run_id: str | None = None) -> str:
        """The web UI page of one execution."""
        from urllib.parse import quote

        namespace, workflow = quote(self.namespace, safe=""), quote(workflow_id, safe="")
        path = f"{self.ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow}"
        return f"{path}/{quote(run_id, safe='')}/history" if run_id else path


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The console's settings, typed and checked."""

    secret_key: str | None
    database_url: str
    redis_url: str | None
    state_dir: Path
    temporal: TemporalSettings
    users: Mapping[str, User] = field(default_factory=dict)
    tokens: tuple[ApiToken, ...] = ()
    session_cookie_secure: bool = False
    behind_tls_proxy: bool = False
    session_lifetime_s: int = 8 * 3600
    session_idle_s: int = 30 * 60
    login_max_attempts_per_user: int = 5
    login_max_attempts_per_address: int = 20
    login_window_s: float = 15 * 60.0
    login_lockout_s: float = 15 * 60.0
    dashboard_window_hours: float = 24.0
    matrix_lookback_hours: float = 7 * 24.0
    recent_mismatches: int = 20
    max_operations: int = 200
    cloud: str | None = None
    cloud_accounts_ttl_s: float = 60.0
    testing: bool = False


def _read_file(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the console configuration file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the console configuration file {path} is not UTF-8 text: save it as UTF-8") from None
    try:
        if file.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif file.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # JSON, TOML and YAML each raise their own error type
        raise ConfigError(
            f"the console configuration file {path} is not valid {file.suffix or 'YAML'}: {' '.join(str(exc).split())}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"the console configuration file {path} must hold a mapping of settings")
    section = data.get("console", {k: v for k, v in data.items() if k != "router"})
    if not isinstance(section, Mapping):
        raise ConfigError(f"the 'console' section of {path} must be a mapping of settings")
    return _upper(section, f"the file {path}")


def _upper(values: Mapping[str, Any], origin: str) -> dict[str, Any]:
    out = {str(k).upper(): v for k, v in values.items()}
    unknown = sorted(set(out) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown console setting {unknown[0].lower()!r} in {origin}; "
            f"known settings: {', '.join(k.lower() for k in DEFAULTS)}"
        )
    return out


def _decode(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {k: _decode(environ[f"CLOUDOPS_{k}"]) for k in _SHARED if f"CLOUDOPS_{k}" in environ}
    for name, raw in environ.items():
        if name.startswith("CONSOLE_"):
            key = name.removeprefix("CONSOLE_")
            if key in DEFAULTS:
                values[key] = _decode(raw)
            else:  # the prefix is generic enough that other tools may use it too: say so, do not refuse
                log.warning("ignoring $%s: not a console setting (known: %s)", name, ", ".join(DEFAULTS))
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> ConsoleSettings:
    """The checked settings from every layer; raises ConfigError naming the bad setting and where it came from."""
    environ = os.environ if environ is None else environ
    given = _upper(overrides or {}, "the configuration given to create_app")
    env = _environment(environ)
    merged = dict(DEFAULTS)
    file_path = given.get("CONFIG_FILE") or env.get("CONFIG_FILE")
    if file_path:
        merged.update(_read_file(str(file_path)))
    merged.update(env)
    merged.update(given)
    return _settings(merged)


def _text(config: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        if optional:
            return None
        raise ConfigError(f"console setting {key.lower()} cannot be empty")
    if not isinstance(value, str):
        raise ConfigError(f"console setting {key.lower()} must be text, got {value!r}")
    return value


def _number(config: Mapping[str, Any], key: str, minimum: float) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        raise ConfigError(f"console setting {key.lower()} must be a finite number >= {minimum:g}, got {value!r}")
    return float(value)


def _flag(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        return value.lower() in {"1", "true", "yes", "on"}
    raise ConfigError(f"console setting {key.lower()} must be true or false, got {value!r}")


def _settings(config: Mapping[str, Any]) -> ConsoleSettings:
    state_dir = Path(_text(config, "STATE_DIR", optional=True) or ".cloudops").resolve()
    database_url = _text(config, "DATABASE_URL", optional=True) or f"sqlite:///{state_dir / 'cloudops.db'}"
    temporal = TemporalSettings(
        address=_text(config, "TEMPORAL_ADDRESS") or "",
        namespace=_text(config, "TEMPORAL_NAMESPACE") or "",
        api_key=_text(config, "TEMPORAL_API_KEY", optional=True),
        tls=_flag(config, "TEMPORAL_TLS"),
        ui_url=_text(config, "TEMPORAL_UI_URL") or "",
        timeout_s=_number(config, "TEMPORAL_TIMEOUT_S", 0.1),
    )
    if not temporal.ui_url.startswith(("http://", "https://")):
        raise ConfigError(f"console setting temporal_ui_url must be an http(s) URL, got {temporal.ui_url!r}")
    return ConsoleSettings(
        secret_key=_text(config, "SECRET_KEY", optional=True),
        database_url=database_url,
        redis_url=_text(config, "REDIS_URL", optional=True),
        state_dir=state_dir,
        temporal=temporal,
        users=parse_users(config.get("USERS")),
        tokens=parse_tokens(config.get("TOKENS")),
        session_cookie_secure=_flag(config, "SESSION_COOKIE_SECURE"),
        behind_tls_proxy=_flag(config, "BEHIND_TLS_PROXY"),
        session_lifetime_s=int(_number(config, "SESSION_LIFETIME_S", 60)),
        session_idle_s=int(_number(config, "SESSION_IDLE_S", 60)),
        login_max_attempts_per_user=int(_number(config, "LOGIN_MAX_ATTEMPTS_PER_USER", 1)),
        login_max_attempts_per_address=int(_number(config, "LOGIN_MAX_ATTEMPTS_PER_ADDRESS", 1)),
        login_window_s=_number(config, "LOGIN_WINDOW_S", 1),
        login_lockout_s=_number(config, "LOGIN_LOCKOUT_S", 1),
        dashboard_window_hours=_number(config, "DASHBOARD_WINDOW_HOURS", 0.01),
        matrix_lookback_hours=_number(config, "MATRIX_LOOKBACK_HOURS", 0.01),
        recent_mismatches=int(_number(config, "RECENT_MISMATCHES", 1)),
        max_operations=int(_number(config, "MAX_OPERATIONS", 1)),
        cloud=_text(config, "CLOUD", optional=True),
        cloud_accounts_ttl_s=_number(config, "CLOUD_ACCOUNTS_TTL_S", 0),
        testing=_flag(config, "TESTING"),
    )
