"""Social assistance (社会救助): benefit cases, and their part in the one-thing workflows."""

from fastapi import FastAPI

from civic.app import create_app
from civic.config import Settings
from services.assistance.api import router
from services.assistance.handlers import HANDLERS
from services.assistance.models import Case


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        settings or Settings(service_name="assistance"),
        title="civic · social assistance",
        routers=[router],
        tables=[Case.__table__],  # type: ignore[attr-defined]
        handlers=HANDLERS,
    )


app = build_app()
