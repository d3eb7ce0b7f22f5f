"""The sim cloud over real HTTP (waitress in a thread): the client behaves as the in-process cloud, errors keep
their class and status, malformed requests get 4xx JSON, lost responses are journaled once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from infra import free_port, wait_until
from waitress import wasyncore
from waitress.server import create_server

from cloud import errors
from cloud.factory import open_provider
from cloud.model import Capacity, Listener, LoadBalancerSpec, ServerGroupSpec
from cloud.provider import CloudProvider
from cloud.sim import FaultConfig, JournalEntry, SimCloud
from cloud.sim.client import SimCloudClient
from cloud.sim.server import create_app

A, R = "prod", "us-east-1"
EXAMPLE_WORLD = Path(__file__).with_name("sim_world_example.yaml")


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def serve(sim: SimCloud) -> Iterator[str]:
    """Serve `sim` with waitress on a free loopback port, in a thread, for the duration of the block."""
    server: Any = create_server(create_app(sim), host="127.0.0.1", port=0, threads=8)
    stop = threading.Event()

    def loop() -> None:
        # waitress's own run() has no stop; its loop, one short step at a time, does.
        while not stop.is_set():
            wasyncore.loop(timeout=0.02, map=server._map, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()
        for channel in list(server._map.values()):
            channel.close()


@pytest.fixture
def sim() -> SimCloud:
    return SimCloud(health_delay_s=5.0, clock=FakeClock())


@pytest.fixture
def url(sim: SimCloud) -> Iterator[str]:
    with serve(sim) as base_url:
        yield base_url


@pytest.fixture
def client(url: str) -> Iterator[SimCloudClient]:
    with SimCloudClient(url, timeout_s=5.0) as c:
        yield c


def spec(name: str = "app-main-v000", desired: int = 2, lbs: tuple[str, ...] = ()) -> ServerGroupSpec:
    return ServerGroupSpec(name=name, capacity=Capacity(0, 10, desired), image="ami-1", load_balancers=lbs)


LB = LoadBalancerSpec("app-frontend", (Listener("HTTP", 80, "HTTP", 7001),), health_check="HTTP:7001/health")

Step = Callable[[Any], object]

SCRIPT: list[Step] = [
    lambda p: p.accounts(),
    lambda p: p.create_server_group(A, R, spec(), "t1"),
    lambda p: p.create_server_group(A, R, spec(), "t1"),
    lambda p: p.create_server_group(A, R, spec(), "t2"),
    lambda p: p.create_server_group(A, R, spec(desired=3), "t1"),
    lambda p: p.create_server_group("nope", R, spec(), "t3"),
    lambda p: p.create_server_group(A, "mars-1", spec(), "t3"),
    lambda p: p.create_server_group(A, R, spec("big", desired=500), "t3"),
    lambda p: p.create_server_group(A, R, spec("bad name"), "t3"),
    lambda p: p.create_server_group(A, R, spec("lb-user-v000", lbs=("app-frontend",)), "t3"),
    lambda p: p.upsert_load_balancer(A, R, LB, "t4"),
    lambda p: p.describe_load_balancer(A, R, "app-frontend"),
    lambda p: p.describe_load_balancer(A, R, "missing"),
    lambda p: p.create_server_group(A, R, spec("lb-user-v000", lbs=("app-frontend",)), "t5"),
    lambda p: p.load_balancer_instances(A, R, "app-frontend"),
    lambda p: p.resize_server_group(A, R, "app-main-v000", Capacity(1, 4, 3), "t6"),
    lambda p: p.resize_server_group(A, R, "app-main-v000", Capacity(5, 4, 3), "t7"),
    lambda p: p.disable_server_group(A, R, "lb-user-v000", "t8"),
    lambda p: p.load_balancer_instances(A, R, "app-frontend"),
    lambda p: p.enable_server_group(A, R, "lb-user-v000", "t9"),
    lambda p: p.list_server_groups(A, R, "app-main"),
    lambda p: p.list_server_groups(A, R),
    lambda p: p.describe_server_group(A, R, "app-main-v000"),
    lambda p: p.describe_server_group(A, R, "missing"),
    lambda p: p.describe_instances(A, R, "lb-user-v000"),
    lambda p: p.describe_instances(A, R, "missing"),
    lambda p: p.terminate_instances(A, R, (p.describe_instances(A, R, "app-main-v000")[0].id,), "t10"),
    lambda p: p.terminate_instances(A, R, ("i-0123456789abcdef0",), "t11"),
    lambda p: p.destroy_server_group(A, R, "app-main-v000", "t12"),
    lambda p: p.destroy_server_group(A, R, "app-main-v000", "t12"),
    lambda p: p.destroy_server_group(A, R, "app-main-v000", "t13"),
    lambda p: p.delete_load_balancer(A, R, "app-frontend", "t14"),
    lambda p: p.delete_load_balancer(A, R, "app-frontend", "t15"),
    lambda p: p.create_server_group(A, R, spec(), ""),
    lambda p: p.set_hard_down(account="test"),
    lambda p: p.list_server_groups("test", R),
    lambda p: p.set_hard_down(account="test", down=False),
    lambda p: p.list_server_groups("test", R),
]


def _as_json(value: object) -> object:
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else value


def _run(provider: object) -> list[object]:
    outcomes: list[object] = []
    for step in SCRIPT:
        try:
            outcomes.append(("ok", _as_json(step(provider))))
        except errors.CloudError as exc:
            outcomes.append((type(exc).__name__, exc.to_json()))
    return outcomes


def test_the_http_client_behaves_exactly_as_the_in_process_cloud(client: SimCloudClient, sim: SimCloud) -> None:
    local = SimCloud(health_delay_s=5.0, clock=FakeClock())
    expected = _run(local)
    assert _run(client) == expected
    kinds = {outcome[0] for outcome in expected}  # type: ignore[index]
    assert kinds >= {"ok", "AlreadyExists", "IdempotencyConflict", "UnknownAccount", "UnknownRegion"}
    assert kinds >= {"CapacityOutOfBounds", "InvalidRequest", "NotFound", "CloudUnavailable"}
    assert client.journal() == local.journal() == sim.journal()
    assert [e.token for e in client.journal(since=3)] == [e.token for e in local.journal()[3:]]
    assert isinstance(client, CloudProvider)


@pytest.mark.parametrize(
    ("kind", "cls", "status"),
    [
        ("throttle", errors.Throttled, 429),
        ("server_error", errors.CloudServerError, 503),
        ("timeout", errors.CloudTimeout, 504),
        ("lost_response", errors.CloudTimeout, 504),
    ],
)
def test_injected_faults_travel_with_their_status(
    client: SimCloudClient, url: str, kind: str, cls: type[errors.CloudError], status: int
) -> None:
    weights = {k: 1.0 if k == kind else 0.0 for k in ("throttle", "server_error", "timeout", "lost_response")}
    client.set_faults(FaultConfig(rate=1.0, seed=1, **weights))
    with pytest.raises(cls) as info:
        client.create_server_group(A, R, spec(), "t1")
    assert type(info.value) is cls and info.value.account == A and info.value.target == "app-main-v000"
    body = {"account": A, "region": R, "name": "x", "token": "t2"}
    response = httpx.post(f"{url}/v1/enableServerGroup", json=body)
    assert response.status_code == status and response.json()["retryable"] is True
    assert len(client.journal()) == (1 if kind == "lost_response" else 0)


def test_rejections_travel_with_their_status(client: SimCloudClient, url: str) -> None:
    client.create_server_group(A, R, spec(), "t1")
    cases = [
        ({"account": A, "region": R, "spec": spec().to_json(), "token": "t2"}, 409, "AlreadyExists"),
        ({"account": A, "region": R, "spec": spec(desired=1).to_json(), "token": "t1"}, 409, "IdempotencyConflict"),
        ({"account": "x", "region": R, "spec": spec().to_json(), "token": "t3"}, 404, "UnknownAccount"),
        ({"account": A, "region": "x", "spec": spec().to_json(), "token": "t3"}, 404, "UnknownRegion"),
        ({"account": A, "region": R, "spec": spec("b", 200).to_json(), "token": "t3"}, 422, "CapacityOutOfBounds"),
        ({"account": A, "region": R, "spec": spec("b c").to_json(), "token": "t3"}, 400, "InvalidRequest"),
    ]
    for body, status, code in cases:
        response = httpx.post(f"{url}/v1/createServerGroup", json=body)
        assert (response.status_code, response.json()["code"]) == (status, code)
    response = httpx.get(f"{url}/v1/describeInstances", params={"account": A, "region": R, "serverGroup": "zz"})
    assert (response.status_code, response.json()["code"]) == (404, "NotFound")
    client.set_hard_down(region=R)
    response = httpx.get(f"{url}/v1/listServerGroups", params={"account": A, "region": R})
    assert (response.status_code, response.json()["code"]) == (503, "Unavailable")
    assert httpx.get(f"{url}/admin/hard-down").json() == {"hardDown": [{"account": None, "region": R}]}


def _create(spec_changes: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A createServerGroup body with some spec fields changed; a top-level field set to `...` is left out."""
    body: dict[str, Any] = {
        "account": A,
        "region": R,
        "token": "t",
        "spec": {**spec().to_json(), **(spec_changes or {})},
    }
    body.update(top)
    return {k: v for k, v in body.items() if v is not ...}


