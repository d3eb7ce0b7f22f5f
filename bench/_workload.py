"""The reliability benchmark's workload: seeded deployment pipelines, run cluster by cluster through one path.

A pipeline is what a red/black deploy does to one cluster (`app-main` in one account and region):
1. createServerGroup: the next `app-main-vNNN`;
2. resizeServerGroup of the new group to its serving size;
3. disableServerGroup of the group that was newest before (from the second pipeline on);
4. destroyServerGroup of the oldest group, when the cluster would otherwise keep more than two.
The targets of 3 and 4 come from reading the cluster at the pipeline's start, as Orca reads it before a deploy.
A failed operation stops its pipeline (as it fails a Spinnaker pipeline); the cluster's next pipeline goes on.
Pipelines are generated from the seed alone, so both paths get the same workload.

`run_workload` takes how to execute an operation and how to read a cluster: in process, `record_operation`
through a runner's `run` and `read_cluster`; in the orchestrator-kill scenario, bench/_orchestrator.py's, which
keep their answers in a file so that a restarted orchestrator takes up the same pipelines where the killed one was.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cloud.catalogue import parse_server_group_name
from cloud.errors import TransientCloudError
from cloud.model import ServerGroup
from cloud.provider import CloudReader
from router.contract import ErrorKind, OperationRequest, OperationResult, ResultStatus
from router.errors import RunnerUnavailable

__all__ = [
    "APPLICATIONS",
    "Cluster",
    "OpRecord",
    "Pipeline",
    "operation_prefix",
    "read_cluster",
    "record_operation",
    "run_workload",
    "workload",
]

APPLICATIONS = ("api", "edge", "billing", "search", "playback", "catalog", "profile", "ratings")
ACCOUNTS = ("prod", "test")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


@dataclass(frozen=True, slots=True)
class Cluster:
    application: str
    account: str
    region: str

    @property
    def name(self) -> str:
        return f"{self.application}-main"


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The seeded parameters of one deploy of one cluster (its `index`-th)."""

    cluster: Cluster
    index: int
    desired: int
    serving: int
    image: str

    @property
    def nominal_operations(self) -> int:
        """How many operations the pipeline runs when nothing fails (the first two deploys destroy nothing)."""
        return 2 + (self.index >= 1) + (self.index >= 2)


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One operation as the workload saw it: its request, what the path answered, how long it took."""

    request: OperationRequest
    status: ResultStatus
    code: str
    kind: str
    message: str
    plan: dict[str, Any] | None
    outputs: dict[str, Any]
    duration_s: float

    @property
    def succeeded(self) -> bool:
        return self.status is ResultStatus.SUCCEEDED

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.to_json(),
            "status": self.status.value,
            "code": self.code,
            "kind": self.kind,
            "message": self.message,
            "plan": self.plan,
            "outputs": self.outputs,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpRecord:
        return cls(
            request=OperationRequest.from_json(data["request"]),
            status=ResultStatus(data["status"]),
            code=str(data["code"]),
            kind=str(data["kind"]),
            message=str(data["message"]),
            plan=data["plan"],
            outputs=dict(data["outputs"]),
            duration_s=float(data["duration_s"]),
        )


def workload(operations: int, seed: int, clusters: int) -> list[list[Pipeline]]:
    """Pipelines per cluster, round robin over `clusters` clusters, until they add up to `operations` or more."""
    rng = random.Random(seed)
    every = [Cluster(a, acc, r) for a in APPLICATIONS for acc in ACCOUNTS for r in REGIONS]
    chosen = every[: max(1, min(clusters, len(every)))]
    plans: list[list[Pipeline]] = [[] for _ in chosen]
    total, turn = 0, 0
    while total < operations:
        i = turn % len(chosen)
        index = len(plans[i])
        desired = rng.choice((1, 2))
        pipeline = Pipeline(chosen[i], index, desired, rng.choice((2, 3)), f"{chosen[i].application}-1.{index}.0-ami")
        plans[i].append(pipeline)
        total += pipeline.nominal_operations
        turn += 1
    return [p for p in plans if p]


def _sequence(group: ServerGroup) -> tuple[float, int]:
    try:
        return group.created_at, parse_server_group_name(group.name).sequence or 0
    except ValueError:
        return group.created_at, -1


def read_cluster(cloud: CloudReader, cluster: Cluster, patience_s: float = 600.0) -> list[str]:
    """The cluster's server groups, oldest first; transient read failures are retried for up to `patience_s`
    (reads are safe, and a pipeline waits out a cloud outage before its deploy as Orca's stage retries do)."""
    deadline = time.monotonic() + patience_s
    attempt = 0
    while True:
        try:
            groups = cloud.list_server_groups(cluster.account, cluster.region, cluster.name)
            return [g.name for g in sorted(groups, key=_sequence)]
        except TransientCloudError:
            if time.monotonic() >= deadline:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
            attempt += 1
    raise RuntimeError(f"could not read cluster {cluster.name} in {cluster.account}/{cluster.region}")


def _request(op_id: str, operation: str, cluster: Cluster, context: dict[str, Any]) -> OperationRequest:
    return OperationRequest(op_id, operation, operation, cluster.account, cluster.application, "aws", context)


def _create(op_id: str, p: Pipeline) -> OperationRequest:
    c = p.cluster
    context: dict[str, Any] = {
        "cloudProvider": "aws",
        "credentials": c.account,
        "application": c.application,
        "stack": "main",
        "freeFormDetails": "",
        "availabilityZones": {c.region: [f"{c.region}a", f"{c.region}b"]},
        "capacity": {"min": 1, "max": 4, "desired": p.desired},
        "amiName": p.image,
        "instanceType": "m5.large",
        "securityGroups": [c.application],
    }
    return _request(op_id, "createServerGroup", c, context)


def _on_group(op_id: str, operation: str, c: Cluster, name: str, **extra: Any) -> OperationRequest:
    context = {"cloudProvider": "aws", "credentials": c.account, "region": c.region, "serverGroupName": name, **extra}
    return _request(op_id, operation, c, context)


def record_operation(request: OperationRequest, run: Callable[[OperationRequest], OperationResult]) -> OpRecord:
    """Run one operation and record what the path answered; a path that refused it fails it, as Orca does."""
    started = time.monotonic()
    try:
        result = run(request)
    except RunnerUnavailable as exc:  # the path did not take it: Orca fails the stage after its own retries
        return OpRecord(
            request,
            ResultStatus.FAILED,
            "submit_failed",
            ErrorKind.INFRASTRUCTURE.value,
            exc.message,
            None,
            {},
            time.monotonic() - started,
        )
    except Exception as exc:  # a runner must not raise for an operation's outcome; count it as a failure
        return OpRecord(
            request,
            ResultStatus.FAILED,
            "exception",
            ErrorKind.INFRASTRUCTURE.value,
            f"{type(exc).__name__}: {exc}",
            None,
            {},
            time.monotonic() - started,
        )
    error = result.errors[0] if result.errors else None
    return OpRecord(
        request=request,
        status=result.status,
        code=error.code if error else "",
        kind=error.kind.value if error else "",
        message=error.message if error else "",
        plan=dict(result.plan) if result.plan is not None else None,
        outputs=dict(result.outputs),
        duration_s=time.monotonic() - started,
    )


def _created_name(record: OpRecord, cluster: Cluster) -> str | None:
    """The new group's name from the create's outputs (Clouddriver's DeploymentResult, on both paths)."""
    by_region = record.outputs.get("serverGroupNameByRegion")
    if isinstance(by_region, dict) and by_region.get(cluster.region):
        return str(by_region[cluster.region])
    groups = record.outputs.get("deploy.server.groups")
    names = groups.get(cluster.region) if isinstance(groups, dict) else None
    return str(names[0]) if names else None


@dataclass
class _Progress:
    planned: int
    done: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: OpRecord) -> None:
        with self.lock:
            self.done += 1
            self.failed += not record.succeeded


