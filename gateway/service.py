"""The gateway's operations behind its HTTP routes: submit, read a task, list running tasks, resume, and, with
an upstream Clouddriver behind it, the verdict on each submitted list (take it, or pass it on: gateway.admission).

`Gateway` owns the store, the driver and the sources it reads; `build_gateway` wires the real ones from a
RouterConfig (the router's settings) and GatewaySettings (the gateway's own).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from clouddriver_wire.errors import InvalidRequest, TaskNotFound, TaskNotRetryable
from clouddriver_wire.ops import OpsRequest
from gateway.admission import Admission, Reason, admit, listed_operations
from gateway.admission_log import AdmissionLog, GatewayMetrics
from gateway.driver import Driver, DriverSettings
from gateway.model import EXECUTION_ID_HEADER, STAGE_TYPE_HEADER, GatewayTask, OpRecord, OpState, OpView
from gateway.settings import GatewaySettings
from gateway.sources import AccountSource, LegacyTasks, ProgressSource
from gateway.store import GatewayStore
from gateway.submission import MAX_DIMENSION, resolve_operations
from gateway.task_json import compose, durable_view, legacy_view, waiting_view
from gateway.upstream import Upstream
from router.config import RouterConfig
from router.contract import CloudOperationRunner, OperationRequest, Path
from router.metrics import RouterMetrics
from router.ownership import OwnershipStore
from router.policy import Route
from router.retention_values import DEFAULT_INTERVAL_S
from router.tracing import span_context

__all__ = ["Gateway", "build_gateway", "new_owner_id"]

log = logging.getLogger(__name__)

_MAX_REQUEST_ID = 255


def new_owner_id() -> str:
    """`<random uuid>@<hostname>`, one per process, as Clouddriver's `ClouddriverHostname.ID`."""
    return f"{uuid.uuid4()}@{os.environ.get('HOSTNAME') or socket.gethostname()}"


