"""The gateway's verdicts on submitted lists, in SQL (`gateway_admissions`) and in Prometheus counters.

Each verdict is written before the list goes anywhere, one row per operation, unique per clientRequestId and
position: a retried POST of a list that went to the upstream goes there again (the upstream deduplicates it on
the same clientRequestId), so flags that change between the attempts never start it on a second path. The rows
are also the evidence of how much of the traffic the durable path could take at all (`summary`, read by
`cloudops report`); the counters (`cloudops_gateway_passthrough_total{operation,reason}` and
`cloudops_gateway_taken_total{operation,reason}`) say the same live.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter

from gateway.admission import Admission
from gateway.tables import gateway_admissions as table

__all__ = ["AdmissionLog", "AdmissionSummary", "GatewayMetrics"]

_MAX_NAMES = 256
OTHER = "(other)"
UNREADABLE = "(unreadable)"


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, GatewayMetrics] = weakref.WeakKeyDictionary()
_BY_REGISTRY_LOCK = threading.Lock()


class GatewayMetrics:
    """The gateway's counters, on the registry its /metrics serves. Operation names come from callers, so the
    label keeps the first 256 distinct names and counts any further one as `(other)`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.passthrough = Counter(
            "cloudops_gateway_passthrough_total",
            "Operations of submitted lists the gateway passed to the upstream Clouddriver, by operation and why.",
            ["operation", "reason"],
            registry=self.registry,
        )
        self.taken = Counter(
            "cloudops_gateway_taken_total",
            "Operations of submitted lists the gateway took itself (routed by the flags), by operation and why.",
            ["operation", "reason"],
            registry=self.registry,
        )
        self._names: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def on(cls, registry: CollectorRegistry | None) -> GatewayMetrics:
        """The gateway metrics of `registry` (made once per registry: two gateways over one router share them);
        a fresh registry's when None."""
        if registry is None:
            return cls()
        with _BY_REGISTRY_LOCK:
            found = _BY_REGISTRY.get(registry)
            if found is None:
                found = _BY_REGISTRY[registry] = cls(registry)
            return found

    def _label(self, name: str) -> str:
        with self._lock:
            if name in self._names:
                return name
            if len(self._names) < _MAX_NAMES:
                self._names.add(name)
                return name
        return OTHER

    def count(self, admission: Admission) -> None:
        counter = self.taken if admission.taken else self.passthrough
        names = [op.name for op in admission.operations] or [UNREADABLE]
        for name in names:
            counter.labels(self._label(name), admission.reason.value).inc()


@dataclass(frozen=True, slots=True)
class AdmissionSummary:
    """Operations submitted through the gateway over a window: how many, how many the catalogue knows, how many
    the gateway took, and those passed to the upstream by (operation, reason)."""

    operations: int
    known: int
    taken: int
    passed: tuple[tuple[str, str, int], ...]  # (operation, reason, count), the largest first

    @property
    def known_share(self) -> float | None:
        """The share of operations the durable path could take at all (None when there were none)."""
        return self.known / self.operations if self.operations else None

    def describe(self) -> str:
        """One line for a report: the share the durable path could take, and what went to the upstream."""
        share = f"{100 * self.known_share:.1f}%" if self.known_share is not None else "-"
        passed = ", ".join(f"{o} x{n} ({r})" for o, r, n in self.passed[:8])
        more = f", and {len(self.passed) - 8} more" if len(self.passed) > 8 else ""
        return (
            f"gateway: {self.operations} operations submitted, {self.known} ({share}) known to the catalogue (the "
            f"durable path could take them), {self.taken} taken by the gateway"
            + (f"; passed to the upstream Clouddriver: {passed}{more}" if passed else "")
        )

    def to_json(self) -> dict[str, object]:
        return {
            "operations": self.operations,
            "known": self.known,
            "taken": self.taken,
            "knownShare": self.known_share,
            "passed": [{"operation": o, "reason": r, "count": n} for o, r, n in self.passed],
        }


class AdmissionLog:
    """Verdicts in `gateway_admissions`; SQLAlchemy errors propagate (the gateway answers 503 for them)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record(self, request_id: str, admission: Admission) -> bool:
        """One row per operation (one `(unreadable)` row for a body that lists none); whether the verdict that
        stands for this clientRequestId took the list: this one, or, when another request recorded one first
        (a concurrent retry), that one."""
        now = datetime.now(UTC)
        base = {"request_id": request_id, "taken": admission.taken, "reason": admission.reason.value, "decided_at": now}
        rows = [
            {
                **base,
                "position": op.position,
                "operation": op.name,
                "provider": op.provider,
                "account": op.account,
                "application": op.application,
                "known": op.known,
            }
            for op in admission.operations
        ] or [
            {
                **base,
                "position": 0,
                "operation": UNREADABLE,
                "provider": "",
                "account": "",
                "application": "",
                "known": False,
            }
        ]
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), rows)
        except sa.exc.IntegrityError:
            earlier = self.verdict(request_id)  # decided in the meantime: the first verdict stands
            return admission.taken if earlier is None else earlier
        return admission.taken

    def verdict(self, request_id: str) -> bool | None:
        """Whether the list submitted with this clientRequestId was taken (True) or passed to the upstream
        (False); None when no list was submitted with it."""
        query = sa.select(table.c.taken).where(table.c.request_id == request_id).order_by(table.c.id).limit(1)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else bool(found)

    def summary(self, since: datetime, until: datetime | None = None) -> AdmissionSummary:
        """What was submitted in [since, until] (one query, grouped in SQL)."""
        window = table.c.decided_at >= since
        if until is not None:
            window = sa.and_(window, table.c.decided_at <= until)
        query = (
            sa.select(table.c.operation, table.c.known, table.c.taken, table.c.reason, sa.func.count())
            .where(window)
            .group_by(table.c.operation, table.c.known, table.c.taken, table.c.reason)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        passed: Tally[tuple[str, str]] = Tally()
        operations = known = taken = 0
        for operation, is_known, is_taken, reason, count in rows:
            operations += count
            known += count if is_known else 0
            taken += count if is_taken else 0
            if not is_taken:
                passed[(str(operation), str(reason))] += count
        ordered = sorted(passed.items(), key=lambda item: (-item[1], item[0]))
        return AdmissionSummary(operations, known, taken, tuple((o, r, n) for (o, r), n in ordered))
