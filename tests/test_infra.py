"""The real components the suite relies on start, answer and stop."""

from __future__ import annotations

import redis
import sqlalchemy as sa
from infra import Process


def test_redis_server_answers(redis_server: Process) -> None:
    client = redis.Redis(port=redis_server.port)
    assert client.ping() is True


def test_postgres_server_answers(postgres_server: Process) -> None:
    engine = sa.create_engine(postgres_server.extra["url"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 1 + 1")).scalar() == 2
    engine.dispose()