class Gateway:
    """A Clouddriver-compatible front for a RoutingRunner; see the package docstring."""

    def __init__(
        self,
        *,
        store: GatewayStore,
        runner: CloudOperationRunner,
        owners: OwnershipStore,
        legacy: LegacyTasks,
        progress: ProgressSource,
        accounts: AccountSource,
        settings: GatewaySettings | None = None,
        legacy_poll_interval_s: float = 5.0,
        owner_id: str | None = None,
        resources: Sequence[object] = (),
        upstream: Upstream | None = None,
        admissions: AdmissionLog | None = None,
    ) -> None:
        """`resources` are closed by `close()`, in order, after the driver has stopped (a retention loop, then the
        runner, first). With `upstream` (and `admissions`, where its verdicts are kept) the gateway takes only the
        lists the durable path needs and passes everything else to it; `runner` must then be a RoutingRunner (its
        `decide` routes)."""
        settings = settings or GatewaySettings()
        decide = getattr(runner, "decide", None)
        if upstream is not None and (admissions is None or not callable(decide)):
            raise ValueError("a gateway with an upstream needs an admission log and a runner that decides routes")
        self._decide: Callable[[OperationRequest], Route] | None = decide
        self.upstream = upstream
        self._admissions = admissions
        router_metrics = getattr(runner, "metrics", None)
        registry = router_metrics.registry if isinstance(router_metrics, RouterMetrics) else None
        self.metrics = GatewayMetrics.on(registry)
        self.settings = settings
        self.runner = runner
        self.owner_id = owner_id or new_owner_id()
        self.store = store
        self._legacy = legacy
        self._progress = progress
        self._accounts = accounts
        self._resources = tuple(resources)
        self.driver = Driver(
            store=store,
            runner=runner,
            owners=owners,
            legacy=legacy,
            progress=progress,
            owner_id=self.owner_id,
            settings=DriverSettings(
                tick_s=settings.tick_s,
                lease_s=settings.lease_s,
                start_timeout_s=settings.start_timeout_s,
                legacy_poll_interval_s=legacy_poll_interval_s,
                workers=settings.workers,
            ),
        )

    def close(self) -> None:
        self.driver.stop()
        for resource in self._resources:
            close = getattr(resource, "close", None) or getattr(resource, "dispose", None)
            if callable(close):
                close()

    # -- the routes ---------------------------------------------------------------------------------------------

    def admit(self, req: OpsRequest, *, stage_type: str | None = None, execution_id: str | None = None) -> Admission:
        """Take the list, or pass it to the upstream (gateway.admission); the verdict is recorded and counted
        before anything runs. A retried POST keeps the first verdict of its clientRequestId."""
        assert self._admissions is not None and self._decide is not None, "admit() is for a gateway with an upstream"
        crid = req.client_request_id
        listed = listed_operations(req.operations, req.provider) or ()
        earlier = True if self.store.by_request_id(crid) is not None else self._admissions.verdict(crid)
        if earlier is None:
            admission = admit(
                req.operations,
                req.provider,
                accounts=self._accounts.accounts,
                decide=self._decide,
                client_request_id=crid,
                stage_type=stage_type,
                execution_id=execution_id,
            )
            earlier = self._admissions.record(crid, admission)
            if earlier == admission.taken:
                self.metrics.count(admission)
                return admission
        # Submitted before (or at the same moment) under this clientRequestId: that first verdict stands, so a
        # retried POST never starts the list on a second path.
        admission = Admission(Reason.TAKEN_BEFORE if earlier else Reason.PASSED_BEFORE, listed)
        self.metrics.count(admission)
        return admission

    def record_unreadable(self, client_request_id: str) -> None:
        """Record and count a body the gateway could not read (not JSON, too large): the upstream answers it."""
        assert self._admissions is not None
        admission = Admission(Reason.UNREADABLE)
        self._admissions.record(client_request_id, admission)
        self.metrics.count(admission)

    def submit(
        self,
        body: Any,
        provider: str | None,
        client_request_id: str,
        *,
        stage_type: str | None = None,
        execution_id: str | None = None,
    ) -> dict[str, str]:
        """Validate, then create the task (or find the one this clientRequestId made); `{id, resourceUri}`."""
        _check_header("clientRequestId", client_request_id, _MAX_REQUEST_ID)
        _check_header(STAGE_TYPE_HEADER, stage_type, MAX_DIMENSION)
        _check_header(EXECUTION_ID_HEADER, execution_id, _MAX_REQUEST_ID)
        specs = resolve_operations(
            body, provider, self._accounts.accounts(), client_request_id=client_request_id, stage_type=stage_type
        )
        task, created = self.store.create(
            str(uuid.uuid4()),
            client_request_id,
            specs,
            provider=provider,
            execution_id=execution_id,
            owner_id=self.owner_id,
            lease_s=self.settings.lease_s,
        )
        if created:
            self.driver.remember_trace(task.id, span_context())
        if not created and self._retryable(task):
            # Clouddriver: a re-POST of a FAILED_RETRYABLE task's clientRequestId resumes it.
            try:
                return self.resume(task.id)
            except TaskNotRetryable:
                pass  # resumed by someone else in the meantime
        self.driver.wake()
        return _started(task.id)

    def task(self, task_id: str) -> dict[str, Any]:
        task = self.store.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return compose(task, self.views(task), self.owner_id)

    def running(self) -> list[dict[str, Any]]:
        """Every task not ended and not waiting for a resume (Clouddriver's `GET /task`)."""
        found = []
        for task_id in self.store.running_ids():
            task = self.store.get(task_id)
            if task is not None:
                found.append(compose(task, self.views(task), self.owner_id))
        return found

    def resume(self, task_id: str) -> dict[str, str]:
        """Resume the retryable legacy operation in progress through the legacy service; the list then continues."""
        task = self.store.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        op = task.current
        if op is None or op.path is not Path.LEGACY or op.run_id is None:
            raise TaskNotRetryable(task_id)
        self._legacy.resume(op.run_id)  # 404 and 409 as the legacy service answers them
        self.store.mark(task.id, op.spec.position, OpState.RUNNING)
        self.driver.wake()
        return _started(task.id)

    # -- views ----------------------------------------------------------------------------------------------------

    def views(self, task: GatewayTask) -> list[OpView]:
        """What each started operation shows: its recorded final view, or, for the one in progress, a live one."""
        views: list[OpView] = []
        for op in task.ops:
            if op.view is not None:
                views.append(op.view)
                continue
            if op.handle is not None and task.state.active:
                views.append(self._live(op))
            break
        return views

    def _live(self, op: OpRecord) -> OpView:
        assert op.handle is not None and op.run_id is not None
        if op.path is Path.DURABLE:
            progress = self._progress.progress(op.run_id)
            note = "" if progress is not None else f"Workflow {op.run_id} is running (its progress cannot be read now)"
            return durable_view(op.spec, op.handle, progress, note=note)
        read = self._legacy.read(op.run_id)
        if read.task is None:
            return waiting_view(op.spec, op.handle, op.state, f"Waiting for legacy task {op.run_id}: {read.error}")
        return legacy_view(op.spec, op.handle, read.task)

    def _retryable(self, task: GatewayTask) -> bool:
        op = task.current
        if op is None or op.path is not Path.LEGACY or op.run_id is None:
            return False
        return self._live(op).state is OpState.RETRYABLE


