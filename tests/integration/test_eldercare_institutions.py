"""Institutions through the API: the last bed with two concurrent admissions (one wins, the other is told the
institution is full and nothing of it is written), discharge frees the bed, the nursing-bed ratio, and a
registered death releases the bed."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from civic.broker import EmbeddedBroker
from contracts.funeral import DeathRegistered, Reporter
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import eldercare
from tests.integration.test_eldercare_reactions import deliver


async def test_the_last_bed_goes_to_one_of_two_concurrent_admissions(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b = resident_id(date(1938, 1, 2)), resident_id(date(1939, 3, 4), female=True)
    async with eldercare(broker, tmp_path) as ec:
        for rid in (a, b):
            assert (await ec.register(rid)).status_code == 201
        created = await ec.api.post("/institutions", headers=ec.cw, json={
            "name": "鲸园颐养院", "region_code": "371002", "ownership": "public", "star_rating": 3,
            "beds": {"nursing": 1, "ordinary": 1}})  # fmt: skip
        assert created.status_code == 201, created.text
        inst = created.json()
        assert inst["nursing"]["nursing_bed_ratio"] == "0.5000" and inst["nursing"]["meets_target"] is False

        def admission(rid: str) -> dict[str, object]:
            return {"resident_id": rid, "bed_kind": "nursing", "admitted_on": "2026-11-20"}

        path = f"/institutions/{inst['id']}/admissions"
        first, second = await asyncio.gather(ec.api.post(path, json=admission(a), headers=ec.cw),
                                             ec.api.post(path, json=admission(b), headers=ec.cw))  # fmt: skip
        assert sorted([first.status_code, second.status_code]) == [201, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["type"].endswith("/institution-full") and loser.json()["field"] == "bed_kind"
        winner = (first if first.status_code == 201 else second).json()
        now = (await ec.api.get(f"/institutions/{inst['id']}", headers=ec.cw)).json()
        assert now["occupied"] == 1 and now["free"]["nursing"] == 0

        region = (await ec.api.get("/regions/371002/nursing-bed-ratio", headers=ec.cw)).json()
        assert (region["beds"], region["nursing_type_beds"]) == (2, 1)

        winner_id = a if first.status_code == 201 else b
        await deliver(broker, "funeral", DeathRegistered(
            resident_id=winner_id, registration_id=f"d-{winner_id[-6:]}", date_of_death=date(2026, 11, 21),
            registered_at=datetime.now(UTC), reported_by=Reporter(name="院方", relation="养老机构")))  # fmt: skip

        async def released() -> bool:
            got = (await ec.api.get(f"/institutions/{inst['id']}", headers=ec.cw)).json()
            return bool(got["free"]["nursing"] == 1)

        await eventually(released, what="the deceased's bed released")
        other = b if winner_id == a else a
        again = await ec.api.post(path, json=admission(other), headers=ec.cw)
        assert again.status_code == 201, again.text
        out = await ec.api.post(f"/admissions/{again.json()['id']}/discharge", headers=ec.cw,
                                json={"discharged_on": "2026-11-22", "reason": "moved in with family"})  # fmt: skip
        assert out.status_code == 200 and out.json()["status"] == "discharged"
        assert winner["status"] == "resident"
        events = await ec.published({a, b})
        kinds = [k for k, _ in events]
        assert kinds.count("civic.eldercare.admitted-to-institution.v1") == 2
        assert kinds.count("civic.eldercare.discharged-from-institution.v1") == 1
        [ended] = [d for k, d in events if k == "civic.eldercare.care-of-deceased-ended.v1"]
        assert ended["released_bed_id"] == winner["bed_id"]
