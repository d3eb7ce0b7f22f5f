"""`SimCloudClient`: the sim cloud's HTTP API as a `CloudProvider`, over one pooled, thread-safe httpx client.

Every failure arrives as the `cloud.errors` class the in-process `SimCloud` raises (the server sends
`CloudError.to_json()`; `error_from_json` rebuilds it). When no answer arrives at all (connection failure,
client-side timeout), a mutation raises CloudTimeout, because it may have been applied and only a retry with
the same token is safe; a read raises CloudServerError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from cloud.errors import (
    CloudError,
    CloudServerError,
    CloudTimeout,
    InvalidRequest,
    Throttled,
    error_from_json,
)
from cloud.model import JSON, Account, Capacity, Instance, LoadBalancer, LoadBalancerSpec, ServerGroup, ServerGroupSpec
from cloud.plan import MutationKind
from cloud.sim.faults import FaultConfig
from cloud.sim.journal import JournalEntry

__all__ = ["SimCloudClient"]

T = TypeVar("T")


class SimCloudClient:
    """A CloudProvider that calls a sim cloud served by `cloudops sim-cloud` (or `cloud.sim.server.create_app`)."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimCloudClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        data = self._read("accounts", {})
        return _decode(lambda: [Account.from_json(a) for a in data["accounts"]], mutation=False)

    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]:
        params = {"account": account, "region": region} | ({"cluster": cluster} if cluster is not None else {})
        data = self._read("listServerGroups", params)
        return _decode(lambda: [ServerGroup.from_json(g) for g in data["serverGroups"]], mutation=False)

    def describe_server_group(self, account: str, region: str, name: str) -> ServerGroup | None:
        data = self._read("describeServerGroup", {"account": account, "region": region, "name": name})
        return _decode(lambda: _optional(ServerGroup.from_json, data["serverGroup"]), mutation=False)

    def describe_instances(self, account: str, region: str, server_group: str) -> list[Instance]:
        data = self._read("describeInstances", {"account": account, "region": region, "serverGroup": server_group})
        return _decode(lambda: [Instance.from_json(i) for i in data["instances"]], mutation=False)

    def describe_load_balancer(self, account: str, region: str, name: str) -> LoadBalancer | None:
        data = self._read("describeLoadBalancer", {"account": account, "region": region, "name": name})
        return _decode(lambda: _optional(LoadBalancer.from_json, data["loadBalancer"]), mutation=False)

    def load_balancer_instances(self, account: str, region: str, name: str) -> list[str]:
        """Ids of the instances registered with a load balancer (enabled groups only); NotFound if it is missing."""
        data = self._read("loadBalancerInstances", {"account": account, "region": region, "name": name})
        return _decode(lambda: [str(i) for i in data["instanceIds"]], mutation=False)

    # -- mutations -----------------------------------------------------------------------------------------------

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup:
        body = {"account": account, "region": region, "spec": spec.to_json(), "token": token}
        data = self._mutate(MutationKind.CREATE_SERVER_GROUP, body)
        return _decode(lambda: ServerGroup.from_json(data["serverGroup"]), mutation=True)

    def resize_server_group(self, account: str, region: str, name: str, capacity: Capacity, token: str) -> ServerGroup:
        body = {"account": account, "region": region, "name": name, "capacity": capacity.to_json(), "token": token}
        data = self._mutate(MutationKind.RESIZE_SERVER_GROUP, body)
        return _decode(lambda: ServerGroup.from_json(data["serverGroup"]), mutation=True)

    def enable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup:
        data = self._mutate(MutationKind.ENABLE_SERVER_GROUP, _named(account, region, name, token))
        return _decode(lambda: ServerGroup.from_json(data["serverGroup"]), mutation=True)

    def disable_server_group(self, account: str, region: str, name: str, token: str) -> ServerGroup:
        data = self._mutate(MutationKind.DISABLE_SERVER_GROUP, _named(account, region, name, token))
        return _decode(lambda: ServerGroup.from_json(data["serverGroup"]), mutation=True)

    def destroy_server_group(self, account: str, region: str, name: str, token: str) -> None:
        self._mutate(MutationKind.DESTROY_SERVER_GROUP, _named(account, region, name, token))

    def terminate_instances(self, account: str, region: str, instance_ids: tuple[str, ...], token: str) -> None:
        body = {"account": account, "region": region, "instanceIds": list(instance_ids), "token": token}
        self._mutate(MutationKind.TERMINATE_INSTANCES, body)

    def upsert_load_balancer(self, account: str, region: str, spec: LoadBalancerSpec, token: str) -> LoadBalancer:
        body = {"account": account, "region": region, "spec": spec.to_json(), "token": token}
        data = self._mutate(MutationKind.UPSERT_LOAD_BALANCER, body)
        return _decode(lambda: LoadBalancer.from_json(data["loadBalancer"]), mutation=True)

    def delete_load_balancer(self, account: str, region: str, name: str, token: str) -> None:
        self._mutate(MutationKind.DELETE_LOAD_BALANCER, _named(account, region, name, token))

    # -- journal and admin ---------------------------------------------------------------------------------------

    def journal(self, since: int = 0) -> list[JournalEntry]:
        """Every mutation the server applied with `seq > since`, in order."""
        data = self._send("GET", "/journal", params={"since": since}, mutation=False)
        return _decode(lambda: [JournalEntry.from_json(e) for e in data["entries"]], mutation=False)

    def set_hard_down(self, account: str | None = None, region: str | None = None, down: bool = True) -> None:
        body = {"account": account, "region": region, "down": down}
        self._send("POST", "/admin/hard-down", json=body, mutation=False)

    def faults(self) -> FaultConfig:
        data = self._send("GET", "/admin/faults", mutation=False)
        return _decode(lambda: FaultConfig.from_json(data["faults"]), mutation=False)

    def set_faults(self, faults: FaultConfig) -> None:
        self._send("POST", "/admin/faults", json=faults.to_json(), mutation=False)

    def set_fault_rate(self, rate: float) -> None:
        self._send("POST", "/admin/faults", json={"rate": rate}, mutation=False)

    def injected_faults(self) -> dict[str, int]:
        data = self._send("GET", "/admin/faults", mutation=False)
        return _decode(lambda: {str(k): int(v) for k, v in data["injected"].items()}, mutation=False)

    def healthy(self) -> bool:
        """Whether the server answers `GET /healthz`."""
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    # -- transport -----------------------------------------------------------------------------------------------

    def _read(self, name: str, params: Mapping[str, str]) -> dict[str, Any]:
        return self._send("GET", f"/v1/{name}", params=params, mutation=False)

    def _mutate(self, kind: MutationKind, body: Mapping[str, JSON]) -> dict[str, Any]:
        return self._send("POST", f"/v1/{kind.value}", json=body, mutation=True)

    def _send(
        self,
        method: str,
        path: str,
        *,
        mutation: bool,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, JSON] | None = None,
    ) -> dict[str, Any]:
        context = {k: str((json or params or {}).get(k) or "") for k in ("account", "region")}
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            what = f"{method} {self.base_url}{path}: no answer ({type(exc).__name__}: {exc})"
            if mutation:
                raise CloudTimeout(what + "; it may have been applied, retry with the same token", **context) from None
            raise CloudServerError(what, **context) from None
        if response.is_success:
            try:
                data = response.json()
            except ValueError:
                data = None
            if isinstance(data, dict):
                return data
            raise _garbled(f"{method} {path}: the answer is not a JSON object", mutation)
        raise _error_for(response, mutation, context)


