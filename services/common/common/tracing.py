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
from contextvars import ContextVar
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

_provider: Any = None
_tracer = trace.get_tracer("callastar")
# While a run of records is applied: correlation id -> its record's span, as W3C headers.
_causes: ContextVar[dict[str | None, dict[str, str]]] = ContextVar("trace_causes", default={})  # noqa: B039 - never mutated


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


def applying(topic: str, records: Sequence[tuple[str | None, Sequence[tuple[str, bytes]]]]) -> Any:
    """A span per record of a run applied together (each continuing the trace of
    its headers), open while the handler runs. A handler is given the whole run,
    so what it emits is matched to its cause by correlation id (`carrier_for`)."""
    if _provider is None:
        return nullcontext()
    return _applying(topic, records)


@contextmanager
def _applying(topic: str, records: Sequence[tuple[str | None, Sequence[tuple[str, bytes]]]]) -> Iterator[None]:
    spans, causes = [], {}
    for correlation_id, headers in records:
        parent = propagate.extract({name: value.decode("latin-1") for name, value in headers})
        span = _tracer.start_span(f"apply {topic}", context=parent, kind=SpanKind.CONSUMER,
                                  attributes={"messaging.destination.name": topic})
        spans.append(span)
        if correlation_id is not None:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            causes.setdefault(correlation_id, carrier)
    token = _causes.set(causes)
    try:
        yield
    except BaseException as error:
        for span in spans:
            span.record_exception(error)
        raise
    finally:
        _causes.reset(token)
        for span in spans:
            span.end()


def carrier_for(correlation_id: str | None) -> dict[str, str] | None:
    """The trace context an event of this correlation id continues: the span of
    the record being applied that has it, else the current one (a request's)."""
    if _provider is None:
        return None
    return _causes.get().get(correlation_id) if correlation_id in _causes.get() else carrier()


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
