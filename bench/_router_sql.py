"""The SQL stores of `cloudops bench router`: opening the database an arm keeps ownership (and records) in, and
counting what one operation asks of it on the caller's thread.

The engines are made as `router.factory.build_routing_runner` makes its own (`router.factory.database_engine`:
PostgreSQL on psycopg 3 with a pre-ping on every checkout, SQLite in WAL mode with a busy timeout), so an arm
measures the production wiring. `count_caller_sql` runs operations untimed and counts, on the calling thread only
(the record writer's thread is left out: it is off the caller's path), the SQL statements, the transactions begun
and the pool checkouts (each one a pre-ping round trip on PostgreSQL). bench/router.py is the benchmark.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import click
import sqlalchemy as sa

__all__ = ["caller_sql_per_operation", "database_floor", "open_postgres", "sql_engine"]


def sql_engine(url: str, *, pre_ping: bool = True) -> sa.Engine:
    """An engine over `url` with the router's tables at the newest migration, made as the router's factory does;
    with `pre_ping=False` a PostgreSQL pool that does not ping on checkout (what a user may choose: one round trip
    less per claim, and a failed statement instead of a ping after the server restarts)."""
    import migrations
    from router.factory import database_engine

    engine = database_engine(url) if pre_ping else sa.create_engine(url)
    migrations.upgrade(engine)
    return engine


def open_postgres(url: str) -> str:
    """`url` normalised, once it is known to be a PostgreSQL database that answers; a clear error otherwise."""
    from flags.sql_engine import normalise_url, public_url

    normalised = normalise_url(url)
    try:
        backend = sa.make_url(normalised).get_backend_name()
    except sa.exc.ArgumentError as exc:
        hint = "use postgresql://user@host/db"
        raise click.ClickException(f"--postgres-url {url!r} is not a database URL: {hint}") from exc
    if backend != "postgresql":
        raise click.ClickException(f"--postgres-url names a {backend} database: give a PostgreSQL one")
    engine = sa.create_engine(normalised)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = text[0] if text else type(exc).__name__
        raise click.ClickException(f"cannot open --postgres-url {public_url(normalised)}: {first}") from exc
    finally:
        engine.dispose()
    return normalised


class _CallerCounter:
    """SQLAlchemy event listeners that count one thread's statements, transactions and checkouts."""

    def __init__(self, engine: sa.Engine) -> None:
        self.thread = threading.get_ident()
        self.counts = {"statements": 0, "transactions": 0, "checkouts": 0}
        self._engine = engine
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = [
            (engine, "before_cursor_execute", self._bump("statements")),
            (engine, "begin", self._bump("transactions")),
            (engine.pool, "checkout", self._bump("checkouts")),
        ]

    def _bump(self, what: str) -> Callable[..., None]:
        def listener(*_args: Any, **_kwargs: Any) -> None:
            if threading.get_ident() == self.thread:
                self.counts[what] += 1

        return listener

    def __enter__(self) -> _CallerCounter:
        for target, name, listener in self._listeners:
            sa.event.listen(target, name, listener)
        return self

    def __exit__(self, *exc: object) -> None:
        for target, name, listener in self._listeners:
            sa.event.remove(target, name, listener)


def caller_sql_per_operation(engine: sa.Engine, call: Callable[[Any], Any], requests: Iterable[Any]) -> dict[str, Any]:
    """Run `call` on each request (untimed) and say what each asked of `engine` on this thread, on average."""
    done = 0
    with _CallerCounter(engine) as counter:
        for request in requests:
            call(request)
            done += 1
    per = {k: round(v / done, 2) for k, v in counter.counts.items()} if done else {}
    pre_ping = bool(getattr(engine.pool, "_pre_ping", False))
    return {"operations": done, **per, "pre_ping_on_checkout": pre_ping}


def database_floor(url: str, samples: int) -> dict[str, Any]:
    """The database's own round trips at this moment, from the driver with no pool and no SQLAlchemy: `SELECT 1`,
    and a one-row `INSERT .. ON CONFLICT DO NOTHING` committed as it runs (what a claim waits for: a round trip and
    a durable commit) into a scratch table dropped afterwards. On a shared machine most of a round trip is waiting
    to be scheduled, the server's process and ours: no router code can be faster than this floor."""
    import psycopg

    from bench._support import summary_us

    scratch = f"cloudops_bench_floor_{uuid.uuid4().hex[:8]}"
    clock = time.perf_counter
    select: list[float] = []
    insert: list[float] = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {scratch} (id text PRIMARY KEY)")
        try:
            statement = f"INSERT INTO {scratch} (id) VALUES (%s) ON CONFLICT DO NOTHING"
            for i in range(samples):
                began = clock()
                conn.execute("SELECT 1").fetchone()
                select.append(clock() - began)
                began = clock()
                conn.execute(statement, (str(i),))
                insert.append(clock() - began)
        finally:
            conn.execute(f"DROP TABLE {scratch}")
    return {"select_1": summary_us(select), "insert_commit": summary_us(insert)}
