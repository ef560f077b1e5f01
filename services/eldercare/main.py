"""Eldercare (养老服务): elders, capability assessments, allowances granted without application, institutions and
home services, and its part in the one-thing workflows."""

from __future__ import annotations

from fastapi import FastAPI

from civic.app import create_app
from civic.config import Settings
from civic.migrations import versions_of
from services.eldercare import allowance_api, assessments, elders, institutions
from services.eldercare.handlers import HANDLERS
from services.eldercare.models import TABLES
from services.eldercare.policy_store import policy_loaded


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        settings or Settings(service_name="eldercare"),
        title="civic · eldercare",
        routers=[elders.router, assessments.router, allowance_api.router, institutions.router],
        tables=TABLES,
        migrations_dir=versions_of(__file__),
        handlers=HANDLERS,
        resources=[policy_loaded],
    )


app = build_app()
