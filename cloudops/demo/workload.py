"""The demo's workload: deployment pipelines over several clusters, as pure values built from a seed.

A pipeline is what a Spinnaker red/black deployment asks of Clouddriver, one operation per stage: create the new
server group, resize it, disable the previous one, destroy the one before that. Each cluster runs its pipelines
one after another (a cluster is one deployment target); clusters run concurrently. Every operation id is stable
per pipeline step (`<execution id>-<step>`), so a repeat of a step is the same operation on whichever path.

The same seed and size give the same workload: which clusters get the extra pipelines, capacities and versions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from router.contract import OperationRequest

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_APPLICATIONS",
    "PIPELINE_STEPS",
    "Cluster",
    "Pipeline",
    "Step",
    "Workload",
    "build_workload",
    "default_clusters",
    "step_request",
]

DEFAULT_APPLICATIONS: tuple[str, ...] = ("checkout", "search", "ledger")
DEFAULT_ACCOUNTS: Mapping[str, str] = {"prod": "aws", "test": "aws", "titusprod": "titus"}
_REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")


class Step(StrEnum):
    """The stages of one pipeline, in order; the value is the Clouddriver operation."""

    CREATE = "createServerGroup"
    RESIZE = "resizeServerGroup"
    DISABLE = "disableServerGroup"
    DESTROY = "destroyServerGroup"

    @property
    def stage_type(self) -> str:
        """The Orca stage type that asks for this operation."""
        return "deploy" if self is Step.CREATE else self.value


PIPELINE_STEPS: tuple[Step, ...] = (Step.CREATE, Step.RESIZE, Step.DISABLE, Step.DESTROY)


@dataclass(frozen=True, slots=True, order=True)
class Cluster:
    """One deployment target: `<application>-<stack>` in one account and region."""

    application: str
    account: str
    provider: str
    stack: str
    region: str

    @property
    def name(self) -> str:
        return f"{self.application}-{self.stack}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.account}/{self.region}"

    @property
    def slug(self) -> str:
        return f"{self.name}-{self.account}-{self.region}"

    def scope(self) -> dict[str, str]:
        """The rollout scope this cluster belongs to."""
        return {"application": self.application, "account": self.account}

    def seed_names(self) -> tuple[str, str]:
        """The two server groups the cluster has before the demo starts (so every pipeline has all four steps)."""
        return f"{self.name}-v000", f"{self.name}-v001"


@dataclass(frozen=True, slots=True)
class Pipeline:
    """One pipeline execution on one cluster: deploy version `version` at `desired`, then resize to `resize_to`."""

    cluster: Cluster
    number: int
    execution_id: str
    version: str
    desired: int
    resize_to: int

    def operation_id(self, step: Step) -> str:
        return f"{self.execution_id}-{PIPELINE_STEPS.index(step) + 1}-{step.value}"

    def create_context(self) -> dict[str, Any]:
        """The createServerGroup stage context Orca would send for this cluster's provider."""
        c = self.cluster
        capacity = {"min": 1, "max": max(self.desired, self.resize_to) + 2, "desired": self.desired}
        common: dict[str, Any] = {
            "cloudProvider": c.provider,
            "credentials": c.account,
            "application": c.application,
            "stack": c.stack,
            "freeFormDetails": "",
            "capacity": capacity,
            "securityGroups": [c.application] if c.provider == "aws" else [],
        }
        if c.provider == "titus":
            return {
                **common,
                "region": c.region,
                "imageId": f"titus/{c.application}:{self.version}",
                "resources": {"cpu": 2, "memory": 4096, "disk": 10000, "networkMbps": 128, "gpu": 0},
                "capacityGroup": c.application,
                "iamProfile": f"{c.application}InstanceProfile",
                "inService": True,
                "env": {},
                "labels": {},
            }
        return {
            **common,
            "availabilityZones": {c.region: [f"{c.region}a", f"{c.region}c"]},
            "amiName": f"{c.application}-{self.version}-ami",
            "instanceType": "m5.large",
            "subnetType": "internal",
            "iamRole": f"{c.application}InstanceProfile",
            "strategy": "redblack",
        }

    def group_context(self, step: Step, server_group: str) -> dict[str, Any]:
        """The context of a resize, disable or destroy of `server_group` in this cluster."""
        c = self.cluster
        context: dict[str, Any] = {
            "cloudProvider": c.provider,
            "credentials": c.account,
            "region": c.region,
            "serverGroupName": server_group,
        }
        if step is Step.RESIZE:
            context["capacity"] = {"min": 1, "max": self.resize_to + 2, "desired": self.resize_to}
        return context