def _named(account: str, region: str, name: str, token: str) -> dict[str, JSON]:
    return {"account": account, "region": region, "name": name, "token": token}


def _optional(parse: Callable[[Any], T], value: Any) -> T | None:
    return None if value is None else parse(value)


def _garbled(message: str, mutation: bool) -> CloudError:
    return CloudTimeout(message) if mutation else CloudServerError(message)


def _decode(build: Callable[[], T], *, mutation: bool) -> T:
    """Build a value from an answer's JSON; an answer of the wrong shape is a server fault, not a crash."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _garbled(
            f"the sim cloud answered with an unexpected shape: {type(exc).__name__}: {exc}", mutation
        ) from None


def _error_for(response: httpx.Response, mutation: bool, context: dict[str, str]) -> CloudError:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return error_from_json(data)
    # Not a sim cloud's JSON: a proxy, or not a sim cloud at all. Classify by status alone; a mutation that met a
    # 5xx may still have been applied behind the proxy.
    message = f"HTTP {response.status_code} from {response.request.url} (is it a sim cloud?): {response.text[:200]}"
    status = response.status_code
    if status == 429:
        return Throttled(message, **context)
    if status < 500:
        return InvalidRequest(message, **context)
    return CloudTimeout(message, **context) if mutation else CloudServerError(message, **context)
