"""The demo's workload generator and pipeline driver: deterministic pipelines whose contexts the catalogue accepts,
stable operation ids, and stages that run in order, stop at the first failure and pick the right server groups.
(The driver runs against a scripted runner: what is tested is the order and the choice of targets, not a path.)"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from cloud.catalogue import parse_operation
from cloud.model import Capacity, ServerGroup, ServerGroupSpec
from cloudops.demo.pipelines import PipelineDriver, PipelineStatus, StepRecord, older_groups
from cloudops.demo.workload import PIPELINE_STEPS, Step, build_workload, default_clusters, step_request
from router.contract import (
    DEFAULT_OPTIONS,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationStatus,
    Path,
    ResultStatus,
    RunOptions,
)


def test_the_same_seed_gives_the_same_workload_and_another_seed_another() -> None:
    one = build_workload(run_id="r", ops=100, seed=7)
    assert one == build_workload(run_id="r", ops=100, seed=7)
    assert one.pipelines != build_workload(run_id="r", ops=100, seed=8).pipelines


def test_operations_round_up_to_whole_pipelines_spread_evenly_over_the_clusters() -> None:
    clusters = default_clusters(stacks=("main", "batch"))
    workload = build_workload(run_id="r", ops=101, seed=1, clusters=clusters)
    assert len(workload.pipelines) == 26 and workload.operations == 104
    per_cluster = Counter(p.cluster for p in workload.pipelines)
    assert set(per_cluster) == set(clusters) and max(per_cluster.values()) - min(per_cluster.values()) <= 1
    for pipelines in workload.by_cluster().values():
        assert [p.number for p in pipelines] == list(range(1, len(pipelines) + 1))
    assert len(workload.scopes()) == 9  # 3 applications x prod, test, titusprod
    with pytest.raises(ValueError, match="at least one operation"):
        build_workload(run_id="r", ops=0, seed=1)


def test_operation_ids_are_unique_and_stable_per_pipeline_step() -> None:
    workload = build_workload(run_id="demo-x", ops=200, seed=3)
    ids = [p.operation_id(step) for p in workload.pipelines for step in PIPELINE_STEPS]
    assert len(ids) == len(set(ids)) == workload.operations
    first = workload.pipelines[0]
    assert first.operation_id(Step.RESIZE) == f"{first.execution_id}-2-resizeServerGroup"
    request = step_request(first, Step.CREATE, first.create_context())
    assert (request.operation_id, request.execution_id) == (first.operation_id(Step.CREATE), first.execution_id)
    assert request.stage_type == "deploy" and request.operation == "createServerGroup"


@pytest.mark.parametrize("provider", ["aws", "titus"])
def test_every_stage_context_parses_in_the_catalogue(provider: str) -> None:
    workload = build_workload(run_id="r", ops=80, seed=5)
    pipelines = [p for p in workload.pipelines if p.cluster.provider == provider]
    assert pipelines
    for pipeline in pipelines:
        parsed = parse_operation("createServerGroup", pipeline.create_context())
        assert not parsed.errors, parsed.errors
        for step in (Step.RESIZE, Step.DISABLE, Step.DESTROY):
            parsed = parse_operation(step.value, pipeline.group_context(step, f"{pipeline.cluster.name}-v004"))
            assert not parsed.errors, parsed.errors
        resize = pipeline.group_context(Step.RESIZE, "x")["capacity"]
        assert resize["desired"] == pipeline.resize_to > pipeline.desired


def _group(name: str, created_at: float) -> ServerGroup:
    return ServerGroup(name, "prod", "us-east-1", Capacity(1, 3, 1), "ami", False, (), created_at=created_at)


def test_older_groups_are_ordered_by_creation_without_the_new_one() -> None:
    groups = [_group("app-main-v002", 3.0), _group("app-main-v000", 1.0), _group("app-main-v001", 2.0)]
    assert older_groups(groups, "app-main-v002") == ["app-main-v000", "app-main-v001"]


class _ScriptedRunner:
    """Answers each operation from a script (fail these ids) and remembers what it was asked, in order."""

    def __init__(self, fail: set[str]) -> None:
        self.fail = fail
        self.asked: list[OperationRequest] = []

    def run(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        self.asked.append(request)
        if request.operation_id in self.fail:
            return OperationResult(ResultStatus.FAILED, Path.LEGACY, request.operation_id)
        outputs: Mapping[str, Any] = {}
        if request.operation == "createServerGroup":
            outputs = {"serverGroupNameByRegion": {request.context["region"]: "checkout-main-v009"}}
        return OperationResult(ResultStatus.SUCCEEDED, Path.DURABLE, request.operation_id, outputs=outputs)

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        return self.run(request, options)

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        raise NotImplementedError("the driver blocks on run")

    def poll(self, handle: OperationHandle) -> OperationStatus:
        raise NotImplementedError("the driver blocks on run")

    def close(self) -> None:
        pass

    def __enter__(self) -> _ScriptedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Cluster:
    def __init__(self, names: list[str]) -> None:
        self.groups = [_group(n, float(i)) for i, n in enumerate(names)]

    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]:
        return list(self.groups)

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup:
        raise AssertionError("the driver never creates outside the router")


def _titus_pipeline() -> Any:
    workload = build_workload(run_id="r", ops=40, seed=2)
    return next(p for p in workload.pipelines if p.cluster.provider == "titus")


def test_a_pipeline_creates_resizes_then_disables_the_previous_and_destroys_the_oldest() -> None:
    pipeline = _titus_pipeline()
    runner = _ScriptedRunner(fail=set())
    records: list[StepRecord] = []
    cloud = _Cluster(["checkout-main-v007", "checkout-main-v008", "checkout-main-v009"])
    outcome = PipelineDriver(runner, cloud, on_record=records.append, stop=threading.Event()).run_pipeline(pipeline)
    assert outcome.status is PipelineStatus.SUCCEEDED and outcome.steps_run == 4
    assert [r.operation for r in runner.asked] == [s.value for s in PIPELINE_STEPS]
    targets = [r.context.get("serverGroupName") for r in runner.asked]
    assert targets == [None, "checkout-main-v009", "checkout-main-v008", "checkout-main-v007"]
    assert [r.step for r in records] == list(PIPELINE_STEPS) and all(r.path == "durable" for r in records)


def test_a_failed_stage_stops_the_pipeline_and_a_missing_older_group_skips_the_destroy() -> None:
    pipeline = _titus_pipeline()
    failing = _ScriptedRunner(fail={pipeline.operation_id(Step.RESIZE)})
    cloud = _Cluster(["checkout-main-v008", "checkout-main-v009"])
    outcome = PipelineDriver(failing, cloud, on_record=lambda _: None, stop=threading.Event()).run_pipeline(pipeline)
    assert (outcome.status, outcome.failed_step, len(failing.asked)) == (PipelineStatus.FAILED, Step.RESIZE, 2)

    short = _ScriptedRunner(fail=set())
    outcome = PipelineDriver(short, cloud, on_record=lambda _: None, stop=threading.Event()).run_pipeline(pipeline)
    assert outcome.status is PipelineStatus.SUCCEEDED and outcome.steps_run == 3
    assert [r.operation for r in short.asked][-1] == "disableServerGroup"


def test_a_set_stop_event_leaves_the_remaining_pipelines_unstarted() -> None:
    stop = threading.Event()
    stop.set()
    runner = _ScriptedRunner(fail=set())
    pipelines = build_workload(run_id="r", ops=40, seed=2).pipelines[:3]
    outcomes = PipelineDriver(runner, _Cluster([]), on_record=lambda _: None, stop=stop).run_cluster(pipelines)
    assert [o.status for o in outcomes] == [PipelineStatus.STOPPED] * 3 and runner.asked == []
