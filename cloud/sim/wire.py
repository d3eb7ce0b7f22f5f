"""The sim cloud's HTTP wire format: routes, and strict parsing of request JSON into model values.

Reads are `GET /v1/<read>?account=..&region=..`; mutations are `POST /v1/<MutationKind value>` with a JSON body
holding the call's arguments and its `token`. Parsing checks every type before building a value, so a malformed
request is an InvalidRequest (400) naming the field, never a 500.

    GET  /v1/accounts
    GET  /v1/listServerGroups      account, region, [cluster]
    GET  /v1/describeServerGroup   account, region, name
    GET  /v1/describeInstances     account, region, serverGroup
    GET  /v1/describeLoadBalancer  account, region, name
    GET  /v1/loadBalancerInstances account, region, name
    POST /v1/createServerGroup     {account, region, spec, token}
    POST /v1/resizeServerGroup     {account, region, name, capacity, token}
    POST /v1/enableServerGroup     {account, region, name, token}      (also disable-, destroyServerGroup)
    POST /v1/terminateInstances    {account, region, instanceIds, token}
    POST /v1/upsertLoadBalancer    {account, region, spec, token}
    POST /v1/deleteLoadBalancer    {account, region, name, token}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloud.errors import InvalidRequest
from cloud.model import Capacity, Listener, LoadBalancerSpec, ServerGroupSpec

__all__ = [
    "as_object",
    "capacity",
    "instance_ids",
    "load_balancer_spec",
    "optional_text",
    "server_group_spec",
    "text",
]


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"`{where}` must be a JSON object, not {_kind(value)}")
    return value


def text(data: Mapping[str, Any], key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"`{where}{key}` is required and must be a string, not {_kind(value)}")
    return value


def optional_text(data: Mapping[str, Any], key: str, where: str = "") -> str | None:
    return None if data.get(key) is None else text(data, key, where)


def _integer(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"`{where}{key}` is required and must be an integer, not {_kind(value)}")
    return value


def _boolean(data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"`{where}{key}` must be true or false, not {_kind(value)}")
    return value


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"`{where}{key}` must be a list of strings, not {_kind(value)}")
    return tuple(value)


def capacity(value: Any, where: str = "capacity") -> Capacity:
    data = as_object(value, where)
    return Capacity(
        min=_integer(data, "min", where + "."),
        max=_integer(data, "max", where + "."),
        desired=_integer(data, "desired", where + "."),
    )


def instance_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"`instanceIds` must be a list of instance id strings, not {_kind(value)}")
    return tuple(value)


def server_group_spec(value: Any) -> ServerGroupSpec:
    data = as_object(value, "spec")
    tags = as_object(data.get("tags", {}), "spec.tags")
    if not all(isinstance(v, str) for v in tags.values()):
        raise InvalidRequest("`spec.tags` values must be strings")
    return ServerGroupSpec(
        name=text(data, "name", "spec."),
        capacity=capacity(data.get("capacity"), "spec.capacity"),
        image=text(data, "image", "spec."),
        zones=_strings(data, "zones", "spec."),
        load_balancers=_strings(data, "loadBalancers", "spec."),
        security_groups=_strings(data, "securityGroups", "spec."),
        tags=dict(tags),
        settings=dict(as_object(data.get("settings", {}), "spec.settings")),
    )


def _listener(value: Any, where: str) -> Listener:
    data = as_object(value, where)
    return Listener(
        external_protocol=text(data, "externalProtocol", where + "."),
        external_port=_integer(data, "externalPort", where + "."),
        internal_protocol=text(data, "internalProtocol", where + "."),
        internal_port=_integer(data, "internalPort", where + "."),
    )


def load_balancer_spec(value: Any) -> LoadBalancerSpec:
    data = as_object(value, "spec")
    listeners = data.get("listeners", [])
    if not isinstance(listeners, list):
        raise InvalidRequest(f"`spec.listeners` must be a list, not {_kind(listeners)}")
    health_check = data.get("healthCheck", "")
    if not isinstance(health_check, str):
        raise InvalidRequest(f"`spec.healthCheck` must be a string, not {_kind(health_check)}")
    return LoadBalancerSpec(
        name=text(data, "name", "spec."),
        listeners=tuple(_listener(x, f"spec.listeners[{i}]") for i, x in enumerate(listeners)),
        health_check=health_check,
        internal=_boolean(data, "internal", "spec.", False),
        zones=_strings(data, "zones", "spec."),
        security_groups=_strings(data, "securityGroups", "spec."),
    )


def _kind(value: Any) -> str:
    if value is None:
        return "missing/null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "an object" if isinstance(value, Mapping) else type(value).__name__
    )
