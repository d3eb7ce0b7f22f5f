"""The SQL flag store (SQLAlchemy 2; SQLite by default, PostgreSQL in production), with its audit trail.

Every write is one transaction that first bumps `flag_state.version` (which also locks out concurrent writers),
then runs the pure write core and persists its result and its `Change`. After the commit the new version is
announced through the notifier (Redis), if any. Reads for a snapshot read the version before and after, so a
snapshot never claims a version newer than its data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from flags.errors import FlagSchemaNotMigrated, NotFound, PropertyConflict
from flags.model import GLOBAL_SWITCH, Change, JsonValue, KillSwitch, Property, Scope
from flags.snapshot import Snapshot
from flags.sql_engine import make_engine, public_url, translate_error
from flags.sql_rows import change_of, change_row, loads, property_of, property_row, switch_of, switch_row
from flags.sql_schema import flag_changes, flag_properties, flag_state, flag_switches
from flags.store import ChangeNotifier, FlagStore, ScopeLike
from flags.writes import authorship, draft, plan_delete, plan_restore, plan_set, plan_switch

__all__ = ["SqlFlagStore"]

log = logging.getLogger(__name__)

_INCREMENTAL_LIMIT = 500  # more changed properties than this since the last snapshot: read everything


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqlFlagStore:
    """A FlagStore over a SQLAlchemy engine. Raises FlagStoreUnavailable (FlagSchemaNotMigrated) when the database
    fails."""

    def __init__(
        self,
        url_or_engine: str | sa.Engine,
        *,
        notifier: ChangeNotifier | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self.url = public_url(self.engine.url)
        self._notifier = notifier
        self._clock = clock

    def close(self) -> None:
        self.engine.dispose()

    def after_fork(self) -> None:
        """Drop pooled connections inherited from the parent process without closing them under its feet."""
        self.engine.dispose(close=False)

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise translate_error(exc, self.url) from exc

    @contextmanager
    def _writing(self) -> Iterator[tuple[sa.Connection, int]]:
        """A transaction holding the writer lock, with the version this write will create."""
        try:
            with self.engine.begin() as conn:
                bumped = conn.execute(
                    sa.update(flag_state).where(flag_state.c.id == 1).values(version=flag_state.c.version + 1)
                )
                if bumped.rowcount != 1:
                    raise FlagSchemaNotMigrated(
                        f"the flags schema at {self.url} is not initialised: run `cloudops db upgrade`"
                    )
                yield conn, int(conn.execute(sa.select(flag_state.c.version)).scalar_one())
        except sa.exc.IntegrityError as exc:
            # The writer lock makes this a stray concurrent write from outside this code; say so plainly.
            raise PropertyConflict(f"refused by the database: {exc.orig}", key="", conflicting_ids=()) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise translate_error(exc, self.url) from exc

    def _announce(self, version: int) -> None:
        if self._notifier is None:
            return
        try:
            self._notifier.publish(version)
        except Exception:  # readers poll too; a lost announcement only delays them
            log.warning("could not announce flag version %s", version, exc_info=True)

    # -- reads --------------------------------------------------------------------------------------------------

    def check_schema(self) -> None:
        """Raise FlagSchemaNotMigrated (or FlagStoreUnavailable) unless the flags tables are there."""
        self.current_version()

    def current_version(self) -> int:
        with self._reading() as conn:
            found = conn.execute(sa.select(flag_state.c.version).where(flag_state.c.id == 1)).scalar()
        if found is None:
            raise FlagSchemaNotMigrated(f"the flags schema at {self.url} is not initialised: run `cloudops db upgrade`")
        return int(found)

    def load_snapshot(self, previous: Snapshot | None = None) -> Snapshot:
        """The current snapshot. Given the `previous` one, only what the audit trail says changed since is read
        (unless that is a lot), and unchanged properties keep their compiled form."""
        with self._reading() as conn:
            for _ in range(3):
                before = int(conn.execute(sa.select(flag_state.c.version)).scalar_one())
                found = self._read_changes(conn, previous, before) or self._read_all(conn, before)
                if conn.execute(sa.select(flag_state.c.version)).scalar_one() == before:
                    break
                conn.rollback()  # a write landed meanwhile: read again
        return found

    def _read_all(self, conn: sa.Connection, version: int) -> Snapshot:
        props = [property_of(r) for r in conn.execute(sa.select(flag_properties)).mappings()]
        switches = [switch_of(r) for r in conn.execute(sa.select(flag_switches)).mappings()]
        return Snapshot.of(version, props, switches)

    def _read_changes(self, conn: sa.Connection, previous: Snapshot | None, version: int) -> Snapshot | None:
        if previous is None or not 0 <= previous.version <= version:
            return None
        window = (flag_changes.c.change_id > previous.version) & (flag_changes.c.change_id <= version)
        touched = conn.execute(sa.select(flag_changes.c.property_id).where(window).limit(_INCREMENTAL_LIMIT + 1))
        ids = {i for i in touched.scalars() if i is not None}
        if len(ids) > _INCREMENTAL_LIMIT:
            return None
        query = sa.select(flag_properties).where(flag_properties.c.id.in_(ids))
        upserted = [property_of(r) for r in conn.execute(query).mappings()] if ids else []
        switches = [switch_of(r) for r in conn.execute(sa.select(flag_switches)).mappings()]
        return previous.changed(version, upserted, ids - {p.id for p in upserted}, switches)

    def get_property(self, property_id: str) -> Property:
        with self._reading() as conn:
            row = conn.execute(sa.select(flag_properties).where(flag_properties.c.id == property_id)).mappings().first()
        if row is None:
            raise NotFound(f"no live property {property_id} (see `cloudops flags history`)", property_id=property_id)
        return property_of(row)

    def find_property(self, key: str, scope: ScopeLike = None) -> Property | None:
        wanted = scope if isinstance(scope, Scope) else Scope.of(scope or {})
        query = sa.select(flag_properties).where(
            flag_properties.c.key == key, flag_properties.c.scope_key == wanted.key()
        )
        with self._reading() as conn:
            row = conn.execute(query).mappings().first()
        return property_of(row) if row else None

    def list_properties(self, key: str | None = None) -> list[Property]:
        query = sa.select(flag_properties)
        if key is not None:
            query = query.where(flag_properties.c.key == key)
        with self._reading() as conn:
            found = [property_of(r) for r in conn.execute(query).mappings()]
        return sorted(found, key=lambda p: (p.key, tuple(-x for x in p.scope.specificity()), p.scope.key()))

    def history(self, *, key: str | None = None, property_id: str | None = None, limit: int = 100) -> list[Change]:
        query = sa.select(flag_changes).order_by(flag_changes.c.change_id.desc()).limit(limit)
        if key is not None:
            query = query.where(flag_changes.c.key == key)
        if property_id is not None:
            query = query.where(flag_changes.c.property_id == property_id)
        with self._reading() as conn:
            return [change_of(r) for r in conn.execute(query).mappings()]

    def kill_switches(self) -> list[KillSwitch]:
        with self._reading() as conn:
            rows = conn.execute(sa.select(flag_switches).order_by(flag_switches.c.target)).mappings()
            return [switch_of(r) for r in rows]

    # -- writes -------------------------------------------------------------------------------------------------

    def set_property(
        self,
        key: str,
        value: JsonValue,
        scope: ScopeLike = None,
        *,
        actor: str,
        reason: str,
        ticket: str | None = None,
        percent: float | None = None,
        bucket_by: str | None = None,
        expires_at: datetime | None = None,
        property_id: str | None = None,
        expected_version: int | None = None,
    ) -> Property:
        now = self._clock()
        who = authorship(actor, reason, ticket)
        new = draft(key, value, scope, percent=percent, bucket_by=bucket_by, expires_at=expires_at, now=now)
        with self._writing() as (conn, change_id):
            live = [property_of(r) for r in conn.execute(_live_of(key)).mappings()]
            prop, change = plan_set(
                new,
                who,
                live,
                property_id=property_id,
                expected_version=expected_version,
                new_id=f"p{change_id}",
                change_id=change_id,
                now=now,
            )
            if prop.version == 1:
                conn.execute(sa.insert(flag_properties).values(**property_row(prop)))
            else:
                conn.execute(
                    sa.update(flag_properties).where(flag_properties.c.id == prop.id).values(**property_row(prop))
                )
            conn.execute(sa.insert(flag_changes).values(**change_row(change)))
        self._announce(change_id)
        return prop

    def delete_property(
        self,
        property_id: str,
        *,
        actor: str,
        reason: str,
        ticket: str | None = None,
        expected_version: int | None = None,
    ) -> Change:
        who = authorship(actor, reason, ticket)
        with self._writing() as (conn, change_id):
            row = conn.execute(sa.select(flag_properties).where(flag_properties.c.id == property_id)).mappings().first()
            if row is None:
                raise NotFound(f"no live property {property_id}", property_id=property_id)
            change = plan_delete(
                property_of(row), who, expected_version=expected_version, change_id=change_id, now=self._clock()
            )
            conn.execute(sa.delete(flag_properties).where(flag_properties.c.id == property_id))
            conn.execute(sa.insert(flag_changes).values(**change_row(change)))
        self._announce(change_id)
        return change

    def restore(
        self, property_id: str, version: int, *, actor: str, reason: str, ticket: str | None = None
    ) -> Property:
        who = authorship(actor, reason, ticket)
        with self._writing() as (conn, change_id):
            of_property = flag_changes.c.property_id == property_id
            target = (
                conn.execute(sa.select(flag_changes).where(of_property, flag_changes.c.property_version == version))
                .mappings()
                .first()
            )
            if target is None:
                raise NotFound(
                    f"property {property_id} has no version {version}", property_id=property_id, version=version
                )
            latest = conn.execute(sa.select(sa.func.max(flag_changes.c.property_version)).where(of_property)).scalar()
            live = [property_of(r) for r in conn.execute(_live_of(target["key"])).mappings()]
            prop, change = plan_restore(
                loads(target["after_json"]),
                who,
                live,
                property_id=property_id,
                version=version,
                latest_version=int(latest or version),
                change_id=change_id,
                now=self._clock(),
            )
            if any(p.id == prop.id for p in live):
                conn.execute(
                    sa.update(flag_properties).where(flag_properties.c.id == prop.id).values(**property_row(prop))
                )
            else:
                conn.execute(sa.insert(flag_properties).values(**property_row(prop)))
            conn.execute(sa.insert(flag_changes).values(**change_row(change)))
        self._announce(change_id)
        return prop

    def set_kill_switch(
        self, engaged: bool, *, key: str | None = None, actor: str, reason: str, ticket: str | None = None
    ) -> KillSwitch:
        who = authorship(actor, reason, ticket)
        target = key or GLOBAL_SWITCH
        with self._writing() as (conn, change_id):
            row = conn.execute(sa.select(flag_switches).where(flag_switches.c.target == target)).mappings().first()
            current = switch_of(row) if row else None
            switch, change = plan_switch(current, target, engaged, who, change_id=change_id, now=self._clock())
            values = switch_row(switch)
            if current is None:
                conn.execute(sa.insert(flag_switches).values(**values))
            else:
                conn.execute(sa.update(flag_switches).where(flag_switches.c.target == target).values(**values))
            conn.execute(sa.insert(flag_changes).values(**change_row(change)))
        self._announce(change_id)
        return switch


def _live_of(key: str) -> sa.Select[Any]:
    return sa.select(flag_properties).where(flag_properties.c.key == key)


if TYPE_CHECKING:

    def _conforms(store: SqlFlagStore) -> FlagStore:  # mypy checks the class against the protocol
        return store
