"""The Grafana dashboard (dashboards/cloudops.json) queries only metrics the code really exports.

Its PromQL is parsed for metric names, and each name must be in a real scrape: the router's registry as
`cloudops gateway` serves it at /metrics (and any embedding of RoutingRunner serves it), after real routing,
comparisons and fallbacks have filled it; and a worker's Temporal runtime, scraped over HTTP at its Prometheus
bind address after it ran workflows on the dev server against a sim cloud with transient faults (so the failure
metrics exist too). A renamed metric or a typo in a query fails here, not in someone's on-call dashboard.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from prometheus_client import generate_latest
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from cloud.sim import SimCloud
from cloud.sim.faults import FaultConfig
from durable_runner.contract import WorkflowInput, workflow_id_for
from durable_runner.worker import WorkerTuning, build_worker, metrics_runtime
from durable_runner.workflows import UntypedCloudOperationRunner
from processes import free_port
from router.metrics import MAX_FIELD_LABELS, RouterMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "cloudops.json"
_METRIC = re.compile(r"\b((?:cloudops|temporal)_[a-z0-9_]+)\b")
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"), "gauge": ("",)}


def _create_context(app: str) -> dict[str, Any]:
    """A one-region createServerGroup stage context as Orca sends it."""
    return {
        "cloudProvider": "aws",
        "application": app,
        "stack": "main",
        "credentials": "test",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "amiName": f"{app}-1.0-ami",
        "instanceType": "m5.large",
    }


def _dashboard() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(DASHBOARD.read_text()))


def _queries(board: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in board["panels"] if p["type"] != "row" for t in p["targets"]]
    variables = [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs + variables


def _family_names(exposition: str) -> set[str]:
    """Every sample name a Prometheus text exposition can carry, from its `# TYPE` lines and its samples."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            names |= {family + suffix for suffix in _SUFFIXES.get(kind, ("",))}
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def _router_exposition() -> str:
    """The router's registry after the calls that create its label sets, as /metrics serves it."""
    metrics = RouterMetrics()
    metrics.operations.labels("durable", "createServerGroup", "failed", "infrastructure").inc()
    metrics.duration.labels("durable", "createServerGroup").observe(0.2)
    metrics.decisions.labels("canary", "durable", "matched").inc()
    metrics.fallbacks.labels("createServerGroup").inc()
    metrics.comparisons.labels("createServerGroup", "mismatch").inc()
    metrics.count_differing_fields("createServerGroup", [("plan.mutations[0].params.capacity.desired", False)])
    metrics.shadows_skipped.labels("circuit_open").inc()
    metrics.shadow_duration.labels("legacy", "createServerGroup").observe(0.1)
    metrics.records_dropped.labels("outcome").inc()
    metrics.internal_errors.labels("shadow_begin").inc()
    return generate_latest(metrics.registry).decode()


def test_the_dashboard_is_well_formed() -> None:
    board = _dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 36
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        covered = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["description"], f"{panel['title']} says nothing of what it shows"
    titles = " ".join(p["title"].lower() for p in board["panels"])
    for topic in ("share", "failure rate", "shadow outcomes", "differing fields", "p99", "fallbacks", "kill switch"):
        assert topic in titles, f"no panel about {topic}"


def test_the_router_metrics_in_the_dashboard_are_exported() -> None:
    exported = _family_names(_router_exposition())
    wanted = {m for q in _queries(_dashboard()) for m in _METRIC.findall(q) if m.startswith("cloudops_")}
    assert wanted, "the dashboard queries no router metric"
    assert wanted <= exported, f"not exported by the router: {sorted(wanted - exported)}"


@pytest.mark.temporal
async def test_the_worker_metrics_in_the_dashboard_are_exported(temporal_env: object) -> None:
    env = cast(WorkflowEnvironment, temporal_env)
    port = free_port()
    client = await Client.connect(
        env.client.service_client.config.target_host, runtime=metrics_runtime(f"127.0.0.1:{port}")
    )
    sim = SimCloud(health_delay_s=0.05, faults=FaultConfig(rate=0.3, seed=11))
    task_queue = f"tq-{uuid.uuid4().hex}"
    tuning = WorkerTuning(max_concurrent_activities=8, health_poll_seconds=0.05, wait_slice_seconds=5.0)
    async with build_worker(client, sim, task_queue=task_queue, tuning=tuning):
        for app in ("grafa", "grafb", "grafc"):
            inp = WorkflowInput(
                operation="createServerGroup",
                stage_context=_create_context(app),
                operation_id=f"op-{uuid.uuid4().hex[:12]}",
                heartbeat_timeout_seconds=5,
                max_retry_interval_seconds=1,
                retry_window_seconds=60,
            )
            handle = await client.start_workflow(
                UntypedCloudOperationRunner.run,
                inp,
                id=workflow_id_for(inp.operation_id, dry_run=False),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await handle.result()
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    exported = _family_names(scraped)
    wanted = {m for q in _queries(_dashboard()) for m in _METRIC.findall(q) if m.startswith("temporal_")}
    assert wanted, "the dashboard queries no worker metric"
    assert wanted <= exported, f"not exported by the worker: {sorted(wanted - exported)}"


def test_differing_field_labels_stay_bounded() -> None:
    metrics = RouterMetrics()
    metrics.count_differing_fields("resizeServerGroup", [("plan.mutations[3].params.capacity.desired", True)])
    assert (
        metrics.value(
            "cloudops_router_differing_fields_total",
            {"operation": "resizeServerGroup", "field": "plan.mutations[].params.capacity.desired", "ignored": "true"},
        )
        == 1.0
    )
    metrics.count_differing_fields("x", [(f"plan.f{i}", False) for i in range(MAX_FIELD_LABELS + 50)])
    fields = {
        s.labels["field"]
        for family in metrics.registry.collect()
        if family.name == "cloudops_router_differing_fields"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert len(fields) == MAX_FIELD_LABELS + 1 and "other" in fields
