"""Every payload of the AWS corpus (tests/corpus/aws/*.json), through the catalogue, the legacy service and the
gateway's validation, each judged as Clouddriver judges it (issue 16 item 3).

Each entry was taken from Spinnaker's own sources (its `source`: clouddriver @ 2f5e98f0 integration inputs,
preprocessor, converter and validator specs and classes; orca @ 2fdb327a tasks and specs) and says what Clouddriver
does with it (`clouddriver`: accept, reject with the validator key, or accept then fail and why); `expect` is what
this toolkit does: `succeeded` (accepted and run on the sim world to success), `refused` (a 400 with exactly these
field paths and codes), or `failed` (accepted, then the run fails with that cloud error code). Where the toolkit
knowingly differs from Clouddriver, `cloudops` says how.

An accepted entry may also list the `mutations` it must make, `[region, target, params?]`, checked against the
plan and against what the sim cloud's journal saw: that is what shows which groups an older shape names.

The world is tests/corpus/aws/world.json (the accounts and regions the sources name); each file's `seed` are the
server groups (and `loadBalancer`s) that exist before each of its entries, on a fresh sim cloud per entry. An
instance id written `<instance of account/region/group>` is the first instance of that seeded group.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cloud.catalogue import check_world, parse_operation
from cloud.model import Capacity, Listener, LoadBalancerSpec, ServerGroupSpec
from cloud.sim import SimCloud
from cloud.sim.world import load_world
from clouddriver_wire.errors import ValidationFailed
from gateway.submission import resolve_operations
from legacy_clouddriver import create_app

CORPUS = Path(__file__).parent / "aws"
LEGACY_FAST = {"HEALTH_POLL_S": 0.01, "HEALTH_TIMEOUT_S": 5, "PROVIDER_BACKOFF_S": 0.01, "ACCOUNTS_TTL_S": 0}
_INSTANCE = re.compile(r"<instance of ([^/]+)/([^/]+)/([^>]+)>")
VERDICTS = ("accept", "reject: ", "accept then fail: ")


@dataclass(frozen=True)
class Case:
    operation: str
    name: str
    entry: dict[str, Any]
    seed: list[dict[str, Any]]

    @property
    def expect(self) -> dict[str, Any]:
        return dict(self.entry["expect"])

    def mutations(self) -> list[list[Any]] | None:
        found = self.expect.get("mutations")
        return [list(m) for m in found] if found is not None else None

    def refusals(self) -> set[tuple[str, str]]:
        return {(path, code) for path, code in self.expect.get("errors", ())}


def _cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        if path.name == "world.json":
            continue
        data = json.loads(path.read_text())
        for entry in data["entries"]:
            cases.append(Case(data["operation"], entry["name"], entry, data["seed"]))
    return cases


CASES = _cases()
IDS = [f"{c.operation}: {c.name}" for c in CASES]


def sim_world(case: Case) -> SimCloud:
    sim = SimCloud(load_world(CORPUS / "world.json"), health_delay_s=0.01)
    for i, group in enumerate(case.seed):
        if "loadBalancer" in group:
            listener = Listener("HTTP", 80, "HTTP", 7001)
            lb = LoadBalancerSpec(group["loadBalancer"], (listener,), zones=(f"{group['region']}a",))
            sim.upsert_load_balancer(group["account"], group["region"], lb, token=f"seed-{i}")
            continue
        spec = ServerGroupSpec(
            name=group["name"],
            capacity=Capacity(**group["capacity"]),
            image="corpus-ami",
            zones=(f"{group['region']}a",),
            settings={"instanceType": "m5.large"},
        )
        sim.create_server_group(group["account"], group["region"], spec, token=f"seed-{i}")
    return sim


def payload(case: Case, sim: SimCloud) -> dict[str, Any]:
    """The entry's payload with instance placeholders resolved against `sim`."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and (m := _INSTANCE.fullmatch(value)):
            return sim.describe_instances(m.group(1), m.group(2), m.group(3))[0].id
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    resolved: dict[str, Any] = resolve(case.entry["payload"])
    return resolved


