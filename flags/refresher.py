"""SnapshotRefresher: keeps a FlagClient's snapshot fresh, in a background thread, and survives fork.

On a Redis push (when a feed is configured) it refreshes at once, with a slow safety poll since pub/sub can drop
messages, and polls every `poll_interval` while the feed is down; without a feed it polls. A refresh reads only
what changed (plus a full reload now and then). Whatever fails, the last good snapshot stays and `status()` says
why. After `os.fork()` the child has no refresher thread and may hold locks a dead thread took: an at-fork hook
gives it fresh locks, and the first use in the child restarts the thread and drops inherited connections.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flags.counters import DecisionCounters
from flags.errors import FlagError
from flags.snapshot import Snapshot
from flags.store import ChangeFeed, SnapshotSource

__all__ = ["ClientStatus", "SnapshotRefresher"]

log = logging.getLogger(__name__)

_REFRESHERS: weakref.WeakSet[SnapshotRefresher] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """How fresh a client's snapshot is. `stale` means the last refresh failed (`last_error` says why) and the
    client answers from the last good snapshot (or, if none was ever loaded, with defaults)."""

    version: int
    loaded: bool
    stale: bool
    mode: str  # "push", "poll" or "static"
    push_connected: bool
    last_error: str | None
    last_success_at: float | None
    refreshes: int
    pid: int

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "loaded": self.loaded,
            "stale": self.stale,
            "mode": self.mode,
            "pushConnected": self.push_connected,
            "lastError": self.last_error,
            "lastSuccessAt": self.last_success_at,
            "refreshes": self.refreshes,
            "pid": self.pid,
        }


class SnapshotRefresher:
    """Owns the current snapshot of one client; `snapshot` is swapped whole, never mutated."""

    def __init__(
        self,
        source: SnapshotSource,
        counters: DecisionCounters,
        *,
        feed: Callable[[], ChangeFeed] | None,
        poll_interval: float,
        safety_poll_interval: float,
        full_reload_interval: float,
    ) -> None:
        self.source = source
        self.snapshot = Snapshot.empty()
        self._counters = counters
        self._feed_factory = feed
        self._poll_interval = poll_interval
        self._safety_poll_interval = safety_poll_interval
        self._full_reload_interval = full_reload_interval
        self._listeners: list[Callable[[Snapshot], None]] = []
        self._running = False
        self.forked = False
        self._init_process_state()
        _REFRESHERS.add(self)

    def _init_process_state(self) -> None:
        self.pid = os.getpid()
        self.forked = False
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._push_connected = False
        self._last_error: str | None = None
        self._last_success_at: float | None = None
        self._last_full_reload = float("-inf")
        self._refreshes = 0

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def status(self) -> ClientStatus:
        if self.forked or os.getpid() != self.pid:
            self.resume_after_fork()
        return ClientStatus(
            version=self.snapshot.version,
            loaded=self.snapshot.loaded,
            stale=self._last_error is not None,
            mode="push" if self._feed_factory else "poll",
            push_connected=self._push_connected,
            last_error=self._last_error,
            last_success_at=self._last_success_at,
            refreshes=self._refreshes,
            pid=self.pid,
        )

    def add_listener(self, listener: Callable[[Snapshot], None]) -> None:
        self._listeners.append(listener)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload if the store's version moved (or `force`); True if the snapshot swapped. Never raises."""
        with self._lock:
            current = self.snapshot
            try:
                if not force and current.loaded and self.source.current_version() == current.version:
                    self._mark_ok()
                    return False
                full = (
                    force
                    or not current.loaded
                    or time.monotonic() - self._last_full_reload >= self._full_reload_interval
                )
                fresh = self.source.load_snapshot(None if full else current)
                if full:
                    self._last_full_reload = time.monotonic()
            except (FlagError, ValueError, OSError) as exc:
                return self._mark_failed(exc)
            except Exception as exc:  # an unexpected driver error: the same treatment, a louder log
                log.exception("unexpected error refreshing flags")
                return self._mark_failed(exc)
            self._mark_ok()
            self._counters.add("refresh")
            if fresh.version == current.version and not force:
                return False
            self.snapshot = fresh
            self._refreshes += 1
        with self._changed:
            self._changed.notify_all()
        for listener in list(self._listeners):
            try:
                listener(fresh)
            except Exception:
                log.exception("flag change listener failed")
        return True

    def _mark_ok(self) -> None:
        if self._last_error is not None:
            log.info("flag store reachable again")
        self._last_error = None
        self._last_success_at = time.time()

    def _mark_failed(self, exc: BaseException) -> bool:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        if message != self._last_error:
            log.warning("flag refresh failed, keeping snapshot v%s: %s", self.snapshot.version, message)
        self._last_error = message
        self._counters.add("refresh_error")
        return False

    def wait_for_version(self, version: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.snapshot.version >= version, timeout=timeout)

    # -- the background thread ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="flags-refresher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        feed: ChangeFeed | None = None
        next_poll = time.monotonic() + self._poll_interval
        while not stop.is_set():
            if self._feed_factory is not None and feed is None:
                feed = self._open_feed()
            interval = self._safety_poll_interval if feed is not None else self._poll_interval
            if feed is not None:
                try:
                    announced = feed.wait(timeout=min(0.5, max(next_poll - time.monotonic(), 0.0)))
                except Exception as exc:
                    log.warning("flag change feed broke, polling until it is back: %s", exc)
                    self._counters.add("push_error")
                    self._close_feed(feed)
                    feed, announced = None, None
                if announced is not None:
                    self._counters.add("push")
                    if announced != self.snapshot.version:
                        self.refresh()
            else:
                stop.wait(max(min(next_poll - time.monotonic(), 0.5), 0.0))
            if time.monotonic() >= next_poll:
                self.refresh()
                next_poll = time.monotonic() + interval
        if feed is not None:
            self._close_feed(feed)

    def _open_feed(self) -> ChangeFeed | None:
        assert self._feed_factory is not None
        try:
            feed = self._feed_factory()
        except Exception as exc:
            if self._push_connected or not self._counters.snapshot().get("push_error"):
                log.warning("flag change feed unavailable, polling meanwhile: %s", exc)
            self._counters.add("push_error")
            self._push_connected = False
            self._stop.wait(self._poll_interval)
            return None
        self._push_connected = True
        self.refresh()  # whatever was announced while we were not listening
        return feed

    def _close_feed(self, feed: ChangeFeed) -> None:
        self._push_connected = False
        try:
            feed.close()
        except Exception:
            log.debug("closing the flag change feed failed", exc_info=True)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def after_fork_in_child(self) -> None:
        """Runs in the child right after fork, before any other thread exists: no thread, fresh locks."""
        self.forked = True
        self._counters.after_fork()
        self._lock = threading.Lock()
        self._changed = threading.Condition()

    def resume_after_fork(self) -> None:
        with self._lock:
            if not self.forked and os.getpid() == self.pid:
                return
            snapshot = self.snapshot
            self._init_process_state()
            self.snapshot = snapshot
        after_fork = getattr(self.source, "after_fork", None)
        if callable(after_fork):
            after_fork()
        log.info("flag refresher resumed in forked process %s", self.pid)
        if self._running:
            self.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def _after_fork_in_child() -> None:
    for refresher in list(_REFRESHERS):
        refresher.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
