"""FlagClient against real components: polling SQL, Redis push from another process, store and Redis failures,
fork and asyncio."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from infra import Process, free_port, start_postgres, start_process, start_redis, wait_until

import migrations
from flags import STAGE_KEY, DecisionError, FlagClient, RedisChangeBus, SqlFlagStore

WHO: dict[str, Any] = {"actor": "alice", "reason": "testing"}
REQUEST = {"application": "api", "account": "prod"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'flags.db'}"
    migrations.upgrade(url)
    return url


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SqlFlagStore]:
    found = SqlFlagStore(sqlite_url)
    yield found
    found.close()


def _value(client: FlagClient) -> object:
    return client.decide(STAGE_KEY, REQUEST).value


def test_polling_picks_up_changes_and_counts_decisions(store: SqlFlagStore) -> None:
    store.set_property(STAGE_KEY, "shadow", **WHO)
    with FlagClient(store, poll_interval=0.05) as client:
        assert _value(client) == "shadow" and client.status().mode == "poll"
        store.set_property(STAGE_KEY, "durable", {"application": "api"}, **WHO)
        assert client.wait_for_version(store.current_version(), timeout=10)
        assert _value(client) == "durable"
        client.decide("no.such.key", REQUEST)
        counts = client.counters()
        assert counts["match"] == 2 and counts["error"] == 1 and counts["error.unknown_key"] == 1
        assert counts["decisions"] == 3 and counts["refresh"] >= 2


def test_a_client_that_never_reached_its_store_answers_defaults_and_says_why() -> None:
    client = FlagClient.from_url(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", poll_interval=0.05)
    try:
        d = client.decide(STAGE_KEY, REQUEST)
        assert (d.value, d.default_used, d.error) == ("legacy", True, DecisionError.STORE_UNAVAILABLE)
        assert "unavailable" in d.reason
        status = client.status()
        assert not status.loaded and status.stale and status.last_error
        assert client.counters()["error.store_unavailable"] == 1
    finally:
        client.close()


@pytest.mark.postgres
def test_store_down_keeps_the_last_good_snapshot_and_recovers() -> None:
    pg = start_postgres()
    try:
        url = pg.extra["url"]
        migrations.upgrade(url)
        writer = SqlFlagStore(url)
        writer.set_property(STAGE_KEY, "durable", {"application": "api"}, **WHO)
        with FlagClient(SqlFlagStore(url), poll_interval=0.05) as client:
            assert _value(client) == "durable"
            _fast_shutdown(pg)
            wait_until(lambda: client.status().stale, what="the client to notice the store is down")
            d = client.decide(STAGE_KEY, REQUEST)
            assert (d.value, d.default_used, d.error) == ("durable", False, None)  # the last good snapshot
            assert "unavailable" in (client.status().last_error or "")
            pg = _restart_postgres(pg)
            wait_until(lambda: writer.current_version() > 0, timeout=30, what="postgres to accept queries")
            writer.set_property(STAGE_KEY, "complete", {"application": "api"}, **WHO)
            wait_until(lambda: _value(client) == "complete", what="the client to recover")
            assert not client.status().stale
        writer.close()
    finally:
        _fast_shutdown(pg)


def _fast_shutdown(pg: Process) -> None:
    """PostgreSQL's fast shutdown (SIGINT): SIGTERM would wait for pooled connections to go away."""
    if pg.popen.poll() is None:
        pg.popen.send_signal(signal.SIGINT)
        pg.popen.wait(timeout=30)


def _restart_postgres(old: Process) -> Process:
    argv = [str(a) for a in old.popen.args]  # type: ignore[union-attr]
    restarted = start_process(
        argv, old.port, name="postgres", timeout=30, user="postgres" if os.geteuid() == 0 else None
    )
    restarted.extra.update(old.extra)
    return restarted