def test_every_entry_says_where_it_came_from_and_what_clouddriver_does() -> None:
    assert len(CASES) >= 80
    for case in CASES:
        assert case.entry["source"].startswith(("spinnaker/clouddriver@", "spinnaker/orca@")), case.name
        assert case.entry["clouddriver"].startswith(VERDICTS), case.name
        assert case.expect["result"] in ("succeeded", "refused", "failed"), case.name
        agrees = case.entry["clouddriver"].startswith(
            {"succeeded": "accept", "refused": "reject", "failed": "accept then fail"}[case.expect["result"]]
        )
        assert agrees or "divergence" in case.entry.get("cloudops", ""), f"{case.name}: say how cloudops differs"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_catalogue(case: Case) -> None:
    """Parsing plus the world check, as both paths do before anything runs."""
    sim = sim_world(case)
    result = parse_operation(case.operation, payload(case, sim), provider="aws")
    errors = set(result.errors)
    if result.operation is not None:
        errors |= set(check_world(result.operation, sim.accounts()))
    found = {(e.path, e.code) for e in errors}
    if case.expect["result"] == "refused":
        assert found == case.refusals(), [e.message for e in errors]
        return
    assert found == set(), [e.message for e in errors]
    assert result.operation is not None
    if case.mutations() is not None:
        planned = [[m.region, m.target, dict(m.params)] for m in result.operation.plan(sim).mutations]
        expected = case.mutations() or []
        assert [p[: len(e)] for p, e in zip(planned, expected, strict=False)] == expected and len(planned) == len(
            expected
        )


@pytest.fixture
def legacy() -> Iterator[Any]:
    def make(sim: SimCloud) -> FlaskClient:
        return create_app(LEGACY_FAST, provider=sim).test_client()

    yield make


def _finished(http: FlaskClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        task: dict[str, Any] = http.get(f"/task/{task_id}").json  # type: ignore[assignment]
        if task["status"]["completed"]:
            return task
        time.sleep(0.01)
    raise AssertionError(f"task {task_id} still running")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_legacy_service(case: Case, legacy: Any) -> None:
    """`POST /aws/ops` with Orca's body, then the task: refused with the fields, or run to the verdict."""
    sim = sim_world(case)
    http = legacy(sim)
    answer = http.post(f"/aws/ops?clientRequestId={uuid.uuid4()}", json=[{case.operation: payload(case, sim)}])
    prefix = f"[0].{case.operation}"
    if case.expect["result"] == "refused":
        assert answer.status_code == 400, answer.json
        found = {(fe["path"].removeprefix(prefix).lstrip("."), fe["code"]) for fe in answer.json["fieldErrors"]}
        assert found == case.refusals(), answer.json
        return
    assert answer.status_code == 200, answer.json
    task = _finished(http, answer.json["id"])
    exception = next((r for r in task["resultObjects"] if r.get("type") == "EXCEPTION"), None)
    if case.expect["result"] == "succeeded":
        assert not task["status"]["failed"], exception
        if case.mutations() is not None:
            seeded = len(case.seed)
            done = [[e.region, e.target] for e in sim.journal()[seeded:]]
            assert done == [m[:2] for m in case.mutations() or ()]
    else:
        assert task["status"]["failed"] and exception is not None, task
        assert exception["details"][0]["additionalAttributes"]["code"] == case.expect["code"], exception


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_gateway(case: Case) -> None:
    """The gateway validates a submitted body before any task exists: it accepts and refuses the same."""
    sim = sim_world(case)
    body = [{case.operation: payload(case, sim)}]
    prefix = f"[0].{case.operation}"
    if case.expect["result"] == "refused":
        with pytest.raises(ValidationFailed) as refused:
            resolve_operations(body, "aws", sim.accounts(), client_request_id="corpus")
        found = {(fe["path"].removeprefix(prefix).lstrip("."), fe["code"]) for fe in refused.value.field_errors}
        assert found == case.refusals()
    else:
        (spec,) = resolve_operations(body, "aws", sim.accounts(), client_request_id="corpus")
        assert spec.name == case.operation and spec.account
