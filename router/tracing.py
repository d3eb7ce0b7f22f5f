"""OpenTelemetry for the router: one trace per operation, from the routing decision to the path's last call.

The operation's span, `cloudops.operation <operation>`, is opened by RoutingRunner around `run`/`start` (and
re-entered by `poll`); the routing decision is on it as OpenFeature's `feature_flag.evaluation` event. Under it:
LegacyRunner's HTTP calls as client spans with a W3C `traceparent` (`TracingTransport`), which the legacy service
and the gateway continue (`clouddriver_wire.tracing`); DurableRunner's StartWorkflow, the workflow and its
activities through temporalio's TracingInterceptor (`durable_runner.tracing`); a shadow's dry run in a
`cloudops.shadow` child span (`router.shadow`).

OpenTelemetry is optional (the `otel` extra): without it every helper here does nothing. `configure_tracing`
installs an exporter only when the standard OTEL_* variables ask for one; otherwise the API's no-op tracer (or
whatever provider the embedding process installed) is used. docs/production.md "Tracing" is the user's side.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from flags import STAGE_KEY
from router.contract import OperationRequest
from router.errors import ConfigurationError
from router.policy import Route
from router.routing_values import RouteBasis

__all__ = [
    "EVALUATION_EVENT",
    "TracingTransport",
    "configure_tracing",
    "evaluation_attributes",
    "flush_tracing",
    "operation_span",
    "otlp_tracer_provider",
    "resumed",
    "shadow_span",
    "span_context",
]

log = logging.getLogger(__name__)

TRACER = "cloudops.router"
EVALUATION_EVENT = "feature_flag.evaluation"
"""The semantic conventions' event for a flag evaluation (attribute names as in opentelemetry-semantic-conventions'
`feature_flag_attributes`: `feature_flag.result.variant` and `.reason` replace `feature_flag.variant` and
`feature_flag.evaluation.reason`)."""

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_REASONS = {
    RouteBasis.MATCHED: "targeting_match",
    RouteBasis.DEFAULT: "default",
    RouteBasis.KILL_SWITCH: "disabled",
    RouteBasis.OWNED: "static",  # the owner decides, whatever the flags say now
    RouteBasis.OWNERSHIP_UNAVAILABLE: "error",
}


def _available() -> bool:
    return importlib.util.find_spec("opentelemetry") is not None


def configure_tracing(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install an SDK TracerProvider exporting over OTLP/HTTP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT or
    OTEL_TRACES_EXPORTER=otlp is set; True when it did. The exporter reads the other OTEL_* variables itself
    (headers, timeout); OTEL_SERVICE_NAME overrides `service_name`. ConfigurationError for an exporter it cannot
    honour, saying what to do; without the `otel` extra, a warning and no tracing."""
    exporter_name = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    wanted = exporter_name == "otlp" or (exporter_name == "" and any(environ.get(v) for v in _ENDPOINT_VARIABLES))
    if exporter_name not in ("", "otlp", "none"):
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER={exporter_name} is not supported: set it to otlp (OTLP/HTTP) or none, or unset it"
        )
    if not wanted:
        return False
    if not _available() or importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None:
        # Without the extra tracing is off, never an error: the OTEL_* variables may be meant for other processes.
        log.warning(
            "OTEL_* variables ask for an OTLP trace exporter, but it is not installed: tracing stays off "
            "(pip install 'cloudops-toolkit[otel]' to export spans)"
        )
        return False
    from opentelemetry import trace

    provider = otlp_tracer_provider(service_name, environ)
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)  # flush what is buffered when the command exits
    return True


def otlp_tracer_provider(service_name: str, environ: Mapping[str, str] = os.environ) -> Any:
    """An SDK TracerProvider batching spans to the OTLP/HTTP exporter; the endpoint, headers and timeout are the
    exporter's own OTEL_EXPORTER_OTLP_* variables, read from `environ`. Not installed globally (the caller does)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint and environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint = environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"  # as the spec appends it
    name = environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint or None)))
    return provider


def flush_tracing(timeout_s: float = 5.0) -> None:
    """Send what the installed SDK provider still buffers (for a process about to skip atexit)."""
    if not _available():
        return
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if callable(flush):
        flush(int(timeout_s * 1000))


def evaluation_attributes(chosen: Route, provider_name: str) -> dict[str, str]:
    """The `feature_flag.evaluation` event's attributes for one routing decision."""
    attributes = {
        "feature_flag.key": STAGE_KEY,
        "feature_flag.result.variant": chosen.decision.stage,
        "feature_flag.result.reason": _REASONS.get(chosen.basis, "unknown"),
        "feature_flag.provider.name": provider_name,
        "cloudops.decision.explanation": chosen.decision.reason,
    }
    if chosen.decision.property_id:
        attributes["feature_flag.version"] = f"{chosen.decision.property_id}@{chosen.decision.property_version}"
    return attributes


@contextlib.contextmanager
def operation_span(request: OperationRequest, stage: str) -> Iterator[_OperationSpan]:
    """The span of one call into the router for `request`, current while it runs; `decided` adds the route."""
    if not _available():
        yield _OperationSpan(None)
        return
    from opentelemetry import trace

    attributes = {"cloudops.operation": request.operation, "cloudops.operation_id": request.operation_id}
    attributes.update({f"cloudops.dimension.{k}": v for k, v in request.dimensions().items()})
    if stage:
        attributes["cloudops.call"] = stage
    with trace.get_tracer(TRACER).start_as_current_span(
        f"cloudops.operation {request.operation}", attributes=attributes
    ) as span:
        yield _OperationSpan(span)


class _OperationSpan:
    """The handle on an open operation span (a null one without OpenTelemetry)."""

    def __init__(self, span: Any) -> None:
        self._span = span

    def decided(self, chosen: Route, provider_name: str) -> None:
        if self._span is None:
            return
        self._span.set_attribute("cloudops.path", chosen.primary.value)
        self._span.set_attribute("cloudops.stage", chosen.decision.stage)
        if chosen.shadow is not None:
            self._span.set_attribute("cloudops.shadow_path", chosen.shadow.value)
        self._span.add_event(EVALUATION_EVENT, evaluation_attributes(chosen, provider_name))

    def context(self) -> object | None:
        """This span's context, for `resumed` by a later call (a poll of what this call started)."""
        if self._span is None:
            return None
        from opentelemetry import trace

        return trace.set_span_in_context(self._span)


def span_context() -> object | None:
    """The current OpenTelemetry context (None without OpenTelemetry), to carry across a thread or loop."""
    if not _available():
        return None
    from opentelemetry import context

    return context.get_current()


@contextlib.contextmanager
def resumed(parent: object | None, name: str, attributes: Mapping[str, str] | None = None) -> Iterator[None]:
    """A span `name` under `parent` (an operation's saved context), current while the block runs; nothing when
    there is no parent (an operation started elsewhere keeps its poll outside any trace of ours)."""
    if parent is None or not _available():
        yield
        return
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(name, context=parent, attributes=dict(attributes or {})):  # type: ignore[arg-type]
        yield


@contextlib.contextmanager
def shadow_span(request: OperationRequest, path: str) -> Iterator[None]:
    """The span of a shadow's dry run: a child of the operation span current when the shadow began."""
    if not _available():
        yield
        return
    from opentelemetry import trace

    attributes: dict[str, str | bool] = {
        "cloudops.operation_id": request.operation_id,
        "cloudops.path": path,
        "cloudops.dry_run": True,
    }
    with trace.get_tracer(TRACER).start_as_current_span(f"cloudops.shadow {request.operation}", attributes=attributes):
        yield


class TracingTransport(httpx.BaseTransport):
    """An httpx transport that makes each request a client span and sends its W3C `traceparent` (and
    `tracestate`) through the globally configured propagator; the wrapped transport does the IO."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not _available():
            return self._inner.handle_request(request)
        from opentelemetry import propagate, trace

        name = f"{request.method} {request.url.path}"
        attributes = {"http.request.method": request.method, "url.full": str(request.url)}
        with trace.get_tracer(TRACER).start_as_current_span(
            name, kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            request.headers.update(carrier)
            response = self._inner.handle_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    def close(self) -> None:
        self._inner.close()
