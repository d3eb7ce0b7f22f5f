"""Change push over Redis pub/sub: writers publish the new store version, readers refresh when they hear it.

Pub/sub is fire-and-forget (a reader that is disconnected misses messages), so readers also poll the version
now and then, and re-check it whenever they (re)subscribe. A failed publish is logged, never raised: the write
has already committed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

__all__ = ["DEFAULT_CHANNEL", "RedisChangeBus", "RedisChangeFeed"]

DEFAULT_CHANNEL = "cloudops:flags:version"

log = logging.getLogger(__name__)


class RedisChangeBus:
    """Publishes versions to, and opens feeds on, one Redis channel. Safe to share; connections are per process."""

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL, timeout: float = 2.0) -> None:
        self.url = url
        self.channel = channel
        self._timeout = timeout
        self._client: redis.Redis[Any] | None = None

    def _redis(self) -> redis.Redis[Any]:
        # redis-py's pool notices a fork by itself and reconnects in the child.
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
        return self._client

    def publish(self, version: int) -> None:
        """Announce `version`; failures are logged (readers fall back to polling)."""
        try:
            self._redis().publish(self.channel, str(version))
        except redis.RedisError:
            log.warning("could not publish flag version %s on %s", version, self.channel, exc_info=True)

    def feed(self) -> RedisChangeFeed:
        """A new subscription; raises redis.RedisError when Redis cannot be reached."""
        return RedisChangeFeed(self.url, self.channel, self._timeout)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class RedisChangeFeed:
    """One subscription to the version channel (a ChangeFeed)."""

    def __init__(self, url: str, channel: str, timeout: float) -> None:
        self._client: redis.Redis[Any] = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        self.channel = channel

    def wait(self, timeout: float) -> int | None:
        """The newest version announced within `timeout` seconds (draining any backlog), or None."""
        newest: int | None = None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic() if newest is None else 0.0
            message = self._pubsub.get_message(timeout=max(remaining, 0.0))
            if message is None:
                if newest is not None or time.monotonic() >= deadline:
                    return newest
                continue
            try:
                version = int(message["data"])
            except (TypeError, ValueError):
                log.warning("ignoring a malformed message on %s: %r", self.channel, message.get("data"))
                continue
            newest = version if newest is None else max(newest, version)

    def close(self) -> None:
        try:
            self._pubsub.close()
        finally:
            self._client.close()
