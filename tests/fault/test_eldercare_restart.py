"""Eldercare down while other departments' facts arrive (a road renamed, an assistance approval, a death — each
delivered twice), then started again on the same database and consumer group: every fact is acted on once, every
answer the journeys wait for is published once, and a further restart re-does nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from civic.broker import EmbeddedBroker
from civic.config import Settings
from contracts.assistance import BenefitApproved
from contracts.placenames import RoadRenamed
from services.eldercare.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import Eldercare
from tests.integration.test_eldercare_reactions import death, deliver
from tests.integration.test_eldercare_workflows import records
from tests.kit import settings_for


@asynccontextmanager
async def running(settings: Settings, broker: EmbeddedBroker) -> AsyncIterator[Eldercare]:
    app = build_app(settings)
    # The birthday job also runs at every start: let it see a day before grandma turned 80, so that only the
    # facts under test grant anything.
    app.state.clock = lambda: date(2024, 4, 3)
    async with serving(app, "eldercare") as api:
        yield Eldercare(api, settings, app.state.service, broker)


async def test_facts_that_arrive_while_eldercare_is_down_are_acted_on_once_after_it_restarts(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = settings_for(f"eldercare-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    road, case_id = f"R{uuid.uuid4().hex[:8]}", f"case-{uuid.uuid4().hex[:8]}"
    on_road, grandma, applicant = resident_id(date(1939, 9, 1)), resident_id(date(1944, 4, 4), female=True), \
        resident_id(date(1970, 7, 7))  # fmt: skip
    async with running(settings, broker) as ec:
        plate = {"road_code": road, "road_name": "海滨路", "number": 3}
        assert (await ec.register(on_road, door_plate=plate)).status_code == 201
        await ec.run_birthday_job(date(2026, 11, 1))

    # Down: each fact is delivered twice (same event id), as a producer's relay restarted mid-batch would.
    await deliver(broker, "placenames", RoadRenamed(road_code=road, region_code="371002", old_name="海滨路",
                                                    new_name="海滨北路", effective_on=date(2026, 12, 1)))  # fmt: skip
    await deliver(broker, "assistance", BenefitApproved(
        resident_id=applicant, case_id=case_id, benefit="tekun", household_id=f"h-{case_id}",
        members=[applicant, grandma], region_code="371002", monthly_amount="900.00",
        effective_from=date(2026, 11, 1)))  # fmt: skip
    await deliver(broker, "funeral", death(on_road, f"d-{on_road[-6:]}", date(2026, 11, 25)))

    async with running(settings, broker) as ec:

        async def caught_up() -> bool:
            elder = (await ec.api.get(f"/elders/{on_road}", headers=ec.cw)).json()
            subsidy = await ec.api.get(f"/elders/{grandma}/allowances", headers=ec.cw)
            return bool(elder["address"] == "海滨北路3号" and elder["died_on"] == "2026-11-25"
                        and subsidy.status_code == 200 and subsidy.json())  # fmt: skip

        await eventually(caught_up, what="every fact acted on after the restart")

    async with running(settings, broker) as ec:  # and once more: nothing is re-done
        [age] = await ec.allowances(on_road)
        assert (age["status"], age["stopped_from"]) == ("stopped", "2026-12-01")
        [subsidy] = await ec.allowances(grandma)
        assert subsidy["allowance"] == "difficult_elderly" and subsidy["status"] == "active"
        renamed = [r for r in await records(ec, "civic.eldercare.elder-addresses-updated.v1")
                   if r.data["road_code"] == road]  # fmt: skip
        assert [r.data["elders_updated"] for r in renamed] == [1], "one answer to the rename"
        enrolled = [r for r in await records(ec, "civic.eldercare.household-elders-enrolled.v1")
                    if r.data["case_id"] == case_id]  # fmt: skip
        assert [(r.data["enrolled"], r.data["repeated"]) for r in enrolled] == [(1, False)], "one answer"
        kinds = [k for k, _ in await ec.published({on_road, grandma})]
        assert kinds.count("civic.eldercare.care-of-deceased-ended.v1") == 1
        assert kinds.count("civic.eldercare.allowance-granted.v1") == 2, "the age allowance and the subsidy, once each"
        assert kinds.count("civic.eldercare.allowance-stopped.v1") == 1
