"""OpenTelemetry traces of the requests a gateway answers, exported by OTLP when ``--otlp-endpoint``
names a collector; without one, no span is made at all.

A request's span joins the trace of the client's ``traceparent`` header (W3C Trace Context), and
carries the API, the operation, the status and the correlation id, by which a subscriber's
notifications and the fulfilment the request started can be found. Each transaction with the store is
a child span, with an ``outbox event`` span event for each event it wrote (:func:`wrote`). The
provider is this app's own, not OpenTelemetry's global one, so tests build several in one process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Tracer, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from backends.base import Event
from tmfgate import __version__, codec

_PROPAGATOR = TraceContextTextMapPropagator()


class Tracing:
    """Spans of this process's requests, batched to ``exporter`` (OTLP over HTTP by default)."""

    def __init__(self, endpoint: str, exporter: SpanExporter | None = None) -> None:
        resource = Resource.create({"service.name": "tmfgate", "service.version": __version__})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter(endpoint=endpoint)))
        self.tracer: Tracer = self.provider.get_tracer("tmfgate", __version__)

    @contextmanager
    def request(self, method: str, path: str, headers: Sequence[tuple[bytes, bytes]]) -> Iterator[Span]:
        """The span of one request, a child of the caller's span when its headers name one."""
        carrier = {key.decode("latin-1"): value.decode("latin-1") for key, value in headers if key == b"traceparent"}
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        attributes = {"http.request.method": method, "url.path": path}
        with self.tracer.start_as_current_span(
            f"{method} {path}", context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            yield span

    def store(self) -> Span:
        """A span of one transaction of the store, begun now; the caller ends it."""
        return self.tracer.start_span("store transaction", kind=SpanKind.CLIENT)

    @contextmanager
    def work(self, verb: str, event: Event, subscription: str) -> Iterator[Span]:
        """The span of one delivery or reaction run by the delivery worker (a fulfilment step, a publish
        to the event bus, a POST to a listener): a trace of its own, found by the correlation id of the
        request that raised the event."""
        try:
            correlation = str(codec.loads(event.body).get("correlationId") or "")
        except (ValueError, AttributeError):
            correlation = ""
        attributes = {
            "tmfgate.event_id": event.id,
            "tmfgate.event_type": event.type,
            "tmfgate.api": event.api,
            "tmfgate.resource_id": event.resource_id,
            "tmfgate.subscription": subscription,
            "tmfgate.correlation_id": correlation,
        }
        name = f"{verb} {event.type}"
        with self.tracer.start_as_current_span(name, kind=SpanKind.CONSUMER, attributes=attributes) as span:
            yield span

    def close(self) -> None:
        """Send the spans still batched, then stop."""
        self.provider.shutdown()


def wrote(events: Iterable[Event], correlation_id: str) -> None:
    """Record the outbox events a transaction writes as span events of its ``store transaction`` span
    (a child of the request's or the reaction's span), each with its id, type and resource and the
    correlation id its deliveries' spans carry; nothing when no span records (no collector)."""
    span = get_current_span()
    if not span.is_recording():
        return
    for event in events:
        span.add_event(
            "outbox event",
            {
                "tmfgate.event_id": event.id,
                "tmfgate.event_type": event.type,
                "tmfgate.api": event.api,
                "tmfgate.resource_kind": event.kind,
                "tmfgate.resource_id": event.resource_id,
                "tmfgate.correlation_id": correlation_id,
            },
        )


def answered(span: Span, *, api: str, operation: str, status: int, correlation_id: str) -> None:
    """Name the span after its operation and record how the request was answered."""
    span.update_name(f"{api} {operation}")
    span.set_attributes(
        {
            "tmfgate.api": api,
            "tmfgate.operation": operation,
            "http.response.status_code": status,
            "tmfgate.correlation_id": correlation_id,
        }
    )


__all__ = ["Tracing", "answered", "wrote"]
