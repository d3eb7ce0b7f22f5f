"""Parsing Orca-shaped operation contexts: the reference payloads as they are, and every kind of mistake."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import cloud.catalogue as catalogue
from cloud.catalogue import (
    AllowLaunch,
    CloneServerGroup,
    CloudOperation,
    CreateServerGroup,
    DeleteLoadBalancer,
    DestroyServerGroup,
    DisableServerGroup,
    EnableServerGroup,
    FieldError,
    OperationName,
    ParseResult,
    ResizeServerGroup,
    TerminateInstances,
    UpsertLoadBalancer,
    parse_operation,
    parse_operation_list,
)
from cloud.model import Capacity, Listener

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def only(name: str, op: str) -> dict[str, Any]:
    """The context of operation `op` in payload file `name` (a list of one-key maps, or one map)."""
    body = load(name)
    items = body if isinstance(body, list) else [body]
    return next(item[op] for item in items if op in item)


def errors_of(result: ParseResult) -> set[tuple[str, str]]:
    return {(e.path, e.code) for e in result.errors}


def parsed(name: str, context: Any, provider: str | None = None) -> Any:
    result = parse_operation(name, context, provider=provider)
    assert result.ok, result.errors
    return result.operation


# --- the reference payloads, verbatim ---------------------------------------------------------------------------


def test_aws_deploy_body_is_accepted_as_orca_sends_it() -> None:
    ops, errors = parse_operation_list(load("aws_deploy.json"), provider="aws")
    assert errors == ()
    allow, create = ops
    assert isinstance(allow, AllowLaunch)
    assert (allow.account, allow.target_account, allow.image) == ("test", "prod", "myapp-1.2.0-ami")
    assert isinstance(create, CreateServerGroup)
    assert (create.account, create.application, create.stack, create.detail) == ("prod", "myapp", "main", "")
    assert create.regions == ("us-east-1",)
    assert create.location.zones == {"us-east-1": ("us-east-1a", "us-east-1c")}
    assert create.capacity == Capacity(min=1, max=4, desired=2)
    assert create.image == "myapp-1.2.0-ami"
    assert create.security_groups == ("myapp", "nf-infrastructure")
    assert create.load_balancers == ("myapp-main-frontend",)
    assert create.settings == {
        "instanceType": "m5.large",
        "subnetType": "internal",
        "iamRole": "myappInstanceProfile",
        "keyPair": "nf-prod-keypair",
        "healthCheckType": "EC2",
        "healthCheckGracePeriod": 600,
        "targetGroups": [],
    }
    assert "strategy" not in create.settings  # an Orca concept, not a cloud setting
    assert create.expects_result and not allow.expects_result
    assert create.compensate_on_failure is False


def test_titus_deploy_body_is_accepted() -> None:
    (create,), errors = parse_operation_list(load("titus_deploy.json"), provider="titus")
    assert errors == ()
    assert isinstance(create, CreateServerGroup)
    assert (create.provider, create.account, create.application, create.regions) == (
        "titus",
        "titustest",
        "helloworld",
        ("us-east-1",),
    )
    assert create.image == "titus/helloworld:latest"
    assert create.settings["resources"] == {
        "cpu": 2,
        "memory": 4096,
        "disk": 10000,
        "networkMbps": 128,
        "gpu": 0,
        "allocateIpAddress": True,
    }
    assert create.settings["capacityGroup"] == "helloworld"
    assert create.settings["migrationPolicy"] == {"type": "systemDefault"}
    assert create.settings["env"] == {} and create.settings["entryPoint"] == ""


def test_aws_resize_disable_terminate_are_accepted() -> None:
    (resize,), errors = parse_operation_list(load("aws_resize.json"), provider="aws")
    assert errors == () and isinstance(resize, ResizeServerGroup)
    assert (resize.server_group_name, resize.regions, resize.capacity) == (
        "myapp-main-v012",
        ("us-east-1",),
        Capacity(min=2, max=6, desired=4),
    )
    assert resize.application == "myapp"
    (disable,), errors = parse_operation_list(load("aws_disable.json"), provider="aws")
    assert errors == () and isinstance(disable, DisableServerGroup)
    assert disable.server_group_name == "myapp-main-v011"
    (terminate,), errors = parse_operation_list(load("aws_terminate.json"), provider="aws")
    assert errors == () and isinstance(terminate, TerminateInstances)
    assert terminate.instance_ids == ("i-0a1b2c3d4e5f6a7b8",)
    assert terminate.application == "myapp"  # from serverGroups


def test_aws_upsert_load_balancer_is_accepted_when_posted_for_aws() -> None:
    lb = parsed("upsertLoadBalancer", only("aws_upsert_load_balancer.json", "upsertLoadBalancer"), "aws")
    assert isinstance(lb, UpsertLoadBalancer)
    assert lb.load_balancer_name == "myapp-main-frontend" and lb.application == "myapp"
    assert lb.listeners == (Listener("HTTP", 80, "HTTP", 7001),)
    assert (lb.health_check, lb.internal, lb.security_groups) == ("HTTP:7001/healthcheck", True, ("myapp-elb",))
    assert lb.location.zones == {"us-east-1": ("us-east-1a",)}


def test_a_payload_without_cloud_provider_needs_the_provider_from_the_url() -> None:
    result = parse_operation("upsertLoadBalancer", only("aws_upsert_load_balancer.json", "upsertLoadBalancer"))
    assert errors_of(result) == {("cloudProvider", "required")}


def test_titus_resize_and_destroy_are_accepted() -> None:
    resize = parsed("resizeServerGroup", only("titus_resize.json", "resizeServerGroup"), "titus")
    assert isinstance(resize, ResizeServerGroup) and resize.capacity == Capacity(1, 5, 3)
    destroy = parsed("destroyServerGroup", only("titus_destroy.json", "destroyServerGroup"))
    assert isinstance(destroy, DestroyServerGroup) and destroy.provider == "titus"
    assert destroy.server_group_name == "helloworld-main-v002" and destroy.application == "helloworld"


def test_extra_stage_context_keys_are_tolerated() -> None:
    context = only("aws_resize.json", "resizeServerGroup") | {
        "type": "resizeServerGroup",
        "refId": "2",
        "requisiteStageRefIds": ["1"],
        "kato.last.task.id": {"id": "01H"},
        "target": "current_asg_dynamic",
        "regions": ["us-east-1"],
        "notification.type": "upsertservergroup",
    }
    assert isinstance(parsed("resizeServerGroup", context), ResizeServerGroup)


def test_every_operation_parses_and_serialises() -> None:
    contexts: dict[str, dict[str, Any]] = {
        "createServerGroup": only("aws_deploy.json", "createServerGroup"),
        "cloneServerGroup": {
            "cloudProvider": "aws",
            "credentials": "prod",
            "source": {"account": "prod", "region": "us-east-1", "asgName": "myapp-main-v012"},
        },
        "resizeServerGroup": only("aws_resize.json", "resizeServerGroup"),
        "enableServerGroup": only("aws_disable.json", "disableServerGroup"),
        "disableServerGroup": only("aws_disable.json", "disableServerGroup"),
        "destroyServerGroup": only("titus_destroy.json", "destroyServerGroup"),
        "terminateInstances": only("aws_terminate.json", "terminateInstances"),
        "upsertLoadBalancer": only("aws_upsert_load_balancer.json", "upsertLoadBalancer"),
        "deleteLoadBalancer": {"loadBalancerName": "myapp-main-frontend", "regions": ["us-east-1"], "credentials": "p"},
        "allowLaunchDescription": only("aws_deploy.json", "allowLaunchDescription"),
    }
    kinds: dict[str, type[CloudOperation]] = {
        "createServerGroup": CreateServerGroup,
        "cloneServerGroup": CloneServerGroup,
        "resizeServerGroup": ResizeServerGroup,
        "enableServerGroup": EnableServerGroup,
        "disableServerGroup": DisableServerGroup,
        "destroyServerGroup": DestroyServerGroup,
        "terminateInstances": TerminateInstances,
        "upsertLoadBalancer": UpsertLoadBalancer,
        "deleteLoadBalancer": DeleteLoadBalancer,
        "allowLaunchDescription": AllowLaunch,
    }
    assert set(contexts) == {op.value for op in OperationName}
    for name, context in contexts.items():
        provider = "titus" if context.get("cloudProvider") == "titus" else "aws"
        op = parsed(name, context, provider)
        assert isinstance(op, kinds[name])
        assert isinstance(op, CloudOperation)
        assert op.name == name and op.provider == provider
        assert json.loads(json.dumps(op.to_json()))["operation"] == name
    expected = {"createServerGroup", "cloneServerGroup", "upsertLoadBalancer"}
    assert {name for name, kind in kinds.items() if kind.expects_result} == expected


# --- every mistake at once -----------------------------------------------------------------------------------------

TWELVE_MISTAKES: dict[str, Any] = {
    "cloudProvider": "aws",
    "credentials": 42,
    "application": "my-app",
    "stack": "main!",
    "freeFormDetails": "canary east",
    "availabilityZones": {"us-east-1": ["us-east-1a", 7], "us-west-2": ["eu-west-1a"]},
    "capacity": {"min": -1, "max": True, "desired": "lots"},
    "amiName": "myapp-1.2.0-ami",
    "instanceType": "",
    "securityGroups": "myapp",
    "healthCheckGracePeriod": -600,
    "loadBalancers": ["myapp-main-frontend"],
    "strategy": "redblack",
}
TWELVE_EXPECTED = {
    ("credentials", "type"),
    ("application", "invalid"),
    ("stack", "invalid"),
    ("freeFormDetails", "invalid"),
    ("availabilityZones.us-east-1[1]", "type"),
    ("availabilityZones.us-west-2[0]", "invalid"),
    ("capacity.min", "range"),
    ("capacity.max", "type"),
    ("capacity.desired", "type"),
    ("instanceType", "required"),
    ("securityGroups", "type"),
    ("healthCheckGracePeriod", "range"),
}


def test_a_payload_with_twelve_mistakes_gets_twelve_errors() -> None:
    result = parse_operation("createServerGroup", TWELVE_MISTAKES, provider="aws")
    assert result.operation is None and not result.ok
    assert len(result.errors) == 12
    assert errors_of(result) == TWELVE_EXPECTED
    for error in result.errors:
        assert error.path in error.message, error  # each message names its field...
        assert len(error.message) > len(error.path) + 20, error  # ...and says more than that
    messages = {e.path: e.message for e in result.errors}
    assert "got the boolean true" in messages["capacity.max"]
    assert "letters, digits" in messages["application"]
    assert "us-west-2a" in messages["availabilityZones.us-west-2[0]"]


def test_the_twelve_mistakes_in_a_list_body_get_prefixed_paths() -> None:
    body = [
        {"allowLaunchDescription": only("aws_deploy.json", "allowLaunchDescription")},
        {"createServerGroup": TWELVE_MISTAKES},
    ]
    ops, errors = parse_operation_list(body, provider="aws")
    assert ops == ()
    assert {(e.path, e.code) for e in errors} == {(f"[1].createServerGroup.{p}", c) for p, c in TWELVE_EXPECTED}


# --- single rules -------------------------------------------------------------------------------------------------


def deploy(**changes: Any) -> dict[str, Any]:
    context = copy.deepcopy(only("aws_deploy.json", "createServerGroup"))
    for key, value in changes.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return context


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        ({"min": 3, "max": 2, "desired": 2}, {("capacity", "range")}),
        ({"min": 1, "max": 4, "desired": 5}, {("capacity.desired", "range")}),
        ({"min": 1, "max": 4}, {("capacity.desired", "required")}),
        ({"min": 1.5, "max": 4, "desired": 2}, {("capacity.min", "type")}),
        ({"min": False, "max": 4, "desired": 2}, {("capacity.min", "type")}),
        ([1, 4, 2], {("capacity", "type")}),
    ],
)
def test_capacity_rules(capacity: Any, expected: set[tuple[str, str]]) -> None:
    assert errors_of(parse_operation("createServerGroup", deploy(capacity=capacity))) == expected


def test_capacity_accepts_integer_strings_as_jackson_does() -> None:
    op = parsed("createServerGroup", deploy(capacity={"min": "1", "max": "4", "desired": "2"}))
    assert op.capacity == Capacity(1, 4, 2)


def test_a_mistyped_setting_is_reported_once() -> None:
    result = parse_operation("createServerGroup", deploy(instanceType=5))
    assert [(e.path, e.code) for e in result.errors] == [("instanceType", "type")]
    result = parse_operation("createServerGroup", deploy(instanceType=None))
    assert [(e.path, e.code) for e in result.errors] == [("instanceType", "required")]


def test_a_missing_capacity_and_image_are_reported() -> None:
    result = parse_operation("createServerGroup", deploy(capacity=None, amiName=None))
    assert errors_of(result) == {("capacity", "required"), ("amiName", "required")}


def test_aws_takes_account_when_credentials_is_absent_and_credentials_wins() -> None:
    op = parsed("createServerGroup", deploy(credentials=None, account="prod"))
    assert op.account == "prod"
    op = parsed("createServerGroup", deploy(credentials="prod", account="test"))
    assert op.account == "prod"


def test_titus_reads_the_account_from_credentials_only() -> None:
    context = only("titus_resize.json", "resizeServerGroup") | {"account": "titustest"}
    del context["credentials"]
    result = parse_operation("resizeServerGroup", context)
    assert errors_of(result) == {("credentials", "required")}
    assert "not 'account'" in result.errors[0].message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"availabilityZones": {}}, {("availabilityZones", "required")}),
        ({"availabilityZones": ["us-east-1"]}, {("availabilityZones", "type")}),
        ({"availabilityZones": {" ": ["us-east-1a"]}}, {("availabilityZones", "invalid")}),
        ({"availabilityZones": {"us-east-1": "us-east-1a"}}, {("availabilityZones.us-east-1", "type")}),
        ({"availabilityZones": None, "regions": ["us-east-1"]}, {("availabilityZones", "required")}),
        ({"availabilityZones": None, "region": "us-east-1"}, {("availabilityZones", "required")}),
        ({"availabilityZones": None}, {("availabilityZones", "required")}),
        ({"availabilityZones": {"us-east-1": []}, "subnetType": None}, {("availabilityZones", "required")}),
    ],
)
def test_location_rules(changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert errors_of(parse_operation("createServerGroup", deploy(**changes))) == expected


def test_an_aws_deploy_takes_its_regions_from_availability_zones_alone() -> None:
    """clouddriver-aws `deploy/description/BasicAmazonDeployDescription.groovy` has no region or regions field, and
    `deploy/validators/BasicAmazonDeployDescriptionValidator.groovy` refuses an empty availabilityZones; empty zone
    lists are fine with a subnetType."""
    result = parse_operation("createServerGroup", deploy(availabilityZones=None, regions=["us-west-2"]))
    assert errors_of(result) == {("availabilityZones", "required")}
    assert "'regions'" in result.errors[0].message and "availabilityZones.empty" in result.errors[0].message
    op = parsed("createServerGroup", deploy(availabilityZones={"us-west-2": [], "us-east-1": []}))
    assert op.regions == ("us-east-1", "us-west-2")
    assert op.location.zones == {"us-west-2": (), "us-east-1": ()}


def test_name_parts_come_from_the_moniker_when_absent() -> None:
    context = deploy(application=None, stack=None, freeFormDetails=None)
    context["moniker"] = {"app": "myapp", "stack": "main", "detail": "canary"}
    op = parsed("createServerGroup", context)
    assert (op.application, op.stack, op.detail) == ("myapp", "main", "canary")
    assert op.cluster == "myapp-main-canary"


def test_rollback_on_failure_is_read() -> None:
    assert parsed("createServerGroup", deploy(rollback={"onFailure": True})).compensate_on_failure is True
    result = parse_operation("createServerGroup", deploy(rollback={"onFailure": "yes"}))
    assert errors_of(result) == {("rollback.onFailure", "type")}


def test_titus_deploy_requires_positive_resources() -> None:
    context = only("titus_deploy.json", "createServerGroup") | {"resources": {"cpu": 0, "memory": "x", "disk": 10}}
    result = parse_operation("createServerGroup", context)
    assert errors_of(result) == {("resources.cpu", "range"), ("resources.memory", "type")}
    del context["resources"]
    assert errors_of(parse_operation("createServerGroup", context)) == {("resources", "required")}


def test_server_group_operations_take_asg_name_and_several_regions() -> None:
    context = {
        "cloudProvider": "aws",
        "credentials": "prod",
        "regions": ["us-west-2", "us-east-1"],
        "asgName": "myapp-v001",
    }
    op = parsed("enableServerGroup", context)
    assert isinstance(op, EnableServerGroup)
    assert (op.server_group_name, op.regions, op.application) == ("myapp-v001", ("us-east-1", "us-west-2"), "myapp")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"serverGroupName": None}, {("serverGroupName", "required")}),
        ({"serverGroupName": "bad name"}, {("serverGroupName", "invalid")}),
        ({"region": None}, {("region", "required")}),
        ({"region": ""}, {("region", "required")}),
        ({"capacity": {"min": 2, "max": 6, "desired": 7}}, {("capacity.desired", "range")}),
        ({"moniker": {"app": "my app"}}, {("moniker.app", "invalid")}),
    ],
)
def test_resize_rules(changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    context = only("aws_resize.json", "resizeServerGroup")
    for key, value in changes.items():
        if value is None:
            context.pop(key)
        else:
            context[key] = value
    assert errors_of(parse_operation("resizeServerGroup", context)) == expected


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([], {("instanceIds", "required")}),
        (None, {("instanceIds", "required")}),
        ("i-1", {("instanceIds", "type")}),
        (["i-1", 7], {("instanceIds[1]", "type")}),
        (["i-1", ""], {("instanceIds[1]", "invalid")}),
        (["i-1", "i-1"], {("instanceIds", "invalid")}),
    ],
)
def test_instance_ids_rules(ids: Any, expected: set[tuple[str, str]]) -> None:
    context = only("aws_terminate.json", "terminateInstances") | {"instanceIds": ids}
    assert errors_of(parse_operation("terminateInstances", context)) == expected


def lb(**changes: Any) -> dict[str, Any]:
    return only("aws_upsert_load_balancer.json", "upsertLoadBalancer") | changes


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"listeners": []}, {("listeners", "required")}),
        ({"listeners": "HTTP:80"}, {("listeners", "type")}),
        (
            {
                "listeners": [
                    {"externalProtocol": "FTP", "externalPort": 0, "internalProtocol": "HTTP", "internalPort": 70000}
                ]
            },
            {
                ("listeners[0].externalProtocol", "invalid"),
                ("listeners[0].externalPort", "range"),
                ("listeners[0].internalPort", "range"),
            },
        ),
        (
            {"listeners": [{"externalProtocol": "HTTP", "externalPort": 80}, 3]},
            {
                ("listeners[0].internalProtocol", "required"),
                ("listeners[0].internalPort", "required"),
                ("listeners[1]", "type"),
            },
        ),
        ({"healthCheck": "HTTP:7001"}, {("healthCheck", "invalid")}),
        ({"healthCheck": "TCP:7001/x"}, {("healthCheck", "invalid")}),
        ({"healthCheck": "HTTP:99999/x"}, {("healthCheck", "invalid")}),
        ({"name": "-bad-"}, {("name", "invalid")}),
        ({"name": "x" * 33}, {("name", "invalid")}),
        ({"loadBalancerType": "application"}, {("loadBalancerType", "invalid")}),
        ({"isInternal": "true"}, {("isInternal", "type")}),
    ],
)
def test_load_balancer_rules(changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert errors_of(parse_operation("upsertLoadBalancer", lb(**changes), provider="aws")) == expected


def test_health_check_tcp_without_path_is_fine() -> None:
    assert parsed("upsertLoadBalancer", lb(healthCheck="TCP:7001"), "aws").health_check == "TCP:7001"


def test_a_clone_needs_a_source_or_the_regions_to_copy_the_clusters_latest_group_in() -> None:
    """clouddriver-aws `deploy/ops/CopyLastAsgAtomicOperation.groovy`: without a source region and name, the target
    cluster's latest group in each region of availabilityZones is copied. Titus needs its source."""
    base = {"cloudProvider": "aws", "credentials": "prod"}
    assert errors_of(parse_operation("cloneServerGroup", base)) == {
        ("availabilityZones", "required"),
        ("application", "required"),
    }
    op = parsed("cloneServerGroup", base | {"application": "myapp", "availabilityZones": {"us-east-1": []}})
    assert isinstance(op, CloneServerGroup) and op.source is None and op.regions == ("us-east-1",)
    titus = {"cloudProvider": "titus", "credentials": "titustest"}
    assert errors_of(parse_operation("cloneServerGroup", titus)) == {("source", "required")}
    result = parse_operation("cloneServerGroup", titus | {"source": {"region": 1}})
    assert errors_of(result) == {("source.region", "type"), ("source.serverGroupName", "required")}


