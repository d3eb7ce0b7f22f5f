"""Build a RoutingRunner from one RouterConfig: the two paths, the flags, the ownership and record stores.

    runner = build_routing_runner(load_config("router.yaml"))
    result = runner.run(OperationRequest(...))
    runner.close()

The runner owns a reconciler thread (router/reconciler.py) that records operations whose starter died; `close()`
stops it. The SQL schema must exist (`cloudops db upgrade`); a SQLite database is upgraded on the spot, as the embedded
defaults expect, and any other one that is behind raises ConfigurationError saying which command to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from durable_runner.client import ConnectionSettings
from flags import FlagClient
from flags.errors import FlagStoreUnavailable
from flags.sql_engine import make_engine
from router.config import RouterConfig
from router.durable import DurableRunner
from router.errors import ConfigurationError
from router.legacy import LegacyRunner
from router.metrics import RouterMetrics
from router.ownership import SqlOwnership
from router.reconciler import ReconcileSettings
from router.records import BufferedRecorder, SqlRecordStore
from router.retention import router_rules
from router.retention_sql import retention_loop
from router.retention_values import DEFAULT_INTERVAL_S
from router.routing import FlagSource, RoutingRunner
from router.routing_values import FlagBackend
from router.shadow import ShadowExecutor, ShadowSettings

if TYPE_CHECKING:
    from flags.openfeature_source import OpenFeatureFlagSource

__all__ = ["build_routing_runner", "database_engine", "temporal_settings"]


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def database_engine(url: str) -> sa.Engine:
    """The engine for the router's tables, made as the flag store makes its own (one database, one way to open
    it): PostgreSQL URLs on psycopg 3; a SQLite file in WAL mode with a busy timeout, so the flag client, the
    ownership claims and the record writer of one process wait for each other instead of failing "locked"."""
    try:
        return make_engine(url)
    except FlagStoreUnavailable as exc:
        raise ConfigurationError(str(exc)) from exc


def _schema_ready(engine: sa.Engine) -> None:
    import migrations

    try:
        if engine.dialect.name == "sqlite":
            migrations.upgrade(engine)
            return
        if migrations.current(engine) != migrations.head():
            raise ConfigurationError(
                f"the database {engine.url.render_as_string(hide_password=True)} is not at the newest schema: "
                "run `cloudops db upgrade --db URL` first"
            )
    except migrations.MigrationError as exc:
        raise ConfigurationError(str(exc)) from exc


def temporal_settings(config: RouterConfig) -> ConnectionSettings:
    """How to reach Temporal, from the router's settings."""
    from durable_runner.client import ConnectionSettings

    return ConnectionSettings(
        address=config.temporal_address,
        namespace=config.temporal_namespace,
        api_key=config.temporal_api_key,
        tls=config.temporal_tls,
        tls_cert=_path(config.temporal_tls_cert_path),
        tls_key=_path(config.temporal_tls_key_path),
        tls_ca=_path(config.temporal_tls_ca_path),
    )


def flag_source(config: RouterConfig) -> FlagClient | OpenFeatureFlagSource:
    """The router's flags, from the backend `config.flag_backend` names."""
    if config.flag_backend is FlagBackend.OPENFEATURE:
        try:
            from openfeature import api

            from flags.openfeature_source import OpenFeatureFlagSource
        except ImportError as exc:
            raise ConfigurationError(
                "flag_backend is openfeature but the OpenFeature SDK is not installed: "
                "pip install 'cloudops-toolkit[openfeature]'"
            ) from exc
        return OpenFeatureFlagSource(api.get_client("cloudops"))
    return FlagClient.from_url(
        config.database_url, redis_url=config.redis_url, poll_interval=config.flag_poll_interval_s
    )


def build_routing_runner(
    config: RouterConfig,
    *,
    metrics: RouterMetrics | None = None,
    engine: sa.Engine | None = None,
    flags: FlagSource | None = None,
    retention_interval_s: float = DEFAULT_INTERVAL_S,
) -> RoutingRunner:
    """A RoutingRunner wired to the services and stores `config` names; over `engine` when given (its caller
    keeps and disposes it), else over an engine of its own for `config.database_url`; deciding from `flags` when
    given (any FlagSource: an OpenFeatureFlagSource over a provider of the caller's), else from `flag_source`.
    Unless `config.retention` is `off`, it prunes its tables every `retention_interval_s`
    (router/retention_loop.py) until it is closed."""
    if config.durable_heartbeat_timeout_seconds < 1:
        raise ConfigurationError(
            f"durable_heartbeat_timeout_seconds is {config.durable_heartbeat_timeout_seconds}: it must be at least "
            "1 (seconds without a heartbeat before an activity attempt is retried on another worker)"
        )
    retention_s = config.retention_s  # an invalid retention is refused before anything starts
    own_engine = engine is None
    engine = database_engine(config.database_url) if engine is None else engine
    _schema_ready(engine)
    metrics = metrics or RouterMetrics()
    legacy = LegacyRunner(
        config.legacy_url, poll_interval_s=config.legacy_poll_interval_s, timeout_s=config.legacy_timeout_s
    )
    durable = DurableRunner(
        temporal_settings(config),
        task_queue=config.temporal_task_queue,
        retry_window_seconds=config.retry_window_seconds,
        heartbeat_timeout_seconds=config.durable_heartbeat_timeout_seconds,
    )
    own_flags = flag_source(config) if flags is None else None  # an injected source stays its caller's to close
    flags = own_flags or flags
    assert flags is not None
    recorder = BufferedRecorder(SqlRecordStore(engine), metrics)
    retention = retention_loop(engine, retention_s, router_rules(), metrics, interval_s=retention_interval_s)
    shadow_settings = ShadowSettings(max_concurrency=config.shadow_max_concurrency, timeout_s=config.shadow_timeout_s)
    shadows = ShadowExecutor(
        shadow_settings,
        publish=recorder.record_comparison,
        metrics=metrics,
        publish_candidate=recorder.record_candidate,
    )
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags,
        owners=SqlOwnership(engine),
        records=recorder,
        shadows=shadows,
        metrics=metrics,
        fallback=config.fallback,
        default_shadow_sample_percent=config.shadow_default_sample_percent,
        resources=(
            *([retention] if retention else []),
            shadows,
            recorder,
            *([own_flags] if own_flags else []),
            legacy,
            durable,
            *([engine] if own_engine else []),
        ),
    )
    router.start_reconciler(ReconcileSettings(config.reconcile_interval_s, config.reconcile_grace_s))
    return router
