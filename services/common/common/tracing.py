"""OpenTelemetry traces: one trace per payment, from the Stripe webhook through
every Kafka hop to the ledger entry and the notification.

On only when OTEL_EXPORTER_OTLP_ENDPOINT is set (spans go there over OTLP/HTTP,
the SDK reading the standard OTEL_* variables); otherwise every function here
returns at once and nothing is recorded. The W3C `traceparent` travels in the
Kafka record's headers: the gateway sets it when it publishes, an event written
to the outbox keeps the context of the handler that wrote it (the relay
publishes later, from another task), and a consumer applies each record in a
span continuing the trace of the record's headers.
"""

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

_provider: Any = None
_tracer = trace.get_tracer("callastar")


def configure(service: str) -> None:
    """Export this process's spans as `service`, if an OTLP endpoint is set."""
    global _provider
    if not os.environ.get(ENDPOINT_VARIABLE) or _provider is not None:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)


def enabled() -> bool:
    return _provider is not None


def shutdown() -> None:
    """Send what is still buffered (at the process's end)."""
    if _provider is not None:
        _provider.shutdown()


def carrier() -> dict[str, str] | None:
    """The current trace context as W3C headers (`traceparent`, `tracestate`), or None."""
    if _provider is None:
        return None
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers or None


def kafka_headers(context: dict[str, str] | None) -> list[tuple[str, bytes]]:
    """A carrier as Kafka record headers."""
    return [(name, value.encode()) for name, value in (context or {}).items()]


def applying(topic: str, headers: Sequence[tuple[str, bytes]]) -> Any:
    """The span of applying one record, continuing the trace its headers carry."""
    if _provider is None:
        return nullcontext()
    parent = propagate.extract({name: value.decode("latin-1") for name, value in headers})
    return _tracer.start_as_current_span(f"apply {topic}", context=parent, kind=SpanKind.CONSUMER,
                                         attributes={"messaging.destination.name": topic})


@contextmanager
def _server_span(scope: Any) -> Iterator[Any]:
    parent = propagate.extract({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
    with _tracer.start_as_current_span(scope["method"], context=parent, kind=SpanKind.SERVER) as span:
        yield span


def http_middleware(app: Any) -> Any:
    """A server span per HTTP request (continuing a caller's `traceparent`), named
    by its route template; with tracing off, the app itself."""
    if _provider is None:
        return app

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with _server_span(scope) as span:
            async def send_status(message: Any) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("path_template", "unmatched")
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)

    return middleware
