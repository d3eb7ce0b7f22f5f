"""`cloudops sim-cloud` as a real subprocess: help, seeded determinism across runs, worlds, bad input."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from infra import Process, cloudops_argv, free_port, http_ok, start_process

from cloud.errors import CloudError
from cloud.model import Capacity, ServerGroupSpec
from cloud.provider import CloudProvider
from cloud.sim import FaultConfig, SimCloud
from cloud.sim.client import SimCloudClient
from cloudops.commands.sim_cloud import parse_fault_mix

EXAMPLE_WORLD = Path(__file__).with_name("sim_world_example.yaml")


@contextmanager
def sim_cloud(*args: str) -> Iterator[Process]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        cloudops_argv("sim-cloud", "--port", str(port), *args),
        port,
        ready=lambda: http_ok(f"{url}/healthz"),
        name="sim-cloud",
    )
    try:
        yield proc
    finally:
        proc.stop()


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cloudops_argv("sim-cloud", *args), capture_output=True, text=True, timeout=60)


def test_help_explains_the_command() -> None:
    result = _run_cli("--help")
    assert result.returncode == 0, result.stderr
    for fragment in ("--port", "--fault-rate", "--seed", "--world", "--latency-ms", "--health-delay", "/journal"):
        assert fragment in result.stdout
    assert "lost" in result.stdout and "idempotency token" in result.stdout


def _fixed_workload(client: CloudProvider) -> list[str]:
    """The same calls in the same order, no retries: each outcome is 'ok', an instance id, or an error code."""
    outcomes: list[str] = []

    def record(call: Callable[[], object]) -> None:
        try:
            result = call()
        except CloudError as exc:
            outcomes.append(exc.code)
        else:
            instances = getattr(result, "instances", None)
            outcomes.append(",".join(i.id for i in instances) if instances else "ok")

    for g in range(25):
        name = f"app-main-v{g:03d}"
        spec = ServerGroupSpec(name=name, capacity=Capacity(0, 5, 2), image="ami-1")
        record(lambda s=spec: client.create_server_group("prod", "us-east-1", s, f"{s.name}-c"))
        record(lambda n=name: client.describe_server_group("prod", "us-east-1", n))
        record(lambda n=name: client.resize_server_group("prod", "us-east-1", n, Capacity(0, 5, 3), f"{n}-r"))
        record(lambda n=name: client.disable_server_group("prod", "us-east-1", n, f"{n}-d"))
        record(lambda: client.list_server_groups("prod", "us-east-1", "app-main"))
        record(lambda n=name: client.destroy_server_group("prod", "us-east-1", n, f"{n}-x"))
    return outcomes


def test_the_same_seed_fails_the_same_calls_on_every_run() -> None:
    with ExitStack() as stack:
        first, second, other = (
            stack.enter_context(sim_cloud("--fault-rate", "0.04", "--seed", str(seed), "--health-delay", "0"))
            for seed in (7, 7, 8)
        )
        runs = []
        journals = []
        for proc in (first, second, other):
            with SimCloudClient(proc.url) as client:
                runs.append(_fixed_workload(client))
                journals.append([(e.seq, e.kind, e.target, e.token) for e in client.journal()])
    failures = [(i, o) for i, o in enumerate(runs[0]) if o in ("Throttling", "ServiceUnavailable", "RequestTimeout")]
    assert failures, "a 4% fault rate over 150 calls should fail some"
    assert runs[1] == runs[0]
    assert journals[1] == journals[0]
    assert runs[2] != runs[0]  # another seed: other failures and other instance ids
    in_process = SimCloud(faults=FaultConfig(rate=0.04, seed=7), health_delay_s=0)
    assert _fixed_workload(in_process) == runs[0]  # the HTTP layer adds no faults of its own


def test_a_world_file_and_a_fault_mix_shape_the_served_cloud() -> None:
    argv = ("--world", str(EXAMPLE_WORLD), "--fault-rate", "1", "--fault-mix", "lost_response=1", "--seed", "3")
    with sim_cloud(*argv) as proc:
        assert [a["name"] for a in httpx.get(f"{proc.url}/admin/world").json()["world"]["accounts"]] == [
            "prod",
            "staging",
            "titusprod",
        ]
        body = {
            "account": "staging",
            "region": "us-west-2",
            "token": "t1",
            "spec": ServerGroupSpec("app-v000", Capacity(0, 20, 1), "ami-1").to_json(),
        }
        response = httpx.post(f"{proc.url}/v1/createServerGroup", json=body)
        assert response.status_code == 504 and response.json()["code"] == "RequestTimeout"
        journal = httpx.get(f"{proc.url}/journal").json()
        assert [e["token"] for e in journal["entries"]] == ["t1"]
        faults = httpx.get(f"{proc.url}/admin/faults").json()["faults"]
        assert faults["throttle"] == 0 and faults["lostResponse"] == 1 and faults["seed"] == 3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--world", "/nonexistent.yaml"), "does not exist"),
        (("--world", str(Path(__file__))), "--world"),
        (("--fault-rate", "1.5"), "--fault-rate"),
        (("--fault-mix", "lots=1"), "KIND=WEIGHT"),
        (("--port", "0"), "--port"),
    ],
)
def test_bad_options_are_reported_without_a_traceback(args: tuple[str, ...], fragment: str) -> None:
    result = _run_cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_a_busy_port_is_reported_without_a_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = _run_cli("--port", str(busy.getsockname()[1]))
    assert result.returncode == 1
    assert "cannot serve on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr


def test_fault_mixes_parse_into_weights() -> None:
    assert parse_fault_mix("throttle=2, lost_response=1") == {
        "throttle": 2.0,
        "serverError": 0.0,
        "timeout": 0.0,
        "lostResponse": 1.0,
    }
    for bad in ("", "throttle", "throttle=x", "other=1"):
        with pytest.raises(ValueError):
            parse_fault_mix(bad)