def _upsert(**spec_overrides: Any) -> dict[str, Any]:
    return {"account": A, "region": R, "token": "t", "spec": {**LB.to_json(), **spec_overrides}}


MALFORMED: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/v1/createServerGroup", {"content": b"not json"}, 400, "request body"),
    ("POST", "/v1/createServerGroup", {"json": [1, 2]}, 400, "request body"),
    ("POST", "/v1/createServerGroup", {"json": _create(spec=...)}, 400, "`spec` must be a JSON object"),
    ("POST", "/v1/createServerGroup", {"json": _create(account=...)}, 400, "`account` is required"),
    ("POST", "/v1/createServerGroup", {"json": _create(token=7)}, 400, "`token`"),
    ("POST", "/v1/createServerGroup", {"json": _create(token="")}, 400, "idempotency token"),
    ("POST", "/v1/createServerGroup", {"json": _create({"name": 5})}, 400, "`spec.name`"),
    ("POST", "/v1/createServerGroup", {"json": _create({"capacity": {"min": "0"}})}, 400, "spec.capacity.min"),
    ("POST", "/v1/createServerGroup", {"json": _create({"capacity": [1]})}, 400, "spec.capacity"),
    ("POST", "/v1/createServerGroup", {"json": _create({"zones": "us-east-1a"})}, 400, "spec.zones"),
    ("POST", "/v1/createServerGroup", {"json": _create({"tags": {"a": 1}})}, 400, "spec.tags"),
    ("POST", "/v1/createServerGroup", {"json": _create({"settings": []})}, 400, "spec.settings"),
    (
        "POST",
        "/v1/createServerGroup",
        {"json": _create({"capacity": {"min": True, "max": 1, "desired": 1}})},
        400,
        "min",
    ),
    (
        "POST",
        "/v1/resizeServerGroup",
        {"json": {"account": A, "region": R, "name": "x", "token": "t"}},
        400,
        "capacity",
    ),
    (
        "POST",
        "/v1/terminateInstances",
        {"json": {"account": A, "region": R, "instanceIds": "i-1", "token": "t"}},
        400,
        "instanceIds",
    ),
    ("POST", "/v1/upsertLoadBalancer", {"json": _upsert(listeners={})}, 400, "spec.listeners"),
    ("POST", "/v1/upsertLoadBalancer", {"json": _upsert(listeners=[{"externalPort": "80"}])}, 400, "listeners[0]"),
    ("POST", "/v1/upsertLoadBalancer", {"json": _upsert(internal="yes")}, 400, "spec.internal"),
    ("POST", "/v1/upsertLoadBalancer", {"json": _upsert(healthCheck=1)}, 400, "spec.healthCheck"),
    ("GET", "/v1/describeServerGroup", {"params": {"account": A, "region": R}}, 400, "`name`"),
    ("GET", "/v1/nope", {}, 404, "/v1/nope"),
    ("GET", "/v1/createServerGroup", {}, 405, "createServerGroup"),
    ("GET", "/journal", {"params": {"since": "abc"}}, 400, "since"),
    ("POST", "/admin/faults", {"json": {"rate": 2}}, 400, "between 0 and 1"),
    ("POST", "/admin/faults", {"json": {"rate": "x"}}, 400, "must be a number"),
    ("POST", "/admin/faults", {"json": {"color": 1}}, 400, "unknown fault setting"),
    ("POST", "/admin/faults", {"content": b"[]"}, 400, "request body"),
    ("POST", "/admin/hard-down", {"json": {"down": "yes"}}, 400, "down"),
    ("POST", "/admin/hard-down", {"json": {"account": 3}}, 400, "account"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "fragment"), MALFORMED)
def test_malformed_requests_get_4xx_json_never_500(
    url: str, sim: SimCloud, method: str, path: str, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    response = httpx.request(method, url + path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == "InvalidRequest" and body["retryable"] is False
    assert fragment in body["message"]
    assert sim.journal() == [] and sim.hard_down() == [] and sim.faults == FaultConfig()


def test_lost_responses_retried_over_http_are_journaled_once(client: SimCloudClient, url: str) -> None:
    client.set_faults(FaultConfig(rate=0.5, seed=5, throttle=0, server_error=0, timeout=1, lost_response=3))
    tokens: list[str] = []

    def until_done(call: Callable[[str], object], token: str) -> object:
        tokens.append(token)
        for _ in range(60):
            try:
                return call(token)
            except errors.TransientCloudError:
                continue
        raise AssertionError(f"{token} never succeeded")

    for g in range(6):
        name = f"app-main-v{g:03d}"
        until_done(lambda t, n=name: client.create_server_group(A, R, spec(n), t), f"{name}-create")
        until_done(lambda t, n=name: client.resize_server_group(A, R, n, Capacity(0, 5, 3), t), f"{name}-resize")
        until_done(lambda t, n=name: client.destroy_server_group(A, R, n, t), f"{name}-destroy")

    assert client.injected_faults()["lost_response"] >= 5
    served = httpx.get(f"{url}/journal").json()
    assert [JournalEntry.from_json(e).token for e in served["entries"]] == tokens
    assert served["summary"]["duplicates"] == [] and served["summary"]["repeatedTokens"] == []
    assert served["summary"]["byKind"] == {"createServerGroup": 6, "resizeServerGroup": 6, "destroyServerGroup": 6}


def test_no_answer_is_a_timeout_for_mutations_and_a_server_error_for_reads() -> None:
    with SimCloudClient(f"http://127.0.0.1:{free_port()}", timeout_s=1.0) as nowhere:
        with pytest.raises(errors.CloudServerError) as read:
            nowhere.list_server_groups(A, R)
        assert read.value.account == A
        with pytest.raises(errors.CloudTimeout):
            nowhere.create_server_group(A, R, spec(), "t1")
        assert not nowhere.healthy()


def test_a_client_side_timeout_leaves_the_mutation_ambiguous(sim: SimCloud, url: str) -> None:
    sim.set_faults(FaultConfig(latency_median_ms=300.0))
    with SimCloudClient(url, timeout_s=0.05) as impatient:
        with pytest.raises(errors.CloudServerError):
            impatient.describe_server_group(A, R, "x")
        with pytest.raises(errors.CloudTimeout, match="retry with the same token"):
            impatient.create_server_group(A, R, spec(), "t1")
    wait_until(lambda: len(sim.journal()) == 1, timeout=5, what="the timed-out create to be applied")
    sim.set_faults(FaultConfig())
    with SimCloudClient(url) as patient:
        assert patient.create_server_group(A, R, spec(), "t1").name == "app-main-v000"
    assert len(sim.journal()) == 1


def test_one_client_serves_many_threads(client: SimCloudClient, sim: SimCloud) -> None:
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for g in range(5):
                name = f"w{worker}-v{g:03d}"
                client.create_server_group(A, R, spec(name, 1), name)
                assert client.describe_server_group(A, R, name) is not None
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(sim.journal()) == 40 and len(client.list_server_groups(A, R)) == 40


def test_admin_routes_report_and_change_the_fault_model(client: SimCloudClient, url: str) -> None:
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok" and client.healthy()
    client.set_fault_rate(0.25)
    assert client.faults() == FaultConfig(rate=0.25)
    world = httpx.get(f"{url}/admin/world").json()
    assert [a["name"] for a in world["world"]["accounts"]] == ["prod", "test", "titusprod", "titustest"]
    assert world["healthDelaySeconds"] == 5.0


def test_the_factory_opens_both_forms(url: str) -> None:
    remote = open_provider(url)
    assert isinstance(remote, SimCloudClient) and isinstance(remote, CloudProvider)
    assert [a.name for a in remote.accounts()][:2] == ["prod", "test"]
    remote.close()
    assert isinstance(open_provider("sim"), SimCloud)
    custom = open_provider(f"sim:{EXAMPLE_WORLD}")
    assert [a.name for a in custom.accounts()] == ["prod", "staging", "titusprod"]
