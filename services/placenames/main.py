"""Place names and door plates (区划地名): administrative divisions with their history, the naming workflow
(proposal, expert review, public notice, decision), standard-name search, door plates, certificates and smart
door plates. A rename that takes effect publishes RoadRenamed: the start of the address-change workflow."""

from fastapi import FastAPI

from civic.app import create_app
from civic.clock import Clock
from civic.config import Settings
from civic.migrations import versions_of
from services.placenames import divisions, names, naming, plates, renumbering
from services.placenames.models import TABLES
from services.placenames.store import fixtures_loaded
from services.placenames.workflow import deadline_schedule


def build_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """``clock`` says what day it is at the office; tests pass one they can move."""
    app = create_app(
        settings or Settings(service_name="placenames"),
        title="civic · place names and door plates",
        routers=[divisions.router, naming.router, names.router, plates.router, renumbering.router],
        tables=TABLES,
        migrations_dir=versions_of(__file__),
        resources=[fixtures_loaded, deadline_schedule],
    )
    if clock is not None:
        app.state.clock = clock
    return app


app = build_app()
