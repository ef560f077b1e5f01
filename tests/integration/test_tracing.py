"""(e) One trace from the HTTP request that registers a death, through Kafka, to assistance's handler."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from services.assistance.main import build_app as build_assistance
from services.funeral.main import build_app as build_funeral
from tests.conftest import eventually
from tests.factories import resident_id
from tests.kit import settings_for


async def test_trace_continues_from_http_request_into_the_consumer_handler(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    funeral = build_funeral(settings_for("funeral", tmp_path, broker.bootstrap))
    assistance = build_assistance(settings_for(f"assistance-{run}", tmp_path, broker.bootstrap))
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async with funeral.router.lifespan_context(funeral), assistance.router.lifespan_context(assistance):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=funeral), base_url="http://funeral") as client:
            response = await client.post(
                "/deaths",
                json={
                    "resident_id": resident_id(date(1940, 5, 6)),
                    "date_of_death": "2026-10-01",
                    "reported_by": {"name": "李明", "relation": "子女"},
                },
                headers=identity_headers(
                    Principal(subject="cw-1", role=Role.CASEWORKER, domain="funeral"), funeral.state.service.settings
                ),
            )
        assert response.status_code == 201, response.text

        def spans() -> list[ReadableSpan]:
            return list(exporter.get_finished_spans())

        server = next(s for s in spans() if s.kind == trace.SpanKind.SERVER and "/deaths" in s.name)
        assert server.context is not None
        trace_id = server.context.trace_id

        def in_trace() -> list[ReadableSpan]:
            return [s for s in spans() if s.context is not None and s.context.trace_id == trace_id]

        async def handler_ran_in_trace() -> bool:
            return any(s.name == "stop_benefits_of_deceased" for s in in_trace())

        await eventually(handler_ran_in_trace, what="assistance's handler span in the request's trace")
        consumer_span = next(s for s in in_trace() if s.name == "civic.funeral.death-registered.v1 process")
        assert consumer_span.kind == trace.SpanKind.CONSUMER
        assert consumer_span.attributes is not None
        assert consumer_span.attributes["messaging.consumer.group.name"] == f"assistance-{run}"
