"""temporalio's OpenTelemetry interceptor on the durable path's client and worker, when OpenTelemetry is installed.

With `TracingInterceptor` on the client, StartWorkflow carries the caller's span context in the workflow's headers;
on the worker, the workflow and each activity run in spans continuing it, so one operation stays one trace from the
router's decision to its last activity. Without the `otel` extra (or `temporalio.contrib.opentelemetry`) nothing
is added and the path runs as before; with it but no tracer provider, the spans are the API's no-ops.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, Interceptor

__all__ = ["traced_client", "tracing_interceptors", "worker_interceptors"]


def tracing_interceptors() -> list[Interceptor]:
    """`[TracingInterceptor()]` when OpenTelemetry is installed, else nothing."""
    if importlib.util.find_spec("opentelemetry") is None:
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:  # an OpenTelemetry too old or partial for temporalio's contrib module: tracing stays off
        return []
    return [TracingInterceptor()]


def _has_tracing(interceptors: Sequence[Any]) -> bool:
    return any(type(i).__name__ == "TracingInterceptor" for i in interceptors)


def traced_client(client: Client) -> Client:
    """`client`, or a client on the same connection with the tracing interceptor added when it lacks one."""
    config = client.config()
    if _has_tracing(config["interceptors"]):
        return client
    added = tracing_interceptors()
    if not added:
        return client
    config["interceptors"] = [*config["interceptors"], *added]
    return Client(**config)


def worker_interceptors(client: Client) -> list[Any]:
    """What a worker adds: the tracing interceptor, unless its client has one (a worker uses those already)."""
    return [] if _has_tracing(client.config()["interceptors"]) else list(tracing_interceptors())
