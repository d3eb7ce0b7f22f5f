"""W3C trace context on Clouddriver's wire: the server span of each request the legacy service or the gateway
serves, continuing the caller's trace from its `traceparent` header.

OpenTelemetry is optional (the `otel` extra): without it `trace_requests` registers nothing and every request is
served as before. With it but no tracer provider installed (no OTEL_* exporter configured, see
`router.tracing.configure_tracing`), the API's no-op tracer makes each span free. The client side (the
`traceparent` a LegacyRunner sends) is `router.tracing.TracingTransport`.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, g, request

__all__ = ["internal_span", "otel_available", "trace_requests"]

_SPAN = "_cloudops_server_span"
_TOKEN = "_cloudops_trace_token"


def otel_available() -> bool:
    """Whether the OpenTelemetry API is installed (the `otel` extra); when not, tracing is simply off."""
    return importlib.util.find_spec("opentelemetry") is not None


def trace_requests(app: Flask, service: str) -> None:
    """Open a server span per request (`<METHOD> <route>`), a child of the incoming `traceparent` if any, current
    while the view runs (so the service's own outgoing calls continue the trace), ended in teardown."""
    if not otel_available():
        return
    from opentelemetry import context, propagate, trace

    tracer = trace.get_tracer(service)

    @app.before_request
    def _open_span() -> None:
        # Werkzeug's headers look names up case-insensitively, as `traceparent` must be found.
        parent = propagate.extract(request.headers)
        rule = request.url_rule.rule if request.url_rule is not None else request.path
        span = tracer.start_span(
            f"{request.method} {rule}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": request.method, "url.path": request.path, "http.route": rule},
        )
        setattr(g, _SPAN, span)
        setattr(g, _TOKEN, context.attach(trace.set_span_in_context(span, parent)))

    @app.after_request
    def _status(response: Any) -> Any:
        span = getattr(g, _SPAN, None)
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
        return response

    @app.teardown_request
    def _close_span(error: BaseException | None) -> None:
        span = getattr(g, _SPAN, None)
        token = getattr(g, _TOKEN, None)
        if span is None:
            return
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
        span.end()
        if token is not None:
            context.detach(token)


@contextlib.contextmanager
def internal_span(service: str, name: str, attributes: Mapping[str, str] | None = None) -> Iterator[None]:
    """A span around a piece of a service's own work (a task's operation on the background pool), a child of
    whatever span is current; nothing at all without OpenTelemetry."""
    if not otel_available():
        yield
        return
    from opentelemetry import trace

    with trace.get_tracer(service).start_as_current_span(name, attributes=dict(attributes or {})):
        yield