def step_request(pipeline: Pipeline, step: Step, context: Mapping[str, Any]) -> OperationRequest:
    """The router request for one step of a pipeline."""
    c = pipeline.cluster
    return OperationRequest(
        operation_id=pipeline.operation_id(step),
        operation=step.value,
        stage_type=step.stage_type,
        account=c.account,
        application=c.application,
        provider=c.provider,
        context=dict(context),
        execution_id=pipeline.execution_id,
    )


@dataclass(frozen=True, slots=True)
class Workload:
    """Every pipeline of the demo; `by_cluster` gives each cluster's pipelines in the order they run."""

    run_id: str
    clusters: tuple[Cluster, ...]
    pipelines: tuple[Pipeline, ...]

    @property
    def operations(self) -> int:
        return len(self.pipelines) * len(PIPELINE_STEPS)

    def by_cluster(self) -> dict[Cluster, list[Pipeline]]:
        grouped: dict[Cluster, list[Pipeline]] = {c: [] for c in self.clusters}
        for pipeline in self.pipelines:
            grouped[pipeline.cluster].append(pipeline)
        return grouped

    def scopes(self) -> list[dict[str, str]]:
        """The distinct rollout scopes of the clusters, in cluster order."""
        seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for cluster in self.clusters:
            scope = cluster.scope()
            seen.setdefault(tuple(sorted(scope.items())), scope)
        return list(seen.values())


def default_clusters(
    applications: Sequence[str] = DEFAULT_APPLICATIONS,
    accounts: Mapping[str, str] = DEFAULT_ACCOUNTS,
    stacks: Sequence[str] = ("main",),
) -> tuple[Cluster, ...]:
    """One cluster per application, account and stack; each application deploys to its own region."""
    return tuple(
        Cluster(app, account, provider, stack, _REGIONS[i % len(_REGIONS)])
        for i, app in enumerate(applications)
        for account, provider in accounts.items()
        for stack in stacks
    )


def build_workload(*, run_id: str, ops: int, seed: int, clusters: Sequence[Cluster] | None = None) -> Workload:
    """About `ops` operations (rounded up to whole pipelines of four), spread evenly over `clusters`.

    Raises ValueError for fewer than one operation or no clusters."""
    if ops < 1:
        raise ValueError(f"the workload needs at least one operation, got {ops}")
    chosen = tuple(clusters) if clusters is not None else default_clusters()
    if not chosen:
        raise ValueError("the workload needs at least one cluster")
    rng = random.Random(seed)
    count = math.ceil(ops / len(PIPELINE_STEPS))
    order = list(chosen)
    rng.shuffle(order)  # which clusters get one pipeline more than the others
    per_cluster = {c: count // len(chosen) + (1 if i < count % len(chosen) else 0) for i, c in enumerate(order)}
    pipelines = []
    for cluster in chosen:
        for number in range(1, per_cluster[cluster] + 1):
            desired = rng.randint(1, 3)
            pipelines.append(
                Pipeline(
                    cluster=cluster,
                    number=number,
                    execution_id=f"{run_id}-{cluster.slug}-{number:03d}",
                    version=f"1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
                    desired=desired,
                    resize_to=desired + rng.randint(1, 2),
                )
            )
    return Workload(run_id=run_id, clusters=chosen, pipelines=tuple(pipelines))
