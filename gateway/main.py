"""The API gateway: the one door for citizen apps and caseworkers, and the journey tracker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware

from civic.app import Consumer, create_app
from civic.config import Settings
from civic.migrations import versions_of
from gateway.audit import router as audit_router
from gateway.breaker import Breakers
from gateway.callers import guard
from gateway.deadletters import router as dead_letters_router
from gateway.idempotency import purging_expired_keys
from gateway.journeys.api import router as journeys_router
from gateway.journeys.tables import TABLES as JOURNEY_TABLES
from gateway.journeys.tracker import DLQ_TOPICS, journey_handlers
from gateway.openapi import router as openapi_router
from gateway.proxy import router as proxy_router
from gateway.proxy import upstream_session
from gateway.ratelimit import RateLimiter
from gateway.ratelimit_shared import SharedRateLimits, sharing_rate_limits
from gateway.settings import GatewaySettings
from gateway.subscriptions.api import router as subscriptions_router
from gateway.subscriptions.fanout import subscription_handlers
from gateway.subscriptions.tables import TABLES as SUBSCRIPTION_TABLES
from gateway.subscriptions.webhooks import running_deliveries
from gateway.tables import TABLES as GATEWAY_TABLES
from gateway.tokens import TokenVerifier


def guarded(*routers: APIRouter) -> APIRouter:
    """The gateway's own routes, each open only to the roles ``gateway.policy.GATEWAY_ROUTES`` names for it."""
    outer = APIRouter(dependencies=[Depends(guard)])
    for router in routers:
        outer.include_router(router)
    return outer


def build_app(settings: Settings | None = None) -> FastAPI:
    gateway_settings = settings if isinstance(settings, GatewaySettings) else GatewaySettings(
        **(settings.model_dump() if settings else {})
    )  # fmt: skip
    settings = gateway_settings

    @contextlib.asynccontextmanager
    async def verifying_tokens(app: FastAPI) -> AsyncIterator[None]:
        app.state.tokens = TokenVerifier(gateway_settings)  # at start: a missing issuer setting stops start-up
        yield

    tracked = journey_handlers()
    app = create_app(
        settings,
        title="civic · gateway",
        routers=[
            openapi_router,
            guarded(journeys_router, audit_router, subscriptions_router, dead_letters_router),
            proxy_router,
        ],
        tables=[*JOURNEY_TABLES, *GATEWAY_TABLES, *SUBSCRIPTION_TABLES],
        migrations_dir=versions_of(__file__),
        # Department subscriptions: this group (named after the service, "gateway") feeds them.
        handlers=subscription_handlers(),
        consumers=[
            # Two groups: the dead-letter copy of an event has the original's id, which one inbox would
            # take for a duplicate of the event itself.
            Consumer(f"{settings.service_name}-journeys", tracked),
            Consumer(f"{settings.service_name}-journeys-dlq", tracked, topics=DLQ_TOPICS),
        ],
        resources=[
            verifying_tokens, upstream_session, running_deliveries, purging_expired_keys,
            *([sharing_rate_limits] if gateway_settings.shares_rate_limits() else []),
        ],
    )  # fmt: skip
    app.state.gateway_settings = gateway_settings
    app.state.breakers = Breakers(gateway_settings.breaker_failure_threshold, gateway_settings.breaker_open_s)
    app.state.rate_limiter = RateLimiter(gateway_settings.rate_limit_per_s, gateway_settings.rate_limit_burst)
    app.state.shared_rate_limits = SharedRateLimits(
        app.state.rate_limiter, app.state.service.engine, gateway_settings.rate_limit_sync_s
    )
    if gateway_settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=gateway_settings.cors_origins, allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "idempotency-key", "x-request-id", "x-purpose"],
            expose_headers=["x-request-id", "retry-after", "location", "idempotent-replayed"],
        )  # fmt: skip
    return app


app = build_app()
