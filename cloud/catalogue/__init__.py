"""The operation catalogue: typed cloud operations parsed from Spinnaker-style untyped stage contexts.

Both execution paths (the legacy Clouddriver-like service and the durable Temporal workflow) run an operation
the same way: `parse_operation` (or `parse_operation_list` for an `/ops` body) -> `check_world(op,
provider.accounts())` -> `plan = op.plan(reader)` -> `cloud.plan.apply_mutation` per mutation (waiting for
`capacity_reached` when a mutation asks) -> `op.outputs(plan, results)`; on a failure after some mutations of a
plan with `compensate_on_failure`, `compensation_plan(plan, applied)`. A dry run stops after `plan`.

Everything here is pure except `plan`, which only reads through a `cloud.provider.CloudReader`.
May import: `cloud.model`, `cloud.plan`, `cloud.provider`, `cloud.errors`; nothing else of ours.
"""

from __future__ import annotations

from cloud.catalogue.allow_launch import AllowLaunch
from cloud.catalogue.clone import CloneServerGroup, CloneSource
from cloud.catalogue.deploy import CreateServerGroup
from cloud.catalogue.errors import ErrorCode, FieldError, ParseResult
from cloud.catalogue.instances import TerminateInstances
from cloud.catalogue.lifecycle import capacity_reached, compensation_plan
from cloud.catalogue.load_balancers import DeleteLoadBalancer, UpsertLoadBalancer
from cloud.catalogue.naming import Names, cluster_name, next_sequence, parse_server_group_name, server_group_name
from cloud.catalogue.operation import PROVIDERS, CloudOperation, Location, OperationName, WorldRef
from cloud.catalogue.parse import parse_operation, parse_operation_list, supported_operations
from cloud.catalogue.server_groups import DestroyServerGroup, DisableServerGroup, EnableServerGroup, ResizeServerGroup
from cloud.catalogue.world import check_world

__all__ = [
    "PROVIDERS",
    "AllowLaunch",
    "CloneServerGroup",
    "CloneSource",
    "CloudOperation",
    "CreateServerGroup",
    "DeleteLoadBalancer",
    "DestroyServerGroup",
    "DisableServerGroup",
    "EnableServerGroup",
    "ErrorCode",
    "FieldError",
    "Location",
    "Names",
    "OperationName",
    "ParseResult",
    "ResizeServerGroup",
    "TerminateInstances",
    "UpsertLoadBalancer",
    "WorldRef",
    "capacity_reached",
    "check_world",
    "cluster_name",
    "compensation_plan",
    "next_sequence",
    "parse_operation",
    "parse_operation_list",
    "parse_server_group_name",
    "server_group_name",
    "supported_operations",
]