# --- names, providers, shapes --------------------------------------------------------------------------------------


def test_unknown_operation_and_unknown_provider_are_both_reported() -> None:
    result = parse_operation("rebootTheWorld", {"cloudProvider": "gce"})
    assert errors_of(result) == {("", "unknown_operation"), ("cloudProvider", "unknown_provider")}
    assert "resizeServerGroup" in result.errors[0].message


def test_provider_from_the_url_must_be_known_and_agree_with_the_context() -> None:
    context = only("aws_resize.json", "resizeServerGroup")
    assert errors_of(parse_operation("resizeServerGroup", context, provider="gce")) == {("", "unknown_provider")}
    assert errors_of(parse_operation("resizeServerGroup", context, provider="titus")) == {("cloudProvider", "invalid")}


def test_titus_has_no_load_balancer_operations() -> None:
    result = parse_operation("upsertLoadBalancer", lb(), provider="titus")
    assert errors_of(result) == {("", "unknown_operation")}
    assert "titus supports" in result.errors[0].message


@pytest.mark.parametrize("context", [None, [], "x", 3, True])
def test_a_context_that_is_not_an_object_is_one_error(context: Any) -> None:
    assert errors_of(parse_operation("resizeServerGroup", context, provider="aws")) == {("", "type")}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"resizeServerGroup": {}}, {("", "type")}),
        ([], {("", "required")}),
        ([{"a": {}, "b": {}}], {("[0]", "invalid")}),
        (["resizeServerGroup"], {("[0]", "invalid")}),
        ([{"nope": {}}], {("[0].nope", "unknown_operation")}),
        (
            [{"disableServerGroup": {"credentials": "prod", "region": "us-east-1"}}, {"terminateInstances": 5}],
            {("[0].disableServerGroup.serverGroupName", "required"), ("[1].terminateInstances", "type")},
        ),
    ],
)
def test_parse_operation_list_error_paths(body: Any, expected: set[tuple[str, str]]) -> None:
    ops, errors = parse_operation_list(body, provider="aws")
    assert ops == ()
    assert {(e.path, e.code) for e in errors} == expected


def test_field_error_json_round_trip() -> None:
    error = FieldError("capacity.min", "'capacity.min' must be 0 or more, got -1", "range")
    assert error.to_json() == {"path": "capacity.min", "message": error.message, "code": "range"}
    assert FieldError.from_json(error.to_json()) == error


def test_public_api_is_pinned() -> None:
    expected = {
        "OperationName",
        "FieldError",
        "ParseResult",
        "CloudOperation",
        "parse_operation",
        "parse_operation_list",
        "check_world",
        "capacity_reached",
        "compensation_plan",
    }
    assert expected <= set(catalogue.__all__)
    for name in catalogue.__all__:
        assert hasattr(catalogue, name), name
    from cloud.catalogue import naming

    assert {"Names", "cluster_name", "server_group_name", "parse_server_group_name", "next_sequence"} <= set(
        naming.__all__
    )
