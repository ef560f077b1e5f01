"""Eldercare (养老服务): elders, capability assessments, allowances granted without application, institutions and
home services, and its part in the one-thing workflows."""

from __future__ import annotations

from fastapi import FastAPI

from civic.app import create_app
from civic.clock import Clock
from civic.config import Settings
from civic.migrations import versions_of
from services.eldercare import (
    alarms,
    allowance_api,
    assessments,
    devices,
    elders,
    home_services,
    institutions,
    time_bank,
    visits,
)
from services.eldercare.community_models import COMMUNITY_TABLES
from services.eldercare.device_models import DEVICE_TABLES
from services.eldercare.handlers import HANDLERS
from services.eldercare.models import TABLES
from services.eldercare.policy_store import policy_loaded
from services.eldercare.schedule import birthday_job


def build_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """``clock`` says what day it is for eldercare (the kernel's China date by default); tests pass one they can
    move."""
    app = create_app(
        settings or Settings(service_name="eldercare"),
        title="civic · eldercare",
        routers=[
            elders.router,
            assessments.router,
            allowance_api.router,
            institutions.router,
            home_services.router,
            visits.router,
            devices.router,
            alarms.router,
            time_bank.router,
        ],
        tables=[*TABLES, *COMMUNITY_TABLES, *DEVICE_TABLES],
        migrations_dir=versions_of(__file__),
        handlers=HANDLERS,
        resources=[policy_loaded, birthday_job],  # the policy first: the job reads it
    )
    if clock is not None:
        app.state.clock = clock
    return app


app = build_app()
