"""Tracing's switch: the OTEL_* variables turn the OTLP exporter on, nothing else does, a value we cannot honour is
one clear error, and without OpenTelemetry installed every hook stays out of the way.

The exporter test is end to end: a tiny OTLP/HTTP collector (an http.server thread of this test) receives what the
real exporter sends, and the protobuf body is checked for the span and the service name.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from flask import Flask
from opentelemetry import trace

from clouddriver_wire.tracing import trace_requests
from durable_runner.tracing import tracing_interceptors
from router.contract import OperationRequest
from router.errors import ConfigurationError
from router.tracing import TracingTransport, configure_tracing, operation_span, otlp_tracer_provider


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_without_otel_variables_nothing_is_installed() -> None:
    before = trace.get_tracer_provider()
    assert configure_tracing("cloudops-test", {}) is False
    assert (
        configure_tracing("cloudops-test", {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"})
        is False
    )
    assert trace.get_tracer_provider() is before


def test_an_exporter_we_do_not_ship_is_one_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER=zipkin is not supported: set it to otlp"):
        configure_tracing("cloudops-test", {"OTEL_TRACES_EXPORTER": "zipkin"})


def test_the_otlp_endpoint_receives_the_spans_with_the_service_name(collector: str) -> None:
    provider = otlp_tracer_provider("cloudops-test", {"OTEL_EXPORTER_OTLP_ENDPOINT": collector})
    try:
        with provider.get_tracer("t").start_as_current_span("cloudops.operation resizeServerGroup"):
            pass
        assert provider.force_flush(5000)
    finally:
        provider.shutdown()
    ((path, body),) = _Collector.received
    assert path == "/v1/traces"
    assert b"cloudops.operation resizeServerGroup" in body and b"cloudops-test" in body


def test_otel_service_name_wins_and_the_traces_endpoint_is_used_as_given(collector: str) -> None:
    environ = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{collector}/custom", "OTEL_SERVICE_NAME": "billing-worker"}
    provider = otlp_tracer_provider("cloudops-test", environ)
    try:
        with provider.get_tracer("t").start_as_current_span("x"):
            pass
        assert provider.force_flush(5000)
    finally:
        provider.shutdown()
    ((path, body),) = _Collector.received
    assert path == "/custom" and b"billing-worker" in body


def test_without_opentelemetry_installed_every_hook_is_inert(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fakes the extra's absence (find_spec says no), which is all the hooks look at; the behaviour checked is ours."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name.startswith("opentelemetry") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    before = trace.get_tracer_provider()
    with caplog.at_level(logging.WARNING, logger="router.tracing"):
        assert configure_tracing("cloudops-test", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) is False
    assert "pip install 'cloudops-toolkit[otel]'" in caplog.text and trace.get_tracer_provider() is before
    assert tracing_interceptors() == []
    app = Flask("t")
    trace_requests(app, "t")
    assert not app.before_request_funcs and not app.teardown_request_funcs
    request = OperationRequest("op-1", "resizeServerGroup", "resizeServerGroup", "prod", "myapp", "aws", {})
    with operation_span(request, "run") as span:
        assert span.context() is None
    seen: list[httpx.Request] = []

    def answer(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(200)

    with httpx.Client(transport=TracingTransport(httpx.MockTransport(answer))) as client:
        assert client.get("http://legacy/task/1").status_code == 200
    assert "traceparent" not in seen[0].headers
