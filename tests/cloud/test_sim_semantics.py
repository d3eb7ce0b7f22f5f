"""The sim cloud's semantics, call by call: resources, health over time, idempotency, errors, journal, worlds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cloud.errors import (
    AlreadyExists,
    CapacityOutOfBounds,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    UnknownAccount,
    UnknownRegion,
)
from cloud.model import Account, Capacity, HealthState, Listener, LoadBalancerSpec, ServerGroupSpec
from cloud.plan import Mutation, MutationKind, apply_mutation, idempotency_token
from cloud.provider import CloudProvider
from cloud.sim import (
    FaultConfig,
    InvalidWorld,
    JournalEntry,
    SimCloud,
    World,
    default_world,
    load_world,
    summarise_journal,
)

EXAMPLE_WORLD = Path(__file__).with_name("sim_world_example.yaml")
A, R = "prod", "us-east-1"


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spec(
    name: str = "app-main-v000",
    desired: int = 2,
    *,
    max: int = 10,
    lbs: tuple[str, ...] = (),
    zones: tuple[str, ...] = (),
) -> ServerGroupSpec:
    capacity = Capacity(min=0, max=max, desired=desired)
    return ServerGroupSpec(name=name, capacity=capacity, image="ami-123", zones=zones, load_balancers=lbs)


def lb_spec(name: str = "app-frontend", port: int = 80) -> LoadBalancerSpec:
    return LoadBalancerSpec(name=name, listeners=(Listener("HTTP", port, "HTTP", 7001),))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> SimCloud:
    return SimCloud(health_delay_s=5.0, clock=clock)


def test_default_world_has_the_four_accounts_in_three_regions(sim: SimCloud) -> None:
    regions = ("us-east-1", "us-west-2", "eu-west-1")
    assert sim.accounts() == [
        Account("prod", "aws", regions),
        Account("test", "aws", regions),
        Account("titusprod", "titus", regions),
        Account("titustest", "titus", regions),
    ]
    assert isinstance(sim, CloudProvider)


def test_create_launches_desired_instances_spread_over_zones(sim: SimCloud, clock: FakeClock) -> None:
    group = sim.create_server_group(A, R, spec(desired=4), "t1")
    assert group.account == A and group.region == R and group.capacity.desired == 4
    assert group.zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    assert [i.zone for i in group.instances] == ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"]
    assert all(re.fullmatch(r"i-[0-9a-f]{17}", i.id) for i in group.instances)
    assert len({i.id for i in group.instances}) == 4
    assert {i.health for i in group.instances} == {HealthState.STARTING}
    assert group.created_at == clock.now and not group.disabled
    assert sim.describe_server_group(A, R, "app-main-v000") == group
    assert sim.describe_instances(A, R, "app-main-v000") == list(group.instances)
    assert sim.describe_server_group(A, R, "other") is None


def test_instances_turn_healthy_after_the_health_delay(sim: SimCloud, clock: FakeClock) -> None:
    sim.create_server_group(A, R, spec(desired=2), "t1")
    clock.advance(4.9)
    assert sim.describe_server_group(A, R, "app-main-v000").healthy_count == 0  # type: ignore[union-attr]
    clock.advance(0.1)
    group = sim.describe_server_group(A, R, "app-main-v000")
    assert group is not None and group.healthy_count == 2
    resized = sim.resize_server_group(A, R, group.name, Capacity(0, 10, 3), "t2")
    assert [i.health for i in resized.instances] == [HealthState.HEALTHY, HealthState.HEALTHY, HealthState.STARTING]
    clock.advance(5)
    assert sim.describe_server_group(A, R, group.name).healthy_count == 3  # type: ignore[union-attr]


def test_resize_shrinks_newest_first_and_keeps_bounds(sim: SimCloud) -> None:
    created = sim.create_server_group(A, R, spec(desired=3), "t1")
    shrunk = sim.resize_server_group(A, R, created.name, Capacity(1, 5, 1), "t2")
    assert shrunk.capacity == Capacity(1, 5, 1)
    assert [i.id for i in shrunk.instances] == [created.instances[0].id]
    for bad in (Capacity(2, 5, 1), Capacity(0, 2, 3), Capacity(-1, 5, 0), Capacity(0, 101, 5)):
        with pytest.raises(CapacityOutOfBounds) as info:
            sim.resize_server_group(A, R, created.name, bad, f"bad-{bad}")
        assert info.value.target == created.name and "min <= desired <= max" in info.value.message
    with pytest.raises(CapacityOutOfBounds):
        sim.create_server_group(A, R, spec("app-main-v001", desired=5, max=4), "t3")
    assert sim.describe_server_group(A, R, "app-main-v001") is None


def test_list_server_groups_filters_by_cluster(sim: SimCloud) -> None:
    for i, name in enumerate(["app-main-v001", "app-main-v000", "app-main-canary-v000", "app-main", "app-mainx-v000"]):
        sim.create_server_group(A, R, spec(name, desired=0), f"t{i}")
    assert [g.name for g in sim.list_server_groups(A, R, "app-main")] == ["app-main", "app-main-v000", "app-main-v001"]
    assert len(sim.list_server_groups(A, R)) == 5
    assert sim.list_server_groups(A, "us-west-2") == []


def test_same_token_same_arguments_returns_the_first_result_and_applies_nothing(
    sim: SimCloud, clock: FakeClock
) -> None:
    first = sim.create_server_group(A, R, spec(), "tok")
    clock.advance(10)
    again = sim.create_server_group(A, R, spec(), "tok")
    assert again == first  # the first answer, Starting instances and all
    assert len(sim.describe_instances(A, R, first.name)) == 2
    resized = sim.resize_server_group(A, R, first.name, Capacity(0, 10, 4), "tok-2")
    assert sim.resize_server_group(A, R, first.name, Capacity(0, 10, 4), "tok-2") == resized
    sim.destroy_server_group(A, R, first.name, "tok-3")
    sim.destroy_server_group(A, R, first.name, "tok-3")  # a retry of an applied destroy is not NotFound
    assert [(e.kind, e.token) for e in sim.journal()] == [
        (MutationKind.CREATE_SERVER_GROUP, "tok"),
        (MutationKind.RESIZE_SERVER_GROUP, "tok-2"),
        (MutationKind.DESTROY_SERVER_GROUP, "tok-3"),
    ]


def test_token_reuse_with_other_arguments_conflicts(sim: SimCloud) -> None:
    sim.create_server_group(A, R, spec(), "tok")
    with pytest.raises(IdempotencyConflict):
        sim.create_server_group(A, R, spec(desired=3), "tok")
    with pytest.raises(IdempotencyConflict):
        sim.resize_server_group(A, R, "app-main-v000", Capacity(0, 10, 1), "tok")
    with pytest.raises(IdempotencyConflict):
        sim.create_server_group(A, "us-west-2", spec(), "tok")
    assert len(sim.journal()) == 1


def test_a_rejected_call_leaves_its_token_unused(sim: SimCloud) -> None:
    sim.create_server_group(A, R, spec(), "t1")
    with pytest.raises(CapacityOutOfBounds):
        sim.resize_server_group(A, R, "app-main-v000", Capacity(0, 1, 5), "t2")
    assert sim.resize_server_group(A, R, "app-main-v000", Capacity(0, 5, 5), "t2").capacity.desired == 5


def test_existing_names_and_missing_targets(sim: SimCloud) -> None:
    sim.create_server_group(A, R, spec(), "t1")
    with pytest.raises(AlreadyExists) as exists:
        sim.create_server_group(A, R, spec(), "t2")
    assert (exists.value.account, exists.value.region, exists.value.target) == (A, R, "app-main-v000")
    sim.create_server_group(A, "us-west-2", spec(), "t3")  # same name, other region: fine
    missing = "app-main-v009"
    calls = [
        lambda: sim.resize_server_group(A, R, missing, Capacity(0, 1, 1), "n1"),
        lambda: sim.enable_server_group(A, R, missing, "n2"),
        lambda: sim.disable_server_group(A, R, missing, "n3"),
        lambda: sim.destroy_server_group(A, R, missing, "n4"),
        lambda: sim.describe_instances(A, R, missing),
        lambda: sim.delete_load_balancer(A, R, "nope", "n5"),
        lambda: sim.terminate_instances(A, R, ("i-00000000000000000",), "n6"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    sim.destroy_server_group(A, R, "app-main-v000", "d1")
    with pytest.raises(NotFound):
        sim.destroy_server_group(A, R, "app-main-v000", "d2")  # a new token on a destroyed group
    assert [e.token for e in sim.journal()] == ["t1", "t3", "d1"]


def test_unknown_accounts_and_regions(sim: SimCloud) -> None:
    with pytest.raises(UnknownAccount, match="known accounts: prod, test"):
        sim.list_server_groups("nope", R)
    with pytest.raises(UnknownAccount):
        sim.create_server_group("nope", R, spec(), "t1")
    with pytest.raises(UnknownRegion) as info:
        sim.describe_server_group(A, "ap-south-1", "x")
    assert info.value.region == "ap-south-1"
    with pytest.raises(UnknownRegion):
        sim.upsert_load_balancer(A, "ap-south-1", lb_spec(), "t2")
    assert sim.journal() == []


@pytest.mark.parametrize("token", ["", "x" * 65, "tok\n", "tök"])
def test_tokens_must_be_usable_client_tokens(sim: SimCloud, token: str) -> None:
    with pytest.raises(InvalidRequest, match="idempotency token"):
        sim.create_server_group(A, R, spec(), token)
    sim.create_server_group(A, R, spec(), idempotency_token("op-1", 0))


def test_invalid_specs_are_invalid_requests(sim: SimCloud) -> None:
    with pytest.raises(InvalidRequest, match="invalid server group name"):
        sim.create_server_group(A, R, spec("bad name"), "t1")
    with pytest.raises(InvalidRequest, match="unknown zone"):
        sim.create_server_group(A, R, spec(zones=("eu-west-1a",)), "t2")
    with pytest.raises(InvalidRequest, match="image"):
        sim.create_server_group(A, R, ServerGroupSpec("app-v000", Capacity(0, 1, 1), image=""), "t3")
    with pytest.raises(InvalidRequest, match="listener"):
        sim.upsert_load_balancer(A, R, LoadBalancerSpec("lb", listeners=()), "t4")
    with pytest.raises(InvalidRequest, match="1-65535"):
        sim.upsert_load_balancer(A, R, lb_spec(port=70000), "t5")
    with pytest.raises(InvalidRequest, match="at least one"):
        sim.terminate_instances(A, R, (), "t6")
    assert sim.journal() == []


def test_disabled_groups_leave_their_load_balancers(sim: SimCloud) -> None:
    with pytest.raises(NotFound, match="upsert it before"):
        sim.create_server_group(A, R, spec(lbs=("app-frontend",)), "t0")
    sim.upsert_load_balancer(A, R, lb_spec(), "t1")
    group = sim.create_server_group(A, R, spec(lbs=("app-frontend",)), "t2")
    sim.create_server_group(A, R, spec("other-v000", desired=1), "t3")
    ids = [i.id for i in group.instances]
    assert sim.load_balancer_instances(A, R, "app-frontend") == ids
    disabled = sim.disable_server_group(A, R, group.name, "t4")
    assert disabled.disabled and disabled.load_balancers == ("app-frontend",)  # the ASG keeps the name
    assert sim.load_balancer_instances(A, R, "app-frontend") == []
    sim.resize_server_group(A, R, group.name, Capacity(0, 10, 3), "t5")
    assert sim.load_balancer_instances(A, R, "app-frontend") == []
    enabled = sim.enable_server_group(A, R, group.name, "t6")
    assert not enabled.disabled
    assert sim.load_balancer_instances(A, R, "app-frontend") == [i.id for i in enabled.instances]
    with pytest.raises(NotFound):
        sim.load_balancer_instances(A, R, "missing")


def test_terminated_instances_are_replaced_keeping_desired(sim: SimCloud, clock: FakeClock) -> None:
    group = sim.create_server_group(A, R, spec(desired=3), "t1")
    clock.advance(5)
    victims = (group.instances[0].id, group.instances[2].id)
    sim.terminate_instances(A, R, victims, "t2")
    after = sim.describe_server_group(A, R, group.name)
    assert after is not None and after.capacity.desired == 3 and len(after.instances) == 3
    assert not set(victims) & {i.id for i in after.instances}
    assert after.instances[0].id == group.instances[1].id and after.instances[0].health is HealthState.HEALTHY
    assert [i.health for i in after.instances[1:]] == [HealthState.STARTING] * 2
    entry = sim.journal()[-1]
    assert (entry.kind, entry.target, entry.params) == (
        MutationKind.TERMINATE_INSTANCES,
        group.name,
        {"instanceIds": list(victims)},
    )
    with pytest.raises(NotFound):
        sim.terminate_instances(A, R, victims, "t3")


def test_load_balancers_upsert_describe_delete(sim: SimCloud) -> None:
    lb = sim.upsert_load_balancer(A, R, lb_spec(), "t1")
    assert re.fullmatch(r"app-frontend-\d+\.us-east-1\.elb\.amazonaws\.com", lb.dns_name)
    assert lb.spec.zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    updated = sim.upsert_load_balancer(A, R, lb_spec(port=8080), "t2")
    assert updated.dns_name == lb.dns_name and updated.spec.listeners[0].external_port == 8080
    assert sim.describe_load_balancer(A, R, "app-frontend") == updated
    internal = sim.upsert_load_balancer(
        A, R, LoadBalancerSpec("int", (Listener("TCP", 1, "TCP", 2),), internal=True), "t3"
    )
    assert internal.dns_name.startswith("internal-int-")
    sim.delete_load_balancer(A, R, "app-frontend", "t4")
    assert sim.describe_load_balancer(A, R, "app-frontend") is None
    recreated = sim.upsert_load_balancer(A, R, lb_spec(), "t5")
    assert recreated.dns_name != lb.dns_name  # a new load balancer gets a new name, as on AWS


def test_ids_and_dns_names_are_deterministic_under_the_seed() -> None:
    def build(seed: int) -> tuple[list[str], str]:
        s = SimCloud(faults=FaultConfig(seed=seed))
        s.upsert_load_balancer(A, R, lb_spec(), "t1")
        group = s.create_server_group(A, R, spec(desired=3), "t2")
        s.resize_server_group(A, R, group.name, Capacity(0, 10, 5), "t3")
        ids = [i.id for i in s.describe_instances(A, R, group.name)]
        return ids, s.describe_load_balancer(A, R, "app-frontend").dns_name  # type: ignore[union-attr]

    assert build(7) == build(7)
    assert build(7)[0] != build(8)[0] and build(7)[1] != build(8)[1]


def test_plans_apply_through_the_contract(sim: SimCloud) -> None:
    create = Mutation(0, MutationKind.CREATE_SERVER_GROUP, A, R, "app-main-v000", {"spec": spec().to_json()})
    resize = Mutation(
        1, MutationKind.RESIZE_SERVER_GROUP, A, R, "app-main-v000", {"capacity": Capacity(1, 4, 3).to_json()}
    )
    result = apply_mutation(sim, create, idempotency_token("op", 0))
    assert result["name"] == "app-main-v000" and len(result["instances"]) == 2
    assert apply_mutation(sim, resize, idempotency_token("op", 1))["capacity"]["desired"] == 3
    assert apply_mutation(sim, resize, idempotency_token("op", 1))["capacity"]["desired"] == 3
    assert [e.params for e in sim.journal()] == [dict(create.params), dict(resize.params)]


def test_journal_entries_round_trip_and_summaries_find_duplicates(sim: SimCloud) -> None:
    sim.create_server_group(A, R, spec(), "t1")
    sim.disable_server_group(A, R, "app-main-v000", "t2")
    sim.enable_server_group(A, R, "app-main-v000", "t3")
    sim.disable_server_group(A, R, "app-main-v000", "t4")  # a new change, not a duplicate of t2
    entries = sim.journal()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [JournalEntry.from_json(json.loads(json.dumps(e.to_json()))) for e in entries] == entries
    assert sim.journal(since=2) == entries[2:]
    summary = summarise_journal(entries)
    assert summary.clean and summary.total == 4
    assert summary.by_kind == {"createServerGroup": 1, "enableServerGroup": 1, "disableServerGroup": 2}
    sim.disable_server_group(A, R, "app-main-v000", "t5")  # the same change again, under a fresh token
    dup = summarise_journal(sim.journal())
    assert [e.token for e in dup.duplicates] == ["t5"] and not dup.clean
    assert dup.to_json()["duplicates"][0]["seq"] == 5
    repeated = summarise_journal([*entries, entries[0]])
    assert repeated.repeated_tokens == ("t1",)


def test_worlds_load_from_yaml_and_json_and_set_limits(tmp_path: Path) -> None:
    world = load_world(EXAMPLE_WORLD)
    assert [a.name for a in world.accounts] == ["prod", "staging", "titusprod"]
    assert world.max_instances_per_group == 20
    assert world.zones_of("us-east-1") == ("us-east-1a", "us-east-1c", "us-east-1d")
    assert world.zones_of("us-west-2") == ("us-west-2a", "us-west-2b", "us-west-2c")
    as_json = tmp_path / "world.json"
    as_json.write_text(json.dumps(world.to_json()))
    assert load_world(as_json) == world
    assert World.from_json(default_world().to_json()) == default_world()
    sim = SimCloud(world=world)
    group = sim.create_server_group("prod", "us-east-1", spec(desired=4), "t1")
    assert [i.zone for i in group.instances] == ["us-east-1a", "us-east-1c", "us-east-1d", "us-east-1a"]
    with pytest.raises(CapacityOutOfBounds, match="20"):
        sim.create_server_group("prod", "us-east-1", spec("big", desired=1, max=21), "t2")
    with pytest.raises(UnknownRegion):
        sim.list_server_groups("staging", "us-east-1")
    with pytest.raises(UnknownAccount):
        sim.list_server_groups("test", "us-east-1")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("accounts: []", "non-empty list"),
        ("accounts: [{name: a, provider: aws}]", "accounts[0].regions"),
        ("accounts: [{name: a, provider: aws, regions: [r]}, {name: a, provider: aws, regions: [r]}]", "twice"),
        ("accounts: [{name: a, provider: aws, regions: [r], region: x}]", "accounts[0].region"),
        ("acounts: []", "unknown key"),
        ("accounts: [{name: a, provider: aws, regions: [r]}]\nlimits: {maxInstancesPerGroup: 0}", "positive"),
        ("accounts: [{name: a, provider: aws, regions: [r]}]\nzones: {r: []}", "zones.r"),
        ("accounts: [", "not valid"),
    ],
)
def test_bad_world_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(content)
    with pytest.raises(InvalidWorld, match=re.escape(message)) as info:
        load_world(path)
    assert str(path) in str(info.value)


def test_a_missing_world_file_is_reported() -> None:
    with pytest.raises(InvalidWorld, match="cannot read world file"):
        load_world("/nonexistent/world.yaml")


def test_the_public_api_is_pinned() -> None:
    import cloud.sim

    assert cloud.sim.__all__ == [
        "FaultConfig",
        "FaultKind",
        "InvalidWorld",
        "JournalEntry",
        "JournalSummary",
        "SimCloud",
        "World",
        "default_world",
        "load_world",
        "summarise_journal",
    ]
    assert all(hasattr(cloud.sim, name) for name in cloud.sim.__all__)
