"""Running the workload's pipelines through a router, as an orchestrator would: one stage after another.

A pipeline stops at its first failed stage, as an Orca pipeline does; the next pipeline of the cluster starts from
what the cloud then holds. Before the disable and destroy stages the driver reads the cluster (Orca reads it from
Clouddriver's cache): the previous server group is the newest one older than the new group, the one to destroy
the oldest one beyond that. Those reads are retried on transient faults; they are not operations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cloud.catalogue import parse_server_group_name
from cloud.errors import TransientCloudError
from cloud.model import Capacity, ServerGroup, ServerGroupSpec
from cloud.plan import idempotency_token
from cloudops.demo.workload import Cluster, Pipeline, Step, step_request
from router.contract import CloudOperationRunner, OperationResult

__all__ = ["ClusterCloud", "PipelineDriver", "PipelineOutcome", "PipelineStatus", "StepRecord", "seed_clusters"]


class ClusterCloud(Protocol):
    """What the driver reads from the cloud, and what seeding writes (`cloud.sim.client.SimCloudClient`)."""

    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]: ...

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup: ...


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One operation as the orchestrator saw it: where it ran, how it ended, how long it took."""

    operation_id: str
    execution_id: str
    cluster: Cluster
    step: Step
    path: str
    stage: str
    succeeded: bool
    error_kind: str | None
    error_code: str
    error: str
    duration_s: float
    finished_at: float

    @property
    def started_at(self) -> float:
        return self.finished_at - self.duration_s

    @classmethod
    def of(cls, pipeline: Pipeline, step: Step, result: OperationResult, duration_s: float) -> StepRecord:
        first = result.errors[0] if result.errors else None
        return cls(
            operation_id=result.operation_id,
            execution_id=pipeline.execution_id,
            cluster=pipeline.cluster,
            step=step,
            path=result.path.value,
            stage=result.decision.stage if result.decision else "",
            succeeded=result.succeeded,
            error_kind=first.kind.value if first else None,
            error_code=first.code if first else "",
            error=first.message if first else "",
            duration_s=duration_s,
            finished_at=time.time(),
        )


class PipelineStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a stage failed: the rest were skipped
    STOPPED = "stopped"  # the demo was interrupted before it finished


@dataclass(frozen=True, slots=True)
class PipelineOutcome:
    pipeline: Pipeline
    status: PipelineStatus
    steps_run: int
    failed_step: Step | None = None


class PipelineDriver:
    """Runs pipelines through `runner`; `on_start` and `on_record` hear of every operation (from several threads)."""

    def __init__(
        self,
        runner: CloudOperationRunner,
        cloud: ClusterCloud,
        *,
        on_record: Callable[[StepRecord], None],
        on_start: Callable[[str], None] = lambda _: None,
        stop: threading.Event,
        read_attempts: int = 8,
    ) -> None:
        self._runner = runner
        self._cloud = cloud
        self._on_record = on_record
        self._on_start = on_start
        self._stop = stop
        self._read_attempts = read_attempts

    def run_cluster(self, pipelines: Sequence[Pipeline]) -> list[PipelineOutcome]:
        """Every pipeline of one cluster, in order, until the stop event is set."""
        outcomes = []
        for pipeline in pipelines:
            if self._stop.is_set():
                outcomes.append(PipelineOutcome(pipeline, PipelineStatus.STOPPED, 0))
                continue
            outcomes.append(self.run_pipeline(pipeline))
        return outcomes

    def run_pipeline(self, pipeline: Pipeline) -> PipelineOutcome:
        created = self._step(pipeline, Step.CREATE, pipeline.create_context())
        if not created.succeeded:
            return PipelineOutcome(pipeline, PipelineStatus.FAILED, 1, Step.CREATE)
        region = pipeline.cluster.region
        new_group = created.outputs.get("serverGroupNameByRegion", {}).get(region)
        if not isinstance(new_group, str):
            return PipelineOutcome(pipeline, PipelineStatus.FAILED, 1, Step.CREATE)
        ran = 1
        for step in (Step.RESIZE, Step.DISABLE, Step.DESTROY):
            if self._stop.is_set():
                return PipelineOutcome(pipeline, PipelineStatus.STOPPED, ran)
            target = new_group if step is Step.RESIZE else self._target(pipeline.cluster, new_group, step)
            if target is None:  # nothing older left to disable or destroy: the stage has nothing to do
                continue
            ran += 1
            if not self._step(pipeline, step, pipeline.group_context(step, target)).succeeded:
                return PipelineOutcome(pipeline, PipelineStatus.FAILED, ran, step)
        return PipelineOutcome(pipeline, PipelineStatus.SUCCEEDED, ran)

    def _step(self, pipeline: Pipeline, step: Step, context: dict[str, object]) -> OperationResult:
        request = step_request(pipeline, step, context)
        self._on_start(request.operation_id)
        started = time.monotonic()
        result = self._runner.run(request)
        self._on_record(StepRecord.of(pipeline, step, result, time.monotonic() - started))
        return result

    def _target(self, cluster: Cluster, new_group: str, step: Step) -> str | None:
        older = older_groups(self._read_cluster(cluster), new_group)
        if step is Step.DISABLE:
            return older[-1] if older else None
        return older[0] if len(older) >= 2 else None

    def _read_cluster(self, cluster: Cluster) -> list[ServerGroup]:
        for attempt in range(self._read_attempts):
            try:
                return self._cloud.list_server_groups(cluster.account, cluster.region, cluster.name)
            except TransientCloudError:
                if attempt == self._read_attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable: read_attempts >= 1")


def older_groups(groups: Sequence[ServerGroup], new_group: str) -> list[str]:
    """The cluster's server groups older than `new_group`, oldest first (by creation, then sequence)."""
    others = [g for g in groups if g.name != new_group]
    others.sort(key=lambda g: (g.created_at, parse_server_group_name(g.name).sequence or 0))
    return [g.name for g in others]


def seed_clusters(cloud: ClusterCloud, clusters: Sequence[Cluster], run_id: str, attempts: int = 10) -> int:
    """Give each cluster its two pre-existing server groups (idempotent tokens: a retry never creates twice)."""
    made = 0
    for cluster in clusters:
        for name in cluster.seed_names():
            image = (
                f"titus/{cluster.application}:1.0.0" if cluster.provider == "titus" else f"{cluster.application}-ami"
            )
            spec = ServerGroupSpec(name=name, capacity=Capacity(min=1, max=3, desired=1), image=image)
            for attempt in range(attempts):
                try:
                    cloud.create_server_group(
                        cluster.account,
                        cluster.region,
                        spec,
                        idempotency_token(f"demo-seed-{run_id}-{cluster.slug}-{name}", 0, "seed"),
                    )
                    made += 1
                    break
                except TransientCloudError:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(0.1 * (attempt + 1))
    return made
