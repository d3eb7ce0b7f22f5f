"""A plan: the ordered provider mutations one cloud operation makes, as plain data.

Both execution paths run the same plan, one mutation at a time, through `apply_mutation`. Because a plan is
data, a dry run can return it instead of applying it, and two paths can be compared call by call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cloud.model import JSON, Capacity, LoadBalancerSpec, ServerGroupSpec
from cloud.provider import CloudProvider

__all__ = ["Mutation", "MutationKind", "Plan", "apply_mutation", "idempotency_token"]


class MutationKind(StrEnum):
    """One kind of provider call that changes the cloud."""

    CREATE_SERVER_GROUP = "createServerGroup"
    RESIZE_SERVER_GROUP = "resizeServerGroup"
    ENABLE_SERVER_GROUP = "enableServerGroup"
    DISABLE_SERVER_GROUP = "disableServerGroup"
    DESTROY_SERVER_GROUP = "destroyServerGroup"
    TERMINATE_INSTANCES = "terminateInstances"
    UPSERT_LOAD_BALANCER = "upsertLoadBalancer"
    DELETE_LOAD_BALANCER = "deleteLoadBalancer"


@dataclass(frozen=True, slots=True)
class Mutation:
    """One provider call of a plan.

    `step` is the mutation's position in its plan and, with the operation id, makes its idempotency token.
    `params` holds the call's arguments in JSON form: `spec` (ServerGroupSpec / LoadBalancerSpec JSON) for
    creates and upserts, `capacity` for resizes, `instanceIds` for terminations.
    `wait_for_healthy` asks the executor to wait, after the call, until the group's desired capacity is healthy.
    """

    step: int
    kind: MutationKind
    account: str
    region: str
    target: str
    params: Mapping[str, JSON] = field(default_factory=dict)
    wait_for_healthy: bool = False

    def to_json(self) -> dict[str, JSON]:
        return {
            "step": self.step,
            "kind": self.kind.value,
            "account": self.account,
            "region": self.region,
            "target": self.target,
            "params": dict(self.params),
            "waitForHealthy": self.wait_for_healthy,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Mutation:
        return cls(
            step=int(data["step"]),
            kind=MutationKind(data["kind"]),
            account=data["account"],
            region=data["region"],
            target=data["target"],
            params=dict(data.get("params", {})),
            wait_for_healthy=bool(data.get("waitForHealthy", False)),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The mutations of one operation, in order.

    `compensate_on_failure`: when a later step fails, server groups this plan created are destroyed
    (Spinnaker's `rollback.onFailure` on a deploy). `facts` records what the plan was derived from (for example
    the server groups that existed when the next sequence number was chosen), so a comparison can tell a real
    difference from a difference in the state each path saw.
    """

    operation: str
    mutations: tuple[Mutation, ...]
    compensate_on_failure: bool = False
    facts: Mapping[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.operation,
            "mutations": [m.to_json() for m in self.mutations],
            "compensateOnFailure": self.compensate_on_failure,
            "facts": dict(self.facts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            operation=data["operation"],
            mutations=tuple(Mutation.from_json(m) for m in data.get("mutations", ())),
            compensate_on_failure=bool(data.get("compensateOnFailure", False)),
            facts=dict(data.get("facts", {})),
        )


def idempotency_token(operation_id: str, step: int, purpose: str = "apply") -> str:
    """The token for one step of one operation: the same on every retry, on every worker, after every restart.

    Hashed so it fits AWS's 64-character ClientToken whatever the operation id looks like.
    """
    digest = hashlib.sha256(f"{operation_id}\x00{purpose}\x00{step}".encode()).hexdigest()
    return f"{digest[:48]}-{purpose[:8]}-{step}"


def apply_mutation(provider: CloudProvider, mutation: Mutation, token: str) -> dict[str, JSON]:
    """Make the one provider call `mutation` describes, under `token`; return what the cloud answered, as JSON."""
    m, p = mutation, mutation.params
    match m.kind:
        case MutationKind.CREATE_SERVER_GROUP:
            spec = ServerGroupSpec.from_json(p["spec"])
            return provider.create_server_group(m.account, m.region, spec, token).to_json()
        case MutationKind.RESIZE_SERVER_GROUP:
            capacity = Capacity.from_json(p["capacity"])
            return provider.resize_server_group(m.account, m.region, m.target, capacity, token).to_json()
        case MutationKind.ENABLE_SERVER_GROUP:
            return provider.enable_server_group(m.account, m.region, m.target, token).to_json()
        case MutationKind.DISABLE_SERVER_GROUP:
            return provider.disable_server_group(m.account, m.region, m.target, token).to_json()
        case MutationKind.DESTROY_SERVER_GROUP:
            provider.destroy_server_group(m.account, m.region, m.target, token)
            return {}
        case MutationKind.TERMINATE_INSTANCES:
            provider.terminate_instances(m.account, m.region, tuple(p["instanceIds"]), token)
            return {}
        case MutationKind.UPSERT_LOAD_BALANCER:
            lb_spec = LoadBalancerSpec.from_json(p["spec"])
            return provider.upsert_load_balancer(m.account, m.region, lb_spec, token).to_json()
        case MutationKind.DELETE_LOAD_BALANCER:
            provider.delete_load_balancer(m.account, m.region, m.target, token)
            return {}
