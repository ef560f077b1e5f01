"""Social assistance (社会救助): households, applications, benefits and payments, and their part in the
one-thing workflows."""

from fastapi import FastAPI

from civic.app import create_app
from civic.config import Settings
from civic.migrations import versions_of
from services.assistance import applications, cases, households, payments, policy_api, recalc, temporary, visits
from services.assistance.handlers import HANDLERS
from services.assistance.models import TABLES
from services.assistance.policy_store import policy_loaded


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        settings or Settings(service_name="assistance"),
        title="civic · social assistance",
        routers=[
            households.router,
            applications.router,
            cases.router,
            payments.router,
            policy_api.router,
            visits.router,
            temporary.router,
        ],
        tables=TABLES,
        migrations_dir=versions_of(__file__),
        handlers=HANDLERS,
        resources=[policy_loaded, recalc.daily_jobs],
    )


app = build_app()
