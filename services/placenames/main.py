"""Place names and door plates (区划地名).

Its routes and reactions arrive with its own issue; today it is health and the kernel's plumbing.
"""

from fastapi import FastAPI

from civic.app import create_app
from civic.config import Settings


def build_app(settings: Settings | None = None) -> FastAPI:
    return create_app(settings or Settings(service_name="placenames"), title="civic · place names and door plates")


app = build_app()
