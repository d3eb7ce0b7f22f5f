"""FlagTestData (the fluent builder) and the public surface of the package."""

from __future__ import annotations

import pytest

import flags
from flags import STAGE_KEY, FlagTestData, InvalidInput, MigrationStage, PropertyConflict

REQUEST = {"application": "api", "account": "prod", "operation": "createServerGroup"}


def test_builder_chains_and_its_clients_see_later_changes_at_once() -> None:
    td = FlagTestData().stage("shadow").stage(MigrationStage.CANARY, percent=100, application="api")
    client = td.client()
    d = client.decide(STAGE_KEY, REQUEST, {"operation_id": "op-1"})
    assert (d.stage, d.in_rollout) == (MigrationStage.CANARY, True)
    td.stage("durable", application="api", account="prod")
    assert client.decide(STAGE_KEY, REQUEST).value == "durable"
    td.remove(STAGE_KEY, application="api", account="prod").force_legacy()
    assert client.decide(STAGE_KEY, REQUEST).kill_switch
    td.force_legacy(False).key_off(STAGE_KEY)
    assert client.decide(STAGE_KEY, REQUEST).reason_kind.value == "key_off"
    td.key_off(STAGE_KEY, off=False).set("cloudops.shadow.sample_percent", 25, account="prod")
    assert client.decide("cloudops.shadow.sample_percent", REQUEST).value == 25


def test_builder_applies_the_store_rules() -> None:
    td = FlagTestData().stage("durable", application="api")
    with pytest.raises(InvalidInput):
        td.stage("canary", application="web")
    with pytest.raises(InvalidInput):
        td.stage("durable", region="eu")
    with pytest.raises(PropertyConflict):
        web = td.stage("shadow", application="web").store.find_property(STAGE_KEY, {"application": "web"})
        assert web is not None
        td.store.set_property(
            STAGE_KEY, "complete", {"application": "api"}, property_id=web.id, actor="t", reason="move onto api"
        )


def test_public_names_are_pinned() -> None:
    assert sorted(flags.__all__) == sorted(
        [
            "DEFAULT_BUCKET_BY",
            "DIMENSIONS",
            "KNOWN_KEYS",
            "RETRY_WINDOW_KEY",
            "SHADOW_SAMPLE_KEY",
            "STAGE_KEY",
            "Candidate",
            "CandidateOutcome",
            "Change",
            "ChangeAction",
            "CloudopsProvider",
            "ChangeFeed",
            "ChangeNotifier",
            "ClientStatus",
            "ConcurrentModification",
            "Decision",
            "DecisionError",
            "Dimension",
            "Explanation",
            "FlagClient",
            "FlagError",
            "FlagSource",
            "FlagStore",
            "FlagTestData",
            "InvalidInput",
            "JsonValue",
            "KeySpec",
            "KillSwitch",
            "LaunchDarklyFlagSource",
            "MemoryFlagStore",
            "MigrationStage",
            "NotFound",
            "OpenFeatureFlagSource",
            "Property",
            "PropertyConflict",
            "ReasonKind",
            "RedisChangeBus",
            "FlagSchemaNotMigrated",
            "Scope",
            "Snapshot",
            "SnapshotSource",
            "SqlFlagStore",
            "FlagStoreUnavailable",
            "decide",
            "explain",
            "to_launchdarkly_data",
        ]
    )
    for name in flags.__all__:
        assert getattr(flags, name) is not None, name
    assert [s.value for s in MigrationStage] == ["legacy", "shadow", "canary", "durable", "complete"]


def test_every_flags_module_declares_all() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(flags.__path__):
        module = importlib.import_module(f"flags.{info.name}")
        assert isinstance(getattr(module, "__all__", None), list), info.name
        assert module.__doc__, info.name
