"""The default retention, applied on its own: one prune pass per interval (an hour by default) on a daemon thread,
off every caller's path, as Clouddriver schedules its `SqlTaskCleanupAgent` as an agent of its own.

`build_routing_runner` starts one over the router's tables when the `retention` setting is not `off`, and the
runner's `close()` stops it; the gateway starts another over its own tables. The first pass runs one interval
after the start, so a short-lived process (a CLI command) never prunes: `cloudops db prune` (from cron, say) is
for those. A failed pass is logged and counted (`cloudops_router_internal_errors_total{where=<name>}`) and never
raised: the next pass tries again. Deleted rows are counted per table (`cloudops_router_retention_deleted_total`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from router.errors import RetentionUnavailable
from router.metrics import RouterMetrics
from router.retention_values import DEFAULT_INTERVAL_S, PruneReport

__all__ = ["PruneFunction", "RetentionLoop"]

log = logging.getLogger(__name__)

PruneFunction = Callable[[Callable[[], bool]], PruneReport]
"""One pass: called with `keep_going` (False once the loop is closing, so a long backlog stops between batches)."""


class RetentionLoop:
    """Calls `prune` every `interval_s` seconds on a daemon thread until `close()`; never raises into anyone."""

    def __init__(
        self,
        prune: PruneFunction,
        metrics: RouterMetrics,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        name: str = "retention",
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"a retention interval of {interval_s!r} seconds: give a number above 0")
        self._prune = prune
        self._metrics = metrics
        self._interval_s = interval_s
        self.name = name
        self.passes = 0
        self.failures = 0
        self.last_report: PruneReport | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cloudops-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self.run_once()

    def run_once(self) -> PruneReport | None:
        """One pass now; its report, or None when it failed (logged and counted)."""
        try:
            report = self._prune(lambda: not self._stopping.is_set())
        except RetentionUnavailable as exc:
            self._failed()
            log.warning("%s pass failed, will try again in %ss: %s", self.name, self._interval_s, exc)
            return None
        except Exception:
            self._failed()
            log.exception("%s pass failed, will try again in %ss", self.name, self._interval_s)
            return None
        for table, rows in report.deleted.items():
            self._metrics.retention_deleted.labels(table).inc(rows)
        self.passes += 1
        self.last_report = report
        if report.total:
            log.info("%s pass deleted %s (finished before %s)", self.name, dict(report.deleted), report.cutoff)
        return report

    def _failed(self) -> None:
        self.failures += 1
        self._metrics.internal_errors.labels(self.name).inc()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop: a pass in progress ends after its current batch."""
        self._stopping.set()
        self._thread.join(timeout_s)