def _step(index: int, p: Pipeline, op: str, existing: Sequence[str], new: str | None) -> OperationRequest | None:
    """The pipeline's `index`-th operation, or None when it has nothing to do (no older group, no new group)."""
    c = p.cluster
    if index == 0:
        return _create(f"{op}-create", p)
    if index == 1:
        capacity = {"min": 1, "max": 4, "desired": p.serving}
        return _on_group(f"{op}-resize", "resizeServerGroup", c, new, capacity=capacity) if new else None
    if index == 2:
        return _on_group(f"{op}-disable", "disableServerGroup", c, existing[-1]) if existing else None
    return _on_group(f"{op}-destroy", "destroyServerGroup", c, existing[0]) if len(existing) >= 2 else None


def operation_prefix(prefix: str, p: Pipeline) -> str:
    """The id every operation of pipeline `p` starts with (its steps add -create, -resize, ...)."""
    c = p.cluster
    return f"{prefix}-{c.application}-{c.account}-{c.region}-{p.index}"


def _run_cluster(
    pipelines: Sequence[Pipeline],
    execute: Callable[[OperationRequest], OpRecord],
    read: Callable[[str, Pipeline], list[str]],
    prefix: str,
    progress: _Progress,
) -> list[OpRecord]:
    records: list[OpRecord] = []
    for p in pipelines:
        c = p.cluster
        op = operation_prefix(prefix, p)
        existing = read(op, p)
        new: str | None = None
        for index in range(4):
            request = _step(index, p, op, existing, new)
            if request is None:
                continue
            record = execute(request)
            records.append(record)
            progress.add(record)
            if not record.succeeded:
                break
            if index == 0:
                new = _created_name(record, c)
    return records


def run_workload(
    plans: Sequence[Sequence[Pipeline]],
    execute: Callable[[OperationRequest], OpRecord],
    read: Callable[[str, Pipeline], list[str]],
    *,
    prefix: str,
    concurrency: int,
    report: Callable[[str], None],
    report_every_s: float = 15.0,
) -> list[OpRecord]:
    """Run every cluster's pipelines, `concurrency` clusters at a time; return every operation's record.

    `execute` runs one operation (in process: `record_operation` through a runner's `run`); `read(pipeline_prefix,
    pipeline)` reads the cluster at a pipeline's start (in process: `read_cluster`)."""
    progress = _Progress(planned=sum(p.nominal_operations for ps in plans for p in ps))
    stop = threading.Event()

    def reporter() -> None:
        while not stop.wait(report_every_s):
            report(f"{progress.done}/{progress.planned} operations, {progress.failed} failed")

    threading.Thread(target=reporter, daemon=True).start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="pipelines") as pool:
            futures = [pool.submit(_run_cluster, ps, execute, read, prefix, progress) for ps in plans]
            return [record for f in futures for record in f.result()]
    finally:
        stop.set()
