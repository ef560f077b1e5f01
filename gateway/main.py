"""The API gateway: the one door for citizen apps and caseworkers, and the journey tracker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from civic.app import Consumer, create_app
from civic.config import Settings
from gateway.journeys.api import router as journeys_router
from gateway.journeys.tables import TABLES as JOURNEY_TABLES
from gateway.journeys.tracker import DLQ_TOPICS, journey_handlers
from gateway.proxy import router as proxy_router
from gateway.tokens import TokenVerifier


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service_name="gateway")

    @contextlib.asynccontextmanager
    async def upstream_client(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.gateway_timeout_s) as client:
            HTTPXClientInstrumentor.instrument_client(client)
            app.state.http = client
            app.state.tokens = TokenVerifier(settings)
            yield

    tracked = journey_handlers()
    return create_app(
        settings,
        title="civic · gateway",
        routers=[journeys_router, proxy_router],
        tables=JOURNEY_TABLES,
        consumers=[
            # Two groups: the dead-letter copy of an event has the original's id, which one inbox would
            # take for a duplicate of the event itself.
            Consumer(f"{settings.service_name}-journeys", tracked),
            Consumer(f"{settings.service_name}-journeys-dlq", tracked, topics=DLQ_TOPICS),
        ],
        resources=[upstream_client],
    )


app = build_app()
