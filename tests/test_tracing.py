"""Traces: a request's span, in the client's trace when it sends one, with the API, operation, status and
correlation id; exported by OTLP to the configured collector."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from backends.base import Event
from tests.api.clients import AppClient, in_process
from tests.api.end_to_end import add, wait
from tmfgate.observability import ObservabilityMiddleware
from tmfgate.tracing import Tracing, answered, wrote

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE}-b7ad6b7169203331-01"


def test_a_span_joins_the_caller_s_trace_and_says_how_the_request_was_answered() -> None:
    exported = InMemorySpanExporter()
    spans = Tracing("http://127.0.0.1:1/v1/traces", exported)
    with spans.request("GET", "/x", [(b"traceparent", PARENT.encode())]) as span:
        answered(span, api="tmf622", operation="listProductOrder", status=200, correlation_id="c-1")
    with spans.request("GET", "/y", []):
        pass
    spans.provider.force_flush()
    joined, alone = exported.get_finished_spans()
    spans.close()
    assert joined.name == "tmf622 listProductOrder" and joined.kind is SpanKind.SERVER
    assert joined.context is not None and f"{joined.context.trace_id:032x}" == TRACE
    assert joined.parent is not None and f"{joined.parent.span_id:016x}" == "b7ad6b7169203331"
    assert dict(joined.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/x",
        "tmfgate.api": "tmf622",
        "tmfgate.operation": "listProductOrder",
        "http.response.status_code": 200,
        "tmfgate.correlation_id": "c-1",
    }
    assert alone.parent is None and alone.name == "GET /y"


def test_the_gateway_makes_a_span_per_request_only_when_a_collector_is_configured() -> None:
    with in_process("memory://", fulfilment=False) as client:
        middleware = client.app.app
        assert isinstance(middleware, ObservabilityMiddleware) and middleware.tracing is None
    exported = InMemorySpanExporter()
    with in_process("memory://", fulfilment=False, otlp_endpoint="http://127.0.0.1:1/v1/traces") as client:
        middleware = client.app.app
        assert isinstance(middleware, ObservabilityMiddleware) and middleware.tracing is not None
        middleware.tracing = Tracing("http://127.0.0.1:1/v1/traces", exported)
        assert client.get(ORDERS, headers={"traceparent": PARENT, "X-Correlation-ID": "c-9"}).status_code == 200
        middleware.tracing.provider.force_flush()
    (span,) = exported.get_finished_spans()
    assert span.name == "tmf622_product_ordering listProductOrder"
    assert (span.attributes or {})["tmfgate.correlation_id"] == "c-9"
    assert span.context is not None and f"{span.context.trace_id:032x}" == TRACE


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def test_spans_reach_the_collector_by_otlp(collector: str) -> None:
    Collector.received.clear()
    spans = Tracing(collector)
    with spans.request("POST", "/orders", []) as span:
        answered(span, api="tmf622", operation="createProductOrder", status=201, correlation_id="c-2")
    spans.close()  # sends what is batched
    ((path, body),) = Collector.received
    assert path == "/v1/traces" and b"createProductOrder" in body and b"c-2" in body


def test_the_delivery_worker_spans_each_fulfilment_step_with_the_requests_correlation_id() -> None:
    exported = InMemorySpanExporter()
    with in_process("memory://", otlp_endpoint="http://127.0.0.1:1/v1/traces") as client:
        worker = client.app.runtime.worker
        assert worker is not None and worker.tracing is not None  # the gateway's tracing, handed to its worker
        worker.tracing = Tracing("http://127.0.0.1:1/v1/traces", exported)
        body = {"productOrderItem": [add("1", "po-mobile-unlimited")]}
        made = client.post(ORDERS, json=body, headers={"X-Correlation-ID": "c-order"})
        assert made.status_code == 201, made.text
        wait(lambda: client.get(f"{ORDERS}/{made.json()['id']}").json()["state"], lambda s: s == "completed", 20, "")
        worker.tracing.provider.force_flush()
    steps = [span for span in exported.get_finished_spans() if span.name.startswith("react fulfilment ")]
    first = next(span for span in steps if span.name == "react fulfilment ProductOrderCreateEvent")
    attributes = dict(first.attributes or {})
    assert first.kind is SpanKind.CONSUMER and attributes["tmfgate.correlation_id"] == "c-order"
    assert attributes["tmfgate.resource_id"] == made.json()["id"] and attributes["tmfgate.outcome"] == "delivered"
    assert len(steps) > 1  # the service order and its activation are steps of their own


@contextlib.contextmanager
def traced(exported: InMemorySpanExporter) -> Iterator[tuple[AppClient, ObservabilityMiddleware]]:
    """An in-process gateway whose requests' and transactions' spans go to ``exported``."""
    with in_process("memory://", fulfilment=False, otlp_endpoint="http://127.0.0.1:1/v1/traces") as client:
        middleware = client.app.app
        assert isinstance(middleware, ObservabilityMiddleware)
        middleware.tracing = client.app.runtime.gateway.tracing = Tracing("http://127.0.0.1:1/v1/traces", exported)
        yield client, middleware


def test_each_transaction_of_a_request_is_a_span_within_it() -> None:
    exported = InMemorySpanExporter()
    with traced(exported) as (client, middleware):
        body = {"productOrderItem": [add("1", "po-mobile-unlimited")]}
        assert client.post(ORDERS, json=body).status_code == 201
        middleware.tracing.provider.force_flush()
    spans = exported.get_finished_spans()
    request = next(span for span in spans if span.name == "tmf622_product_ordering createProductOrder")
    stores = [span for span in spans if span.name == "store transaction"]
    assert request.context is not None and stores
    assert any(s.parent is not None and s.parent.span_id == request.context.span_id for s in stores)
    assert all((s.attributes or {}).get("tmfgate.committed") is True for s in stores)


def test_the_events_a_request_writes_are_span_events_of_its_transaction_with_its_correlation_id() -> None:
    exported = InMemorySpanExporter()
    with traced(exported) as (client, middleware):
        body = {"productOrderItem": [add("1", "po-mobile-unlimited")]}
        made = client.post(ORDERS, json=body, headers={"X-Correlation-ID": "c-events"})
        assert made.status_code == 201, made.text
        patched = client.patch(
            f"{ORDERS}/{made.json()['id']}",
            json={"description": "now"},
            headers={"Content-Type": "application/merge-patch+json", "X-Correlation-ID": "c-patch"},
        )
        assert patched.status_code == 200, patched.text
        middleware.tracing.provider.force_flush()
    spans = exported.get_finished_spans()

    def written(operation: str) -> list[dict[str, object]]:
        request = next(span for span in spans if span.name == f"tmf622_product_ordering {operation}")
        assert request.context is not None
        children = [s for s in spans if s.parent is not None and s.parent.span_id == request.context.span_id]
        return [dict(e.attributes or {}) for s in children for e in s.events if e.name == "outbox event"]

    (created,) = written("createProductOrder")
    assert created == {
        "tmfgate.event_id": created["tmfgate.event_id"],
        "tmfgate.event_type": "ProductOrderCreateEvent",
        "tmfgate.api": "tmf622_product_ordering",
        "tmfgate.resource_kind": "productOrder",
        "tmfgate.resource_id": made.json()["id"],
        "tmfgate.correlation_id": "c-events",
    }
    (changed,) = written("patchProductOrder")
    assert changed["tmfgate.event_type"] == "ProductOrderAttributeValueChangeEvent"
    assert changed["tmfgate.correlation_id"] == "c-patch"


def test_no_span_events_are_recorded_outside_a_recording_span() -> None:
    event = Event("e-1", "api", "order", "o-1", "OrderCreateEvent", dt.datetime.now(dt.UTC), b"{}")
    wrote([event], "c-1")  # no current span: nothing to record on, and nothing fails
    exported = InMemorySpanExporter()
    spans = Tracing("http://127.0.0.1:1/v1/traces", exported)
    with spans.tracer.start_as_current_span("outer"):
        wrote([event, event._replace(id="e-2")], "c-1")
    spans.provider.force_flush()
    (outer,) = exported.get_finished_spans()
    spans.close()
    assert [dict(e.attributes or {})["tmfgate.event_id"] for e in outer.events] == ["e-1", "e-2"]
