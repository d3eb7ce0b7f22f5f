"""Connection settings for any Temporal cluster or Temporal Cloud, read the way Temporal's own tools read them.

Precedence, lowest first: `localhost:7233` / `default`; the profile of the TOML config file (TEMPORAL_CONFIG_FILE
or `--config-file`, profile `default` or TEMPORAL_PROFILE / `--profile`); the environment variables
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_*
(all through `temporalio.envconfig`); then whatever is set explicitly on `ConnectionSettings`.

Temporal Cloud: address `<ns>.<account>.tmprl.cloud:7233`, namespace `<ns>.<account>`, and an API key (TLS turns
on by itself) or a client certificate and key (mTLS).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from durable_runner.errors import ConnectionConfigError, TemporalUnavailable
from durable_runner.tracing import tracing_interceptors

__all__ = ["DEFAULT_ADDRESS", "ConnectionSettings", "connect"]

DEFAULT_ADDRESS = "localhost:7233"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """How to reach Temporal. Unset fields (None) fall back to the profile and TEMPORAL_* variables.

    `tls`: None = automatic (on with an API key or any certificate), True = TLS with the system roots, False = off.
    `use_environment=False` ignores the config file and the TEMPORAL_* variables (tests, embedded stacks).
    """

    address: str | None = None
    namespace: str | None = None
    api_key: str | None = None
    tls: bool | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_server_name: str | None = None
    profile: str | None = None
    config_file: Path | None = None
    identity: str | None = None
    use_environment: bool = True

    @classmethod
    def local(cls, address: str = DEFAULT_ADDRESS, namespace: str = "default") -> ConnectionSettings:
        """A plain local cluster (the dev server), ignoring the environment."""
        return cls(address=address, namespace=namespace, use_environment=False)

    def with_overrides(self, **changes: Any) -> ConnectionSettings:
        """A copy with the given fields replaced, ignoring None values (handy for command-line options)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Client.connect`; raises ConnectionConfigError naming the bad setting."""
        config: dict[str, Any] = {}
        if self.use_environment:
            try:
                profile = ClientConfigProfile.load(profile=self.profile, config_source=self.config_file)
            except Exception as err:  # the bridge reports a bad file or an unknown profile as a plain error
                where = f"config file {self.config_file}" if self.config_file else "the Temporal config file"
                raise ConnectionConfigError(
                    f"cannot load Temporal profile {self.profile or 'default'!r} from {where}: {err}; "
                    "fix the file, or pass --address/--namespace instead"
                ) from err
            config.update(profile.to_client_connect_config())
        config.setdefault("target_host", DEFAULT_ADDRESS)
        config.setdefault("namespace", "default")
        if self.address:
            config["target_host"] = self.address
        if self.namespace:
            config["namespace"] = self.namespace
        if self.api_key:
            config["api_key"] = self.api_key
        tls = self._tls_config()
        if tls is not None:
            config["tls"] = tls
        if self.identity:
            config["identity"] = self.identity
        return config

    def describe(self) -> str:
        """Address and namespace as they will be used, without secrets."""
        kwargs = self.connect_kwargs()
        tls = kwargs.get("tls")
        secure = " (TLS)" if tls or kwargs.get("api_key") else ""
        return f"{kwargs['target_host']} namespace {kwargs['namespace']}{secure}"

    def _tls_config(self) -> bool | TLSConfig | None:
        if self.tls is False:
            return False
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConnectionConfigError(
                "mTLS needs both a client certificate and its key: pass --tls-cert and --tls-key "
                "(or TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
            )
        if self.tls_cert or self.tls_ca or self.tls_server_name:
            return TLSConfig(
                client_cert=_read(self.tls_cert, "--tls-cert"),
                client_private_key=_read(self.tls_key, "--tls-key"),
                server_root_ca_cert=_read(self.tls_ca, "--tls-ca"),
                domain=self.tls_server_name,
            )
        return True if self.tls else None


def _read(path: Path | None, option: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise ConnectionConfigError(f"cannot read {option} file {path}: {err.strerror}") from err


async def connect(settings: ConnectionSettings, *, runtime: Runtime | None = None) -> Client:
    """A connected client; ConnectionConfigError for bad settings, TemporalUnavailable when nothing answers."""
    kwargs = settings.connect_kwargs()
    target = kwargs.pop("target_host")
    try:
        return await Client.connect(target, runtime=runtime, interceptors=tracing_interceptors(), **kwargs)
    except Exception as err:  # connect reports refusals, DNS and TLS failures alike as RuntimeError
        raise TemporalUnavailable(f"cannot connect to Temporal at {target}: {err}") from err
