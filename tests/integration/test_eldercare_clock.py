"""Eldercare counts days on its own calendar (``build_app(clock=...)``, the kernel's China date by default), not
the server's: here the service's day is 1 March 2010, years before the real date, and every answer that depends on
"today" — who is old enough to register, the age shown, a visit not yet made, the birthday job at start — follows
the service's day. With ``date.today()`` each of them would come out the other way."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from civic.broker import EmbeddedBroker
from services.eldercare.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import Eldercare
from tests.kit import settings_for

SERVICE_DAY = date(2010, 3, 1)


def on_the_service_day() -> date:
    return SERVICE_DAY


async def test_routes_and_the_birthday_job_count_ages_and_dates_on_the_services_clock(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = settings_for(f"eldercare-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    fifty_five = resident_id(date(1955, 1, 1))  # 55 on the service's day, over 70 by the real one
    sixty_five = resident_id(date(1945, 1, 1))
    eighty = resident_id(date(1930, 2, 15))  # 80 two weeks before the service's day
    seventy_nine = resident_id(date(1930, 3, 15))  # 80 two weeks after it (and long since, by the real date)
    first = build_app(settings, clock=on_the_service_day)
    async with serving(first, "eldercare") as api:
        ec = Eldercare(api, settings, first.state.service, broker)
        too_young = await ec.register(fifty_five)
        assert too_young.status_code == 422, "under 60 on the service's day"
        assert too_young.json()["type"].endswith("/not-elderly") and too_young.json()["field"] == "resident_id"
        registered = await ec.register(sixty_five)
        assert registered.status_code == 201, registered.text
        assert registered.json()["age"] == 65, "the age on the service's day"
        for rid in (eighty, seventy_nine):
            assert (await ec.register(rid)).status_code == 201

        def visit(on: date) -> dict[str, str]:
            return {"visited_on": on.isoformat(), "visitor": "社工 张丽", "outcome": "well"}

        ahead = await api.post(f"/elders/{sixty_five}/visits", json=visit(date(2010, 3, 2)), headers=ec.cw)
        assert ahead.status_code == 422 and ahead.json()["field"] == "visited_on", "after the service's day"
        made = await api.post(f"/elders/{sixty_five}/visits", json=visit(SERVICE_DAY), headers=ec.cw)
        assert made.status_code == 201, made.text

    # Started again on the same database: the birthday job at start grants on the service's day, so only to the
    # one who was 80 by then.
    again = build_app(settings, clock=on_the_service_day)
    async with serving(again, "eldercare") as api:
        ec = Eldercare(api, settings, again.state.service, broker)

        async def granted_at_80() -> bool:
            return [a["allowance"] for a in await ec.allowances(eighty)] == ["age"]

        await eventually(granted_at_80, what="the age allowance granted by the job at start")
        assert await ec.allowances(seventy_nine) == [], "not 80 yet on the service's day"
        assert await ec.allowances(sixty_five) == []
