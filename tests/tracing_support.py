"""The test process's in-memory span exporter, shared by the tracing tests (tests/observability, tests/gateway).

OpenTelemetry lets a process set its global tracer provider once, so every test that collects spans reuses the one
provider and exporter installed by the first; each test clears the exporter before it starts.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["span_exporter"]


def span_exporter() -> InMemorySpanExporter:
    """The process's in-memory exporter: a global provider can be set once, so later calls reuse it."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    found = getattr(provider, "_cloudops_test_exporter", None)
    if found is None:
        found = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(found))
        provider._cloudops_test_exporter = found  # type: ignore[attr-defined]
    return found
