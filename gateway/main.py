"""The API gateway: the one door for citizen apps and caseworkers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from civic.app import create_app
from civic.config import Settings
from gateway.proxy import router
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

    return create_app(settings, title="civic · gateway", routers=[router], resources=[upstream_client])


app = build_app()