def _started(task_id: str) -> dict[str, str]:
    return {"id": task_id, "resourceUri": f"/task/{task_id}"}


def _check_header(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidRequest(
            f"{name} is {len(value)} characters long: at most {limit} are accepted",
            errors=[f"send a shorter {name}"],
        )


def build_gateway(
    config: RouterConfig, settings: GatewaySettings, *, retention_interval_s: float = DEFAULT_INTERVAL_S
) -> Gateway:
    """A Gateway over a RoutingRunner built from `config`, its tables in the same database. Each prunes its own
    tables every `retention_interval_s` (unless its `retention` setting is `off`) until the gateway is closed."""
    from cloud.factory import open_provider
    from durable_runner.client import connect
    from gateway.retention import gateway_retention_loop
    from gateway.sources import CachedAccounts, HttpLegacyTasks, TemporalProgress
    from gateway.upstream_accounts import UpstreamAccounts
    from router.errors import ConfigurationError
    from router.factory import build_routing_runner, database_engine, temporal_settings
    from router.metrics import RouterMetrics
    from router.ownership import SqlOwnership

    upstream: Upstream | None = None
    accounts: AccountSource
    if settings.upstream is not None:
        # The real Clouddriver's accounts, never a second configuration of them (`cloud` is not read).
        upstream = Upstream(
            settings.upstream,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            read_timeout_s=settings.upstream_timeout_s,
        )
        accounts = UpstreamAccounts(upstream.http, settings.accounts_ttl_s)
        if config.legacy_url.rstrip("/") != upstream.base_url:
            # Allowed (a second Clouddriver for the legacy path), but usually a forgotten `router.legacy_url`.
            log.warning(
                "the legacy path submits to %s, the pass-through goes to %s: set router.legacy_url to the upstream "
                "unless that is meant",
                config.legacy_url,
                upstream.base_url,
            )
    else:
        try:
            accounts = CachedAccounts(open_provider(settings.cloud), settings.accounts_ttl_s)
        except ValueError as exc:
            raise ConfigurationError(f"gateway setting 'cloud': {exc}") from exc
    engine = database_engine(config.database_url)  # one pool for the runner's tables and the gateway's
    # Upgrades a SQLite schema; checks any other one is at the newest.
    metrics = RouterMetrics()
    runner = build_routing_runner(config, engine=engine, metrics=metrics, retention_interval_s=retention_interval_s)
    retention = gateway_retention_loop(engine, settings.retention_s, metrics, interval_s=retention_interval_s)
    temporal = temporal_settings(config)
    legacy = HttpLegacyTasks(config.legacy_url, timeout_s=settings.legacy_http_timeout_s)
    progress = TemporalProgress(lambda: connect(temporal), timeout_s=settings.progress_timeout_s)
    return Gateway(
        store=GatewayStore(engine),
        runner=runner,
        owners=SqlOwnership(engine),
        legacy=legacy,
        progress=progress,
        accounts=accounts,
        settings=settings,
        legacy_poll_interval_s=config.legacy_poll_interval_s,
        resources=(
            *([retention] if retention else []),
            runner,
            legacy,
            progress,
            *((upstream,) if upstream else ()),
            engine,
        ),
        upstream=upstream,
        admissions=AdmissionLog(engine) if upstream else None,
    )
