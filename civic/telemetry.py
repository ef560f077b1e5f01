"""OpenTelemetry tracing. Context crosses Kafka in the ``traceparent`` header that the outbox stores with each
event, so the consumer's handler span continues the trace of the HTTP request that caused the event."""

from __future__ import annotations

import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

_provider: TracerProvider | None = None


def setup_tracing(service: str, exporter: str = "none", endpoint: str | None = None) -> TracerProvider:
    """Install the SDK tracer provider once per process (trace ids must be real even with no exporter)."""
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter(out=sys.stderr)
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider
