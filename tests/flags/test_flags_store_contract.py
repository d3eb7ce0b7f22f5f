"""One contract for every FlagStore: in memory, SQLite and the real PostgreSQL (through Alembic's schema)."""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from infra import Process

import migrations
from flags import (
    STAGE_KEY,
    ChangeAction,
    ConcurrentModification,
    FlagStore,
    InvalidInput,
    MemoryFlagStore,
    NotFound,
    PropertyConflict,
    SqlFlagStore,
    decide,
)

WHO: dict[str, Any] = {"actor": "alice", "reason": "testing"}
REQUEST = {"application": "api", "account": "prod", "operation": "op", "stage_type": "deploy", "provider": "aws"}


def fresh_postgres_url(server: Process) -> str:
    base = server.extra["url"]
    name = f"flags_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


class StoreContract:
    """Subclasses provide `store`; every test here runs on each backend."""

    def test_create_get_find_list(self, store: FlagStore) -> None:
        created = store.set_property(STAGE_KEY, "shadow", {"application": "api"}, ticket="CHG-1", **WHO)
        assert (created.version, created.value, created.updated_by, created.ticket) == (1, "shadow", "alice", "CHG-1")
        assert store.get_property(created.id) == created
        assert store.find_property(STAGE_KEY, {"application": "api"}) == created
        assert store.find_property(STAGE_KEY, {"application": "web"}) is None
        assert store.list_properties() == [created] == store.list_properties(STAGE_KEY)
        assert store.list_properties("other.key") == []

    def test_setting_the_same_scope_updates_that_property_and_audits_before_and_after(self, store: FlagStore) -> None:
        first = store.set_property(STAGE_KEY, "shadow", {"application": "api"}, **WHO)
        v_before = store.current_version()
        second = store.set_property(STAGE_KEY, "canary", {"application": "api"}, percent=10, actor="bob", reason="ramp")
        assert (second.id, second.version, second.percent) == (first.id, 2, 10.0)
        assert store.current_version() == v_before + 1
        change = store.history(property_id=first.id)[0]
        assert (change.action, change.actor, change.reason) == (ChangeAction.UPDATE, "bob", "ramp")
        assert change.before is not None and change.before["value"] == "shadow"
        assert change.after is not None and change.after["value"] == "canary" and change.after["percent"] == 10

    def test_moving_a_property_onto_anothers_scope_is_refused_naming_it(self, store: FlagStore) -> None:
        api = store.set_property(STAGE_KEY, "shadow", {"application": "api"}, **WHO)
        web = store.set_property(STAGE_KEY, "durable", {"application": "web"}, **WHO)
        version, history = store.current_version(), store.history()
        with pytest.raises(PropertyConflict) as refused:
            store.set_property(STAGE_KEY, "durable", {"application": "api"}, property_id=web.id, **WHO)
        assert refused.value.conflicting_ids == (api.id,) and api.id in refused.value.message
        assert store.current_version() == version and store.history() == history
        moved = store.set_property(
            STAGE_KEY, "durable", {"application": "api", "account": "prod"}, property_id=web.id, **WHO
        )
        assert moved.id == web.id and moved.version == 2

    def test_delete_then_restore_any_earlier_version(self, store: FlagStore) -> None:
        prop = store.set_property(STAGE_KEY, "shadow", {"account": "prod"}, **WHO)
        store.set_property(STAGE_KEY, "durable", {"account": "prod"}, **WHO)
        deletion = store.delete_property(prop.id, actor="carol", reason="rollback", ticket="INC-9")
        assert (deletion.action, deletion.property_version, deletion.after) == (ChangeAction.DELETE, 3, None)
        with pytest.raises(NotFound):
            store.get_property(prop.id)
        restored = store.restore(prop.id, 1, actor="dave", reason="bring shadow back")
        assert (restored.id, restored.version, restored.value, restored.updated_by) == (prop.id, 4, "shadow", "dave")
        assert store.get_property(prop.id) == restored
        actions = [(c.action, c.property_version, c.restored_from) for c in store.history(property_id=prop.id)]
        assert actions == [
            (ChangeAction.RESTORE, 4, 1),
            (ChangeAction.DELETE, 3, None),
            (ChangeAction.UPDATE, 2, None),
            (ChangeAction.CREATE, 1, None),
        ]
        again = store.restore(prop.id, 2, **WHO)  # a live property restores in place
        assert (again.version, again.value) == (5, "durable")

    def test_restore_refuses_deletions_unknown_versions_and_taken_scopes(self, store: FlagStore) -> None:
        prop = store.set_property(STAGE_KEY, "shadow", {"account": "prod"}, **WHO)
        store.delete_property(prop.id, **WHO)
        with pytest.raises(InvalidInput, match="deletion"):
            store.restore(prop.id, 2, **WHO)
        with pytest.raises(NotFound):
            store.restore(prop.id, 9, **WHO)
        taken = store.set_property(STAGE_KEY, "durable", {"account": "prod"}, **WHO)
        with pytest.raises(PropertyConflict) as refused:
            store.restore(prop.id, 1, **WHO)
        assert refused.value.conflicting_ids == (taken.id,)

    def test_expected_version_guards_against_lost_updates(self, store: FlagStore) -> None:
        prop = store.set_property(STAGE_KEY, "shadow", {"application": "api"}, **WHO)
        store.set_property(STAGE_KEY, "durable", {"application": "api"}, expected_version=1, **WHO)
        with pytest.raises(ConcurrentModification):
            store.set_property(STAGE_KEY, "complete", {"application": "api"}, expected_version=1, **WHO)
        with pytest.raises(ConcurrentModification):
            store.delete_property(prop.id, expected_version=1, **WHO)
        assert store.get_property(prop.id).value == "durable"

    @pytest.mark.parametrize(
        ("key", "value", "extra", "field"),
        [
            (STAGE_KEY, "durable", {"scope": {"region": "us-east-1"}}, "region"),
            (STAGE_KEY, "durable", {"scope": {"application": ""}}, "application"),
            (STAGE_KEY, "turbo", {}, "value"),
            (STAGE_KEY, 3, {}, "value"),
            (STAGE_KEY, "canary", {}, "percent"),
            (STAGE_KEY, "canary", {"percent": 101}, "percent"),
            (STAGE_KEY, "canary", {"percent": -1}, "percent"),
            (STAGE_KEY, "durable", {"percent": 10}, "percent"),
            (STAGE_KEY, "durable", {"bucket_by": "account"}, "bucket_by"),
            (STAGE_KEY, "canary", {"percent": 5, "bucket_by": "not valid!"}, "bucket_by"),
            ("cloudops.shadow.sample_percent", 150, {}, "value"),
            ("cloudops.shadow.sample_percent", "50", {}, "value"),
            ("cloudops.durable.retry_window_seconds", 0, {}, "value"),
            ("cloudops.durable.retry_window_seconds", 1.5, {}, "value"),
            ("cloudops.durable.retry_window_seconds", True, {}, "value"),
            ("cloudops.migration.stag", "durable", {}, "key"),
            ("bad key!", 1, {}, "key"),
            (STAGE_KEY, "durable", {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, "expires_at"),
            (STAGE_KEY, "durable", {"reason": "  "}, "reason"),
            (STAGE_KEY, "durable", {"actor": ""}, "actor"),
        ],
    )
    def test_bad_input_is_refused_clearly_and_nothing_is_written(
        self, store: FlagStore, key: str, value: Any, extra: dict[str, Any], field: str
    ) -> None:
        args: dict[str, Any] = {**WHO, "scope": {"application": "api"}, **extra}
        version = store.current_version()
        with pytest.raises(InvalidInput) as refused:
            store.set_property(key, value, **args)
        assert refused.value.field == field and refused.value.message
        assert store.current_version() == version and store.history() == [] and store.list_properties() == []

    def test_known_and_free_keys_take_their_values(self, store: FlagStore) -> None:
        store.set_property("cloudops.shadow.sample_percent", 12.5, **WHO)
        store.set_property("cloudops.durable.retry_window_seconds", 900, **WHO)
        store.set_property("payments.limits", {"max": [1, 2]}, {"provider": "aws"}, **WHO)
        later = datetime.now(UTC) + timedelta(hours=1)
        canary = store.set_property(
            STAGE_KEY, "canary", {"account": "prod"}, percent=5, bucket_by="execution_id", expires_at=later, **WHO
        )
        assert canary.expires_at is not None and abs((canary.expires_at - later).total_seconds()) < 1
        assert store.get_property(canary.id) == canary
        assert len(store.list_properties()) == 4

    def test_kill_switches_are_audited_and_reach_the_snapshot(self, store: FlagStore) -> None:
        store.set_property(STAGE_KEY, "complete", **WHO)
        assert decide(store.load_snapshot(), STAGE_KEY, REQUEST).value == "complete"
        switch = store.set_kill_switch(True, actor="oncall", reason="incident", ticket="INC-1")
        assert switch.engaged and switch.is_global
        d = decide(store.load_snapshot(), STAGE_KEY, REQUEST)
        assert (d.value, d.kill_switch) == ("legacy", True)
        store.set_kill_switch(False, **WHO)
        store.set_kill_switch(True, key=STAGE_KEY, **WHO)
        assert decide(store.load_snapshot(), STAGE_KEY, REQUEST).reason_kind.value == "key_off"
        changes = store.history()
        assert [c.action for c in changes[:3]] == [
            ChangeAction.SWITCH_ON,
            ChangeAction.SWITCH_OFF,
            ChangeAction.SWITCH_ON,
        ]
        assert changes[2].ticket == "INC-1" and changes[1].before is not None and changes[1].before["engaged"]
        assert {s.target: s.engaged for s in store.kill_switches()} == {"*": False, STAGE_KEY: True}
        with pytest.raises(InvalidInput):
            store.set_kill_switch(True, key="cloudops.nope", **WHO)

    def test_snapshot_versions_only_grow_and_match_the_store(self, store: FlagStore) -> None:
        versions = [store.current_version()]
        for stage in ("shadow", "durable", "complete"):
            store.set_property(STAGE_KEY, stage, **WHO)
            versions.append(store.current_version())
        assert versions == sorted(set(versions))
        snapshot = store.load_snapshot()
        assert snapshot.version == versions[-1] and decide(snapshot, STAGE_KEY, REQUEST).value == "complete"

    def test_reading_only_the_changes_gives_the_same_snapshot_as_reading_everything(self, store: FlagStore) -> None:
        rng = random.Random(11)
        previous = store.load_snapshot()
        for step in range(60):
            live = store.list_properties()
            roll = rng.random()
            if live and roll < 0.2:
                store.delete_property(rng.choice(live).id, **WHO)
            elif roll < 0.3:
                store.set_kill_switch(rng.random() < 0.5, key=rng.choice([None, STAGE_KEY]), **WHO)
            elif roll < 0.35 and store.history(key=STAGE_KEY):
                change = rng.choice(store.history(key=STAGE_KEY))
                with contextlib.suppress(InvalidInput, PropertyConflict, NotFound):
                    store.restore(change.property_id or "", change.property_version or 0, **WHO)
            else:
                scope = {d: rng.choice(["a", "b"]) for d in ("application", "account") if rng.random() < 0.6}
                store.set_property(STAGE_KEY, rng.choice(["shadow", "durable", "complete"]), scope, **WHO)
            if step % 7 == 0:
                incremental, full = store.load_snapshot(previous), store.load_snapshot()
                assert incremental.version == full.version
                assert sorted(incremental.properties, key=lambda p: p.id) == sorted(full.properties, key=lambda p: p.id)
                assert sorted(incremental.switches, key=lambda s: s.target) == sorted(
                    full.switches, key=lambda s: s.target
                )
                for app, account in itertools.product("ab", "ab"):
                    request = {"application": app, "account": account}
                    assert decide(incremental, STAGE_KEY, request) == decide(full, STAGE_KEY, request)
                previous = incremental

    def test_concurrent_writers_to_one_scope_serialise(self, store: FlagStore) -> None:
        errors: list[BaseException] = []

        def write(n: int) -> None:
            try:
                for i in range(8):
                    store.set_property("race.key", n * 100 + i, {"application": "api"}, **WHO)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        (prop,) = store.list_properties("race.key")
        assert prop.version == 24 and len(store.history(key="race.key")) == 24


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryFlagStore:
        return MemoryFlagStore()


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlFlagStore]:
        url = f"sqlite:///{tmp_path / 'flags.db'}"
        migrations.upgrade(url)
        store = SqlFlagStore(url)
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, postgres_server: Process) -> Iterator[SqlFlagStore]:
        url = fresh_postgres_url(postgres_server)
        migrations.upgrade(url)
        store = SqlFlagStore(url)
        yield store
        store.close()
