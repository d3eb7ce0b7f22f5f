"""terminateInstances: terminate instances by id in one region (CD `TerminateInstancesDescription`).

The context names `region`, `instanceIds` (a non-empty list of ids) and optionally the `serverGroups` they belong
to, which Clouddriver uses only for its task history; here they also give the application when `application`
and `moniker` are absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cloud.catalogue.errors import ErrorCode
from cloud.catalogue.fields import Fields
from cloud.catalogue.operation import OperationName, WorldRef
from cloud.catalogue.outputs import check_results
from cloud.catalogue.readers import read_application
from cloud.model import JSON
from cloud.plan import Mutation, MutationKind, Plan
from cloud.provider import CloudReader

__all__ = ["TerminateInstances", "parse_terminate"]


@dataclass(frozen=True, slots=True)
class TerminateInstances:
    """Terminate `instance_ids` in `region`: one provider call."""

    name: ClassVar[OperationName] = OperationName.TERMINATE_INSTANCES
    expects_result: ClassVar[bool] = False
    replans_stably: ClassVar[bool] = False

    provider: str
    account: str
    application: str
    region: str
    instance_ids: tuple[str, ...]
    server_groups: tuple[str, ...] = ()

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.region,)

    def world_refs(self) -> tuple[WorldRef, ...]:
        return (WorldRef(self.account, "credentials", self.provider, self.region, "region"),)

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        # Nothing to read: like Clouddriver, the cloud itself refuses ids it does not know.
        mutation = Mutation(
            step=0,
            kind=MutationKind.TERMINATE_INSTANCES,
            account=self.account,
            region=self.region,
            target=",".join(self.server_groups),
            params={"instanceIds": list(self.instance_ids)},
        )
        return Plan(self.name.value, (mutation,))

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        check_results(plan, results)
        return {}

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "region": self.region,
            "instanceIds": list(self.instance_ids),
            "serverGroups": list(self.server_groups),
        }


def parse_terminate(f: Fields, provider: str, account: str | None) -> TerminateInstances | None:
    """A TerminateInstances, or None with the problems in `f.errors`."""
    before = len(f.errors)
    region = f.string("region", required=True, hint="set the region the instances run in, such as us-east-1")
    ids = f.string_list("instanceIds", required=True, non_empty=True, hint="list the ids of the instances to terminate")
    if ids is not None and len(set(ids)) != len(ids):
        f.fail(
            "instanceIds", f"'{f.path('instanceIds')}' lists an instance twice: list each id once", ErrorCode.INVALID
        )
    server_groups = f.string_list("serverGroups")
    single = f.raw("serverGroupName")
    if server_groups is None and isinstance(single, str) and single.strip():
        server_groups = (single,)
    application = read_application(f, *(server_groups or ()))
    if len(f.errors) != before or not account or region is None or ids is None or application is None:
        return None
    return TerminateInstances(provider, account, application, region, ids, server_groups or ())