def _write_in_another_process(url: str, redis_url: str, channel: str, value: str) -> int:
    code = (
        "import sys; from flags import SqlFlagStore, RedisChangeBus; "
        "s = SqlFlagStore(sys.argv[1], notifier=RedisChangeBus(sys.argv[2], channel=sys.argv[3])); "
        "s.set_property('cloudops.migration.stage', sys.argv[4], {'application': 'api'}, actor='w', reason='w'); "
        "print(s.current_version())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, url, redis_url, channel, value],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(out.stdout.strip())


@pytest.mark.redis
def test_a_change_written_in_another_process_is_pushed_over_redis(redis_server: Process, sqlite_url: str) -> None:
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    channel = f"test:{os.getpid()}:{time.monotonic_ns()}"
    bus = RedisChangeBus(redis_url, channel=channel)
    # Polling every 60 s: only the push can deliver the change within the wait below.
    with FlagClient(SqlFlagStore(sqlite_url), feed=bus.feed, poll_interval=60, safety_poll_interval=60) as client:
        wait_until(lambda: client.status().push_connected, what="the subscription")
        assert _value(client) == "legacy"
        version = _write_in_another_process(sqlite_url, redis_url, channel, "durable")
        assert client.wait_for_version(version, timeout=20)
        assert _value(client) == "durable" and client.status().mode == "push"
        assert client.counters()["push"] >= 1


@pytest.mark.redis
def test_redis_down_falls_back_to_polling_and_push_resumes(store: SqlFlagStore, sqlite_url: str) -> None:
    own = start_redis()
    bus = RedisChangeBus(f"redis://127.0.0.1:{own.port}/0", channel="fallback", timeout=0.5)
    try:
        with FlagClient(SqlFlagStore(sqlite_url), feed=bus.feed, poll_interval=0.1, safety_poll_interval=60) as client:
            wait_until(lambda: client.status().push_connected, what="the subscription")
            own.kill()
            wait_until(lambda: not client.status().push_connected, what="the client to notice Redis is gone")
            store.set_property(STAGE_KEY, "shadow", **WHO)  # no notifier: only polling can bring this
            wait_until(lambda: _value(client) == "shadow", what="the polling fallback")
            own = start_redis(own.port)
            wait_until(lambda: client.status().push_connected, timeout=20, what="the push to come back")
            pushing = SqlFlagStore(sqlite_url, notifier=bus)
            pushing.set_property(STAGE_KEY, "complete", **WHO)
            wait_until(lambda: _value(client) == "complete", what="the pushed change")
            assert client.counters()["push_error"] >= 1
    finally:
        own.stop()


def test_after_fork_the_child_refreshes_on_its_own(store: SqlFlagStore, sqlite_url: str) -> None:
    store.set_property(STAGE_KEY, "shadow", **WHO)
    client = FlagClient(SqlFlagStore(sqlite_url), poll_interval=0.05)
    assert _value(client) == "shadow"
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its refresher thread did not survive the fork; decide() must bring it back
        os.close(writer)
        os.read(reader, 1)  # the parent has written the change
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _value(client) != "durable":
            time.sleep(0.02)
        ok = _value(client) == "durable" and client.status().pid == os.getpid()
        os._exit(0 if ok else 1)
    os.close(reader)
    try:
        store.set_property(STAGE_KEY, "durable", {"application": "api"}, **WHO)
        os.write(writer, b"x")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the forked child never saw the change"
    finally:
        os.close(writer)
        client.close()


async def test_decide_is_safe_under_asyncio_while_the_snapshot_swaps(store: SqlFlagStore) -> None:
    store.set_property(STAGE_KEY, "shadow", **WHO)
    with FlagClient(store, poll_interval=0.02) as client:
        stages = ("durable", "complete", "shadow", "legacy")

        async def reader() -> set[object]:
            seen: set[object] = set()
            for _ in range(300):
                seen.add(client.decide(STAGE_KEY, REQUEST).value)
                await asyncio.sleep(0)
            return seen

        async def writer() -> None:
            for stage in stages:
                await asyncio.to_thread(store.set_property, STAGE_KEY, stage, **WHO)
                await asyncio.sleep(0.03)

        *results, _ = await asyncio.gather(*(reader() for _ in range(5)), writer())
        seen = set[object]().union(*(r for r in results if r is not None))
        assert seen <= {"shadow", *stages}
        assert client.wait_for_version(store.current_version(), timeout=10)
        assert _value(client) == "legacy"


def test_a_static_client_answers_from_its_snapshot() -> None:
    from flags import FlagTestData

    client = FlagClient.from_snapshot(FlagTestData().stage("complete").snapshot())
    assert _value(client) == "complete" and client.status().mode == "static" and not client.refresh()


def test_redis_bus_publishes_versions_that_a_feed_hears(redis_server: Process) -> None:
    bus = RedisChangeBus(f"redis://127.0.0.1:{redis_server.port}/0", channel="bus-test")
    feed = bus.feed()
    try:
        assert feed.wait(0.05) is None
        bus.publish(7)
        bus.publish(9)
        assert feed.wait(5) == 9  # the newest of a backlog
        redis.Redis(port=redis_server.port).publish("bus-test", "garbage")
        assert feed.wait(0.2) is None
    finally:
        feed.close()
        bus.close()
