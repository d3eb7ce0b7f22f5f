"""`router.orca_outputs`: the keys Orca derives after an operation, built once for both paths (pure).

Shapes as Orca builds them (orca @ 2fdb327a): `orca-clouddriver/.../tasks/MonitorKatoTask.groovy`
(`getServerGroupNames`: "region:name", "region_missing" without a colon; `getDeployedNames`),
`.../tasks/servergroup/AbstractServerGroupTask.groovy` (`deployServerGroups`, `serverGroupName`, `asgName`,
`deploy.account.name`), `CreateServerGroupTask.groovy` (`deploy.account.name`).
"""

from __future__ import annotations

from typing import Any

from router.orca_outputs import ORCA_KEYS, orca_outputs, own_result

DEPLOYED = {
    "serverGroupNames": ["us-east-1:app-main-v003", "us-west-2:app-main-v003", "app-main-v004"],
    "serverGroupNameByRegion": {"us-east-1": "app-main-v003", "us-west-2": "app-main-v003"},
    "deployedNamesByLocation": {"us-east-1": ["app-main-v003"], "us-west-2": ["app-main-v003"]},
}


def plan(operation: str, *targets: tuple[str, str], account: str = "prod") -> dict[str, Any]:
    mutations = [{"account": account, "region": r, "target": t, "kind": operation} for r, t in targets]
    return {"operation": operation, "mutations": mutations, "facts": {}}


def test_a_deploy_gets_orcas_groups_jobs_and_account() -> None:
    created = plan("createServerGroup", ("us-east-1", "app-main-v003"), ("us-west-2", "app-main-v003"))
    outputs = orca_outputs([DEPLOYED], created, dry_run=False)
    assert outputs["deploy.server.groups"] == {
        "us-east-1": ["app-main-v003"],
        "us-west-2": ["app-main-v003"],
        "region_missing": ["app-main-v004"],
    }
    assert outputs["deploy.jobs"] == DEPLOYED["deployedNamesByLocation"]
    assert outputs["deploy.account.name"] == "prod"
    assert outputs["serverGroupNames"] == DEPLOYED["serverGroupNames"]  # the own result object is kept whole
    assert "serverGroupName" not in outputs and "asgName" not in outputs


def test_an_operation_on_existing_groups_names_them_as_abstract_server_group_task_does() -> None:
    resized = plan("resizeServerGroup", ("us-east-1", "app-main-v002"), ("us-west-2", "app-main-v002"), account="test")
    assert orca_outputs([], resized, dry_run=False) == {
        "deploy.server.groups": {"us-east-1": ["app-main-v002"], "us-west-2": ["app-main-v002"]},
        "deploy.account.name": "test",
        "serverGroupName": "app-main-v002",
        "asgName": "app-main-v002",
    }


def test_operations_orca_reads_nothing_from_keep_their_own_result_only() -> None:
    lb = {"loadBalancers": {"us-east-1": {"name": "app-frontend", "dnsName": "app.elb"}}}
    assert orca_outputs([lb], plan("upsertLoadBalancer", ("us-east-1", "app-frontend")), dry_run=False) == lb
    assert orca_outputs([], plan("allowLaunchDescription"), dry_run=False) == {}
    assert orca_outputs([], None, dry_run=False) == {}


def test_a_dry_run_leaves_no_orca_keys() -> None:
    resized = plan("resizeServerGroup", ("us-east-1", "app-main-v002"))
    assert orca_outputs([], resized, dry_run=True) == {}
    assert orca_outputs([DEPLOYED], plan("createServerGroup", ("us-east-1", "x")), dry_run=True) == DEPLOYED


def test_own_result_gives_back_the_operations_own_object() -> None:
    created = plan("createServerGroup", ("us-east-1", "app-main-v003"))
    assert own_result(orca_outputs([DEPLOYED], created, dry_run=False)) == DEPLOYED
    assert own_result(orca_outputs([], plan("destroyServerGroup", ("us-east-1", "a-v001")), dry_run=False)) == {}
    assert set(ORCA_KEYS).isdisjoint(own_result(dict.fromkeys(ORCA_KEYS, 1)))
