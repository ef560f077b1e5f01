"""Funeral administration (殡葬): death registration starts 身后一件事; its revocation undoes it. Funeral benefits
(惠民殡葬, eco-burial subsidies), funeral-home bookings and cremations, public cemeteries, statistics."""

from fastapi import FastAPI

from civic.app import create_app
from civic.clock import Clock
from civic.config import Settings
from civic.migrations import versions_of
from services.funeral import benefits, cemeteries, deaths, facilities, statistics
from services.funeral.handlers import HANDLERS
from services.funeral.models import TABLES
from services.funeral.policy_store import policy_loaded


def build_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """``clock`` says what day it is (China Standard Time); tests may pass their own."""
    app = create_app(
        settings or Settings(service_name="funeral"),
        title="civic · funeral administration",
        routers=[
            deaths.router,
            benefits.router,
            benefits.entitlements,
            facilities.router,
            cemeteries.router,
            statistics.router,
        ],
        tables=TABLES,
        migrations_dir=versions_of(__file__),
        handlers=HANDLERS,
        resources=[policy_loaded],
    )
    if clock is not None:
        app.state.clock = clock
    return app


app = build_app()
