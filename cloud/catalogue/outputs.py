"""Clouddriver's result objects, built from a plan and what each of its mutations returned.

A deploy (create or clone) answers with a `DeploymentResult` (CD `deploy/DeploymentResult.groovy`), which Orca
reads to find the new server groups (`deploy.server.groups` from `serverGroupNames` "region:name"); an AWS
upsertLoadBalancer answers `{loadBalancers: {region: {name, dnsName}}}`; the other operations answer nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloud.model import JSON
from cloud.plan import MutationKind, Plan

__all__ = ["check_results", "deployment_result", "load_balancer_result"]


def check_results(plan: Plan, results: Sequence[Mapping[str, JSON]]) -> None:
    """Raise ValueError unless there is exactly one result per mutation (a caller bug, not a cloud failure)."""
    if len(results) != len(plan.mutations):
        raise ValueError(
            f"outputs needs one result per mutation of the plan: got {len(results)} for {len(plan.mutations)}"
        )


def deployment_result(plan: Plan, results: Sequence[Mapping[str, JSON]], *, provider: str) -> dict[str, JSON]:
    """The DeploymentResult of a deploy: one entry per server group the plan created, in plan order."""
    check_results(plan, results)
    names: list[str] = []
    by_region: dict[str, str] = {}
    by_location: dict[str, list[str]] = {}
    deployments: list[JSON] = []
    for mutation in plan.mutations:
        if mutation.kind != MutationKind.CREATE_SERVER_GROUP:
            continue
        region, name = mutation.region, mutation.target
        names.append(f"{region}:{name}")
        by_region[region] = name
        by_location.setdefault(region, []).append(name)
        spec = mutation.params.get("spec", {})
        deployments.append(
            {
                "location": region,
                "serverGroupName": name,
                "account": mutation.account,
                "cloudProvider": provider,
                "capacity": dict(spec.get("capacity", {})) if isinstance(spec, Mapping) else {},
            }
        )
    return {
        "serverGroupNames": names,
        "serverGroupNameByRegion": by_region,
        "messages": [],
        "deployedNames": [name for region_names in by_location.values() for name in region_names],
        "deployedNamesByLocation": by_location,
        "createdArtifacts": [],
        "deployments": deployments,
    }


def load_balancer_result(plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
    """`{loadBalancers: {region: {name, dnsName}}}`, the DNS name as the cloud assigned it."""
    check_results(plan, results)
    by_region: dict[str, JSON] = {}
    for mutation, result in zip(plan.mutations, results, strict=True):
        if mutation.kind != MutationKind.UPSERT_LOAD_BALANCER:
            continue
        dns_name = result.get("dnsName", "")
        by_region[mutation.region] = {"name": mutation.target, "dnsName": dns_name if isinstance(dns_name, str) else ""}
    return {"loadBalancers": by_region}
