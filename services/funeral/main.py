"""Funeral administration (殡葬): death registration starts 身后一件事."""

from fastapi import FastAPI

from civic.app import create_app
from civic.config import Settings
from services.funeral.api import router
from services.funeral.models import DeathRegistration


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(
        settings or Settings(service_name="funeral"),
        title="civic · funeral administration",
        routers=[router],
        tables=[DeathRegistration.__table__],  # type: ignore[attr-defined]
    )


app = build_app()
