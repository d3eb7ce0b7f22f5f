"""What both execution paths need around a plan: when a mutation has taken effect, and how to undo creates.

`capacity_reached` is Orca's `waitForCapacityMatch` rule; `compensation_plan` is Spinnaker's deploy
`rollback.onFailure`: destroy what this plan created, newest first.
"""

from __future__ import annotations

from cloud.model import Capacity, HealthState, ServerGroup
from cloud.plan import Mutation, MutationKind, Plan

__all__ = ["capacity_reached", "compensation_plan"]


def capacity_reached(server_group: ServerGroup, capacity: Capacity) -> bool:
    """True when the group runs exactly `capacity.desired` live instances and all of them are healthy.

    Exactly, not at least: after a scale-down the surplus instances must be gone too, as Orca's capacity match
    requires. Terminated instances that a cloud still lists do not count.
    """
    live = [i for i in server_group.instances if i.health is not HealthState.TERMINATED]
    return len(live) == capacity.desired and server_group.healthy_count == capacity.desired


def compensation_plan(plan: Plan, applied: int) -> Plan:
    """Destroy mutations for the server groups the first `applied` mutations of `plan` created, newest first.

    Steps are numbered after the original plan's, so their idempotency tokens never collide with the
    original steps'. A plan that created nothing gives an empty plan.
    """
    created = [m for m in plan.mutations[: max(applied, 0)] if m.kind == MutationKind.CREATE_SERVER_GROUP]
    first = max((m.step for m in plan.mutations), default=-1) + 1
    mutations = tuple(
        Mutation(
            step=first + i,
            kind=MutationKind.DESTROY_SERVER_GROUP,
            account=m.account,
            region=m.region,
            target=m.target,
        )
        for i, m in enumerate(reversed(created))
    )
    facts = {"compensates": plan.operation, "applied": applied}
    return Plan(plan.operation, mutations, False, facts)
