"""The `outputs` of a finished operation, in the keys later Orca stages read: built once, here, for both paths.

Orca does not read a Clouddriver task's result objects directly: its tasks copy what they need into the stage
context, and later stages read that. An operation that moves from the legacy path to the durable one must leave
the same keys behind, so `LegacyRunner` (from the task's result objects and plan object) and `DurableRunner` (from
the workflow's result object and plan) both call `orca_outputs`, and the gateway calls `own_result` to get back
the operation's own result object from outputs built here. What Orca derives, and where (orca @ 2fdb327a):

- `deploy.server.groups` {region: [names]} from `resultObjects[*].serverGroupNames` "region:name" ("region_missing"
  without a colon), and `deploy.jobs` from the first `deployedNamesByLocation`:
  `orca-clouddriver/.../tasks/MonitorKatoTask.groovy` (`getServerGroupNames`, `getDeployedNames`).
- `deploy.account.name`: `CreateServerGroupTask.groovy`, `CloneServerGroupTask.groovy`, `AbstractServerGroupTask`.
- For resize, enable, disable and destroy, `AbstractServerGroupTask.groovy` writes `serverGroupName`, `asgName` and
  `deploy.server.groups` {region: [serverGroupName]} from the operation itself; here they come from the plan's
  mutations, which name the account, region and group each path acted on.

A dry run deploys nothing, so it leaves no Orca keys, only the operation's own (empty) result objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ORCA_KEYS", "orca_outputs", "own_result"]

ORCA_KEYS = ("deploy.server.groups", "deploy.jobs", "deploy.account.name", "serverGroupName", "asgName")
"""The keys `orca_outputs` adds beside the operation's own result objects."""

_DEPLOYS = ("createServerGroup", "cloneServerGroup")
_SERVER_GROUP_TASKS = ("resizeServerGroup", "enableServerGroup", "disableServerGroup", "destroyServerGroup")


def orca_outputs(own: Sequence[Mapping[str, Any]], plan: Mapping[str, Any] | None, *, dry_run: bool) -> dict[str, Any]:
    """The operation's own result objects merged, plus the keys Orca derives from them and from the operation.

    `own` are the result objects without plan or EXCEPTION objects (`clouddriver_wire.results.own_results`);
    `plan` is the plan the operation executed (`cloud.plan.Plan.to_json()`), None when there was none.
    """
    outputs: dict[str, Any] = {}
    for obj in own:
        outputs.update(obj)
    if dry_run:
        return outputs
    operation = str((plan or {}).get("operation", ""))
    mutations = [m for m in (plan or {}).get("mutations") or () if isinstance(m, Mapping)]
    accounts = [str(m.get("account")) for m in mutations if m.get("account")]
    groups = _deployed_groups(own)
    if groups:
        outputs["deploy.server.groups"] = groups
    deployed = next((o["deployedNamesByLocation"] for o in own if o.get("deployedNamesByLocation")), None)
    if deployed:
        outputs["deploy.jobs"] = deployed
    if operation in _SERVER_GROUP_TASKS and mutations:
        name = str(mutations[0].get("target", ""))
        outputs["serverGroupName"] = name
        outputs["asgName"] = name
        outputs["deploy.server.groups"] = {str(m.get("region", "")): [str(m.get("target", ""))] for m in mutations}
    if (operation in _DEPLOYS or operation in _SERVER_GROUP_TASKS) and accounts:
        outputs["deploy.account.name"] = accounts[0]
    return outputs


def own_result(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's own result object back from outputs `orca_outputs` built: without the keys it added.

    A deploy's own `serverGroupNames` is kept; `serverGroupName` and `asgName` are only ever Orca's here, since no
    catalogue operation's result object has them.
    """
    return {k: v for k, v in outputs.items() if k not in ORCA_KEYS}


def _deployed_groups(own: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for obj in own:
        for entry in obj.get("serverGroupNames") or ():
            region, sep, name = str(entry).partition(":")
            region, name = (region, name) if sep else ("region_missing", region)
            groups.setdefault(region, []).append(name)
    return groups
