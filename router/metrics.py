"""Prometheus metrics of the router: operations per path and outcome, decisions, fallbacks, comparisons.

Each RoutingRunner owns a `RouterMetrics` on a registry of its choosing (a fresh one by default, so two routers
in one process, or two tests, never share counters); `cloudops` serves the registry it is given.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["MAX_FIELD_LABELS", "RouterMetrics", "field_label"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
MAX_FIELD_LABELS = 200  # distinct field labels per router; the rest count as "other" (Prometheus cardinality)
_INDEX = re.compile(r"\[\d+\]")


def field_label(path: str) -> str:
    """A differing field's path as a bounded label: list indexes dropped (`mutations[3].x` -> `mutations[].x`)."""
    return _INDEX.sub("[]", path)


class RouterMetrics:
    """The router's counters and histograms. Label values are bounded: paths, operation names, enums."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.operations = Counter(
            "cloudops_router_operations_total",
            "Operations finished, by authoritative path, operation and status.",
            ["path", "operation", "status", "error_kind"],
            registry=r,
        )
        self.duration = Histogram(
            "cloudops_router_operation_duration_seconds",
            "End-to-end duration of operations as the caller saw them.",
            ["path", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "cloudops_router_decisions_total",
            "Routing decisions, by stage, chosen path and why (matched, default, kill_switch, owned).",
            ["stage", "path", "basis"],
            registry=r,
        )
        self.fallbacks = Counter(
            "cloudops_router_fallbacks_total",
            "Operations moved from the durable path to legacy because the workflow was certainly not started.",
            ["operation"],
            registry=r,
        )
        self.comparisons = Counter(
            "cloudops_router_comparisons_total",
            "Shadow comparisons, by operation and outcome.",
            ["operation", "outcome"],
            registry=r,
        )
        self.differing_fields = Counter(
            "cloudops_router_differing_fields_total",
            "Fields that differed in shadow comparisons, by operation, field path (indexes dropped; past "
            f"{MAX_FIELD_LABELS} distinct paths, 'other') and whether an ignore rule hid the difference.",
            ["operation", "field", "ignored"],
            registry=r,
        )
        self._field_labels: set[str] = set()
        self._field_lock = threading.Lock()
        self.shadows_skipped = Counter(
            "cloudops_router_shadows_skipped_total",
            "Shadow runs not started, by reason (concurrency cap, circuit open).",
            ["reason"],
            registry=r,
        )
        self.shadow_duration = Histogram(
            "cloudops_router_shadow_duration_seconds",
            "Duration of candidate dry runs.",
            ["path", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.records_dropped = Counter(
            "cloudops_router_records_dropped_total",
            "Outcome and comparison records dropped because the record store was down or the buffer full.",
            ["kind"],
            registry=r,
        )
        self.records_deduplicated = Counter(
            "cloudops_router_records_deduplicated_total",
            "Outcome and comparison records not written because another writer recorded the operation first.",
            ["kind"],
            registry=r,
        )
        self.reconciled = Counter(
            "cloudops_router_reconciled_total",
            "Finished operations the reconciler handed to the recorder (their starter never polled them to the end).",
            ["path"],
            registry=r,
        )
        self.retention_deleted = Counter(
            "cloudops_router_retention_deleted_total",
            "Rows deleted by the background retention passes, by table.",
            ["table"],
            registry=r,
        )
        self.internal_errors = Counter(
            "cloudops_router_internal_errors_total",
            "Errors swallowed inside the router (shadow, compare, publish, retention), by where they happened.",
            ["where"],
            registry=r,
        )

    def count_differing_fields(self, operation: str, diffs: Iterable[tuple[str, bool]]) -> None:
        """Count each (field path, ignored) of one comparison, keeping the field labels bounded."""
        for path, ignored in diffs:
            label = field_label(path)
            with self._field_lock:
                if label not in self._field_labels:
                    if len(self._field_labels) >= MAX_FIELD_LABELS:
                        label = "other"
                    else:
                        self._field_labels.add(label)
            self.differing_fields.labels(operation, label, "true" if ignored else "false").inc()

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Read one sample (for tests and reports); 0.0 when it was never set."""
        found = self.registry.get_sample_value(name, labels or {})
        return 0.0 if found is None else float(found)
