"""While a service runs, what its start-up built is out of the cyclic collector's walks (``gc.freeze``), and
what it makes afterwards is collected as ever; when it stops, the process is as before (the tests start hundreds
of apps in one process)."""

from __future__ import annotations

import gc
import uuid
import weakref
from pathlib import Path

from civic.broker import EmbeddedBroker
from services.placenames.main import build_app
from tests.apps import serving
from tests.kit import settings_for


class Node:
    """A cycle's link: garbage only the cyclic collector can free."""

    partner: Node | None = None


async def test_startup_objects_are_frozen_while_the_service_runs_and_the_rest_is_still_collected(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    assert gc.get_freeze_count() == 0, "no app running yet"
    built_at_startup = Node()
    built_at_startup.partner = built_at_startup
    app = build_app(settings_for(f"placenames-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap))
    async with serving(app, "placenames") as api:
        assert (await api.get("/healthz")).status_code == 200
        assert gc.get_freeze_count() > 10_000, "start-up's modules, schemas and routes"
        assert gc.is_tracked(built_at_startup)
        made_while_running = Node()
        made_while_running.partner = made_while_running
        gone = weakref.ref(made_while_running)
        del made_while_running
        gc.collect()
        assert gone() is None, "a cycle made while the service runs is still collected"
        kept = weakref.ref(built_at_startup)
        del built_at_startup
        gc.collect()
        assert kept() is not None, "frozen: a full collection does not walk it"
    assert gc.get_freeze_count() == 0, "unfrozen when the service stops"
    gc.collect()
    assert kept() is None, "and collected as before"
