"""The Redis task repository against a real redis-server: Clouddriver's key layout and TTLs, read key by key, the
"completed before results" race, the SETNX duplicate race, and expiry."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient
from infra import Process
from legacy_payloads import aws_create, resize, statuses, titus_create, wait_task

from cloud.sim import SimCloud
from legacy_clouddriver import create_app
from legacy_clouddriver.redis_repository import RedisTaskRepository

pytestmark = pytest.mark.redis

DB = 7  # a database of our own on the shared session server, flushed around each test
FAST = {"HEALTH_POLL_S": 0.02, "HEALTH_TIMEOUT_S": 5, "PROVIDER_BACKOFF_S": 0.01, "ACCOUNTS_TTL_S": 0}


@pytest.fixture
def redis_url(redis_server: Process) -> Iterator[str]:
    url = f"redis://127.0.0.1:{redis_server.port}/{DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def client_for(redis_url: str, sim: SimCloud, **settings: object) -> FlaskClient:
    return create_app({**FAST, "REDIS_URL": redis_url, **settings}, provider=sim).test_client()


def test_clouddrivers_key_layout_and_ttls(redis_url: str, r: redis.Redis) -> None:
    client = client_for(redis_url, SimCloud(health_delay_s=0.3), TASK_TTL_S=600)
    task_id = client.post("/aws/ops?clientRequestId=k-1", json=[{"createServerGroup": aws_create()}]).get_json()["id"]
    uuid.UUID(task_id)  # Redis task ids are UUIDs
    assert r.sismember("kato:tasks", task_id)  # running
    task = wait_task(client, task_id)

    assert r.type(f"task:{task_id}") == "hash"
    fields = r.hgetall(f"task:{task_id}")
    assert {"id", "startTimeMs", "ownerId", "sagaIds"} <= set(fields) and "requestId" not in fields
    assert json.loads(fields["sagaIds"]) == []
    assert 0 < r.ttl(f"task:{task_id}") <= 600

    assert r.type(f"taskHistory:{task_id}") == "list"
    history = [json.loads(h) for h in r.lrange(f"taskHistory:{task_id}", 0, -1)]
    assert all(set(h) == {"phase", "status", "state"} for h in history)
    assert [h["state"] for h in history[:-1]] == ["STARTED"] * (len(history) - 1)
    assert history[-1] == {"phase": "ORCHESTRATION", "status": "Orchestration completed.", "state": "COMPLETED"}
    assert 0 < r.ttl(f"taskHistory:{task_id}") <= 600

    assert r.type(f"taskResult:{task_id}") == "list"
    results = [json.loads(x) for x in r.lrange(f"taskResult:{task_id}", 0, -1)]
    assert results == task["resultObjects"]
    assert 0 < r.ttl(f"taskResult:{task_id}") <= 600

    assert r.get("kato:taskmap:k-1") == task_id and r.ttl("kato:taskmap:k-1") == -1
    assert not r.sismember("kato:tasks", task_id) and r.ttl("kato:tasks") in (-1, -2)

    # JedisTask hides the terminal copy of the last entry; requestId is never stored, so it reads back null.
    assert statuses(task)[-1] == "Orchestration completed." and statuses(task).count("Orchestration completed.") == 1
    assert len(task["history"]) == len(history) - 1
    assert task["requestId"] is None and task["status"]["completed"]


def test_the_status_is_written_before_the_results_so_a_reader_can_see_completed_without_results(
    redis_url: str,
) -> None:
    client = client_for(redis_url, SimCloud(health_delay_s=0.05), REDIS_RESULT_DELAY_S=0.5)
    task_id = client.post("/aws/ops", json=[{"createServerGroup": aws_create()}]).get_json()["id"]
    seen_empty = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = client.get(f"/task/{task_id}").get_json()
        if task["status"]["completed"]:
            if not task["resultObjects"]:
                seen_empty = True
            else:
                break
        time.sleep(0.01)
    assert seen_empty, "never saw the completed-without-results window"
    assert task["resultObjects"][0]["serverGroupNames"] == ["us-east-1:myapp-main-v000"]


def test_a_lost_setnx_race_marks_the_loser_a_duplicate_and_returns_the_winner(redis_url: str, r: redis.Redis) -> None:
    repo = RedisTaskRepository.from_url(redis_url)
    winner, created = repo.create("ORCHESTRATION", "Initializing Orchestration Task", "dup")
    again, created_again = repo.create("ORCHESTRATION", "Initializing Orchestration Task", "dup")
    assert created and not created_again and again.id == winner.id
    (loser,) = {k.split(":", 1)[1] for k in r.keys("taskHistory:*")} - {winner.id}
    last = json.loads(r.lindex(f"taskHistory:{loser}", -1) or "{}")
    assert last == {"phase": "ORCHESTRATION", "status": "Duplicate of dup", "state": "FAILED"}
    assert r.smembers("kato:tasks") == {winner.id}


def test_an_expired_task_is_404_and_reposting_its_client_request_id_fails(redis_url: str, r: redis.Redis) -> None:
    client = client_for(redis_url, SimCloud(), TASK_TTL_S=1)
    ops = [{"resizeServerGroup": resize("myapp-main-v000", 3, dryRun=True)}]
    task_id = client.post("/aws/ops?clientRequestId=short", json=ops).get_json()["id"]
    wait_task(client, task_id)
    time.sleep(1.3)
    assert client.get(f"/task/{task_id}").status_code == 404
    assert r.get("kato:taskmap:short") == task_id  # the index has no TTL and outlives its task
    response = client.post("/aws/ops?clientRequestId=short", json=ops)
    assert response.status_code == 500  # Clouddriver's NullPointerException, with a message instead of a trace
    assert "no longer exists" in response.get_json()["message"]


def test_another_instance_resumes_a_saga_from_redis(redis_url: str) -> None:
    sim = SimCloud(health_delay_s=0.05)
    first, second = client_for(redis_url, sim), client_for(redis_url, sim)
    wait_task(first, first.post("/titus/ops", json=[{"createServerGroup": titus_create()}]).get_json()["id"])
    sim.set_hard_down(account="titustest")
    ops = [{"resizeServerGroup": resize("helloworld-main-v000", 3, provider="titus", account="titustest")}]
    task_id = first.post("/titus/ops", json=ops).get_json()["id"]
    failed = wait_task(second, task_id)
    assert failed["retryable"] and failed["sagaIds"][0]["name"] == "ResizeTitusServerGroupAtomicOperation"
    sim.set_hard_down(account="titustest", down=False)
    assert second.post(f"/task/{task_id}:resume").status_code == 200
    assert not wait_task(first, task_id)["status"]["failed"]
    group = sim.describe_server_group("titustest", "us-east-1", "helloworld-main-v000")
    assert group is not None and group.capacity.desired == 3
