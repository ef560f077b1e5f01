"""Funeral homes, cemeteries and statistics against the real broker and SQLite: the last cremation slot with two
concurrent bookings (one wins), cremation records and ashes storage, one code per grave and no plot sold twice
(also racing), a revocation that frees the slot and the grave, and the figures the seed reports count."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from civic.auth import Role
from civic.broker import EmbeddedBroker
from tests.factories import resident_id
from tests.integration.test_funeral_deaths import Funeral, death, funeral, published, types

DAY = "2026-11-04"


async def registered(f: Funeral, rid: str, reporter: str, **changes: Any) -> str:
    response = await f.report(f.citizen(reporter), **death(rid, **changes))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_last_cremation_slot_booked_twice_at_once_goes_to_one(broker: EmbeddedBroker, tmp_path: Path) -> None:
    a, b, c = (resident_id(date(1940 + i, 1, 1)) for i in range(3))
    son_a, son_b, son_c = (resident_id(date(1970 + i, 1, 1)) for i in range(3))
    async with funeral(broker, tmp_path) as f:
        home = await f.client.post("/funeral-homes", headers=f.caseworker,
                                   json={"name": "威海市殡仪馆", "region_code": "371002"})  # fmt: skip
        assert home.status_code == 201, home.text
        home_id = home.json()["id"]
        slots = []
        for hour in ("08", "10"):
            slot = await f.client.post(f"/funeral-homes/{home_id}/slots", headers=f.caseworker, json={
                "kind": "cremation", "resource": "1号炉", "starts_at": f"{DAY}T{hour}:00:00+08:00"})  # fmt: skip
            assert slot.status_code == 201, slot.text
            slots.append(slot.json()["id"])
        same_time = await f.client.post(f"/funeral-homes/{home_id}/slots", headers=f.caseworker, json={
            "kind": "cremation", "resource": "1号炉", "starts_at": f"{DAY}T08:00:00+08:00"})  # fmt: skip
        assert same_time.status_code == 409
        by_family = await f.client.post(f"/funeral-homes/{home_id}/slots", headers=f.citizen(son_a), json={
            "kind": "cremation", "resource": "2号炉", "starts_at": f"{DAY}T08:00:00+08:00"})  # fmt: skip
        assert by_family.status_code == 403

        ra, rb, rc = [await registered(f, p, s) for p, s in ((a, son_a), (b, son_b), (c, son_c))]
        first = await f.client.post("/bookings", headers=f.citizen(son_a), json={"slot_id": slots[0],
                                                                                   "death_registration_id": ra})  # fmt: skip
        assert first.status_code == 201, first.text
        not_theirs = await f.client.post("/bookings", headers=f.citizen(son_b), json={"slot_id": slots[1],
                                                                                        "death_registration_id": ra})  # fmt: skip
        assert not_theirs.status_code == 404, "a citizen books only for a death they reported"

        # The last free slot, asked for by two families at the same moment: one gets it, the other is told.
        both = await asyncio.gather(
            f.client.post("/bookings", headers=f.citizen(son_b), json={"slot_id": slots[1],
                                                                         "death_registration_id": rb}),
            f.client.post("/bookings", headers=f.caseworker, json={"slot_id": slots[1],
                                                                     "death_registration_id": rc}),
        )  # fmt: skip
        assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
        loser = next(r for r in both if r.status_code == 409)
        assert (loser.json()["type"].split("/")[-1], loser.json()["field"]) == ("slot-taken", "slot_id")
        free = await f.client.get(f"/funeral-homes/{home_id}/slots", headers=f.citizen(son_c),
                                  params={"day": DAY, "free_only": "true"})  # fmt: skip
        assert free.json() == []
        winner = next(r for r in both if r.status_code == 201).json()

        # A second cremation booking for the same death is refused; cancelling frees the slot.
        again = await f.client.post("/bookings", headers=f.caseworker, json={"slot_id": slots[1],
                                                                               "death_registration_id": ra})  # fmt: skip
        assert again.status_code == 409
        cancelled = await f.client.post(f"/bookings/{winner['id']}/cancellation", headers=f.caseworker,
                                        json={"reason": "the family chose another day"})  # fmt: skip
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        free = await f.client.get(f"/funeral-homes/{home_id}/slots", headers=f.caseworker,
                                  params={"day": DAY, "free_only": "true"})  # fmt: skip
        assert [s["id"] for s in free.json()] == [slots[1]]
        assert free.json()[0]["starts_at"] == "2026-11-04T02:00:00Z"

        # The cremation is recorded against the booking; the slot stays used.
        record = {"death_registration_id": ra, "funeral_home_id": home_id, "booking_id": first.json()["id"],
                  "certificate_number": "HH-2026-0001", "cremated_at": f"{DAY}T08:40:00+08:00", "ashes": "stored"}  # fmt: skip
        missing_niche = await f.client.post("/cremations", headers=f.caseworker, json=record)
        assert (missing_niche.status_code, missing_niche.json()["type"].split("/")[-1]) == (422, "storage-required")
        too_early = await f.client.post("/cremations", headers=f.caseworker, json={
            **record, "cremated_at": "2026-11-01T08:00:00+08:00", "storage_location": "A-1", "stored_until": "2029-11-04"})  # fmt: skip
        assert too_early.json()["type"].endswith("/cremation-before-death")
        by_family = await f.client.post("/cremations", headers=f.citizen(son_a), json=record)
        assert by_family.status_code == 403
        done = await f.client.post("/cremations", headers=f.caseworker,
                                   json={**record, "storage_location": "寄存楼A-101", "stored_until": "2029-11-04"})  # fmt: skip
        assert done.status_code == 201, done.text
        assert (done.json()["ashes"], done.json()["storage_location"]) == ("stored", "寄存楼A-101")
        twice = await f.client.post("/cremations", headers=f.caseworker, json={
            **record, "booking_id": None, "certificate_number": "HH-2026-0002", "ashes": "collected"})  # fmt: skip
        assert (twice.status_code, twice.json()["type"].split("/")[-1]) == (409, "already-cremated")
        assert (await f.client.get(f"/cremations/{done.json()['id']}", headers=f.citizen(son_a))).status_code == 200
        assert (await f.client.get(f"/cremations/{done.json()['id']}", headers=f.citizen(son_b))).status_code == 404
        used = await f.client.get(f"/bookings/{first.json()['id']}", headers=f.citizen(son_a))
        assert used.json()["status"] == "used"

        # A revoked death's open booking is cancelled and its slot is free again.
        rebooked = await f.client.post("/bookings", headers=f.caseworker, json={"slot_id": slots[1],
                                                                                  "death_registration_id": rc})  # fmt: skip
        assert rebooked.status_code == 201, rebooked.text
        assert (await f.revoke(rc)).status_code == 200
        assert (await f.client.get(f"/bookings/{rebooked.json()['id']}", headers=f.caseworker)).json()["status"] == (
            "cancelled"
        )
        await f.drained()

    cremated = [e for e in await published(broker, {a}) if e["type"].endswith("cremation-done.v1")]
    assert [(e["data"]["certificate_number"], e["data"]["ashes"]) for e in cremated] == [("HH-2026-0001", "stored")]


async def test_one_code_per_grave_no_plot_sold_twice_and_the_statistics(broker: EmbeddedBroker, tmp_path: Path) -> None:
    people = [resident_id(date(1930 + i, 2, 2)) for i in range(4)]
    family = [resident_id(date(1960 + i, 3, 3), female=True) for i in range(4)]
    async with funeral(broker, tmp_path) as f:
        cemetery = await f.client.post("/cemeteries", headers=f.caseworker,
                                       json={"code": "WH01", "name": "威海市福寿园公益性公墓", "region_code": "371002"})  # fmt: skip
        assert cemetery.status_code == 201, cemetery.text
        cemetery_id = cemetery.json()["id"]
        plots = await f.client.post(f"/cemeteries/{cemetery_id}/plots", headers=f.caseworker,
                                    json={"section": "A", "row": 3, "first_number": 1, "count": 2, "plot_type": "tree"})  # fmt: skip
        assert [p["code"] for p in plots.json()] == ["WH01-A-03-001", "WH01-A-03-002"]
        assert all(p["eco"] for p in plots.json())
        overlap = await f.client.post(f"/cemeteries/{cemetery_id}/plots", headers=f.caseworker,
                                      json={"section": "A", "row": 3, "first_number": 2, "count": 2, "plot_type": "tree"})  # fmt: skip
        assert overlap.status_code == 409

        regs = [await registered(f, p, s, name=f"逝者{i}") for i, (p, s) in enumerate(zip(people, family, strict=True))]
        holder = [{"name": "李娜", "relation": "女儿", "resident_id": s} for s in family]

        async def assign(code: str, i: int, headers: dict[str, str]) -> Any:
            return await f.client.post(f"/plots/{code}/assignment", headers=headers,
                                       json={"death_registration_id": regs[i], "holder": holder[i]})  # fmt: skip

        # Two families ask for the same grave at once: the plot is sold once.
        both = await asyncio.gather(assign("WH01-A-03-001", 0, f.citizen(family[0])),
                                    assign("WH01-A-03-001", 1, f.caseworker))  # fmt: skip
        assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
        winner = next(r for r in both if r.status_code == 201).json()
        loser = next(r for r in both if r.status_code == 409).json()
        assert loser["type"].endswith("/plot-taken")
        assert winner["eco_certificate_number"].startswith("ECO-WH01-A-03-001-")
        won = 0 if winner["death_registration_id"] == regs[0] else 1
        second_grave = await assign("WH01-A-03-002", won, f.caseworker)
        assert (second_grave.status_code, second_grave.json()["type"].split("/")[-1]) == (409, "already-has-grave")
        assert (await assign("WH01-A-99-001", 2, f.caseworker)).status_code == 404

        # The grave's code resolves to the plot and who lies there; the holder only for staff and the holder.
        grave = await f.client.get("/graves/WH01-A-03-001", headers=f.citizen(family[3]))
        assert grave.status_code == 200
        assert (grave.json()["deceased_name"], grave.json()["plot"]["status"]) == (f"逝者{won}", "assigned")
        assert grave.json()["deceased_resident_id"] == people[won][:6] + "********" + people[won][14:]
        assert grave.json()["holder"] is None
        staff_view = await f.client.get("/graves/WH01-A-03-001", headers=f.caseworker)
        assert staff_view.json()["holder"]["resident_id"] == family[won]

        # Cremations, an eco-burial subsidy, and a revoked death that frees its grave and leaves the figures.
        home_id = (await f.client.post("/funeral-homes", headers=f.caseworker,
                                       json={"name": "殡仪馆", "region_code": "371002"})).json()["id"]  # fmt: skip
        for i in (0, 1, 2):
            done = await f.client.post("/cremations", headers=f.caseworker, json={
                "death_registration_id": regs[i], "funeral_home_id": home_id, "certificate_number": f"HH-{i}",
                "cremated_at": "2026-11-05T09:00:00+08:00", "ashes": "collected"})  # fmt: skip
            assert done.status_code == 201, done.text
        subsidy = await f.client.post(f"/deaths/{regs[2]}/eco-burial-subsidy", headers=f.caseworker, json={
            "burial_type": "tree", "burial_date": "2026-11-08", "payee": holder[2]})  # fmt: skip
        assert subsidy.status_code == 201, subsidy.text
        assert (await f.revoke(regs[won], "wrong person")).status_code == 200
        freed = await f.client.get(f"/cemeteries/{cemetery_id}/plots", headers=f.caseworker,
                                   params={"status": "available"})  # fmt: skip
        assert [p["code"] for p in freed.json()] == ["WH01-A-03-001", "WH01-A-03-002"]
        assert (await f.client.get("/graves/WH01-A-03-001", headers=f.caseworker)).json()["deceased_name"] is None

        period = {"from": "2026-11-01", "to": "2026-11-30"}
        stats = await f.client.get("/statistics", headers=f.caseworker, params={**period, "region_code": "371000"})
        assert stats.status_code == 200, stats.text
        figures = stats.json()
        assert (figures["deaths"], figures["cremations"], figures["cremation_rate_percent"]) == (3, 2, "66.7")
        assert (figures["eco_burials"], figures["eco_burial_subsidy_amount"]) == (1, "800.00")
        assert figures["eco_burial_subsidies"] == [{"kind": "tree", "count": 1, "amount": "800.00"}]
        assert (figures["funeral_benefit_recipients"], figures["funeral_benefit_amount"]) == (0, "0.00")
        assert (figures["plots_assigned"], figures["eco_graves"]) == (0, 0)
        elsewhere = await f.client.get("/statistics", headers=f.caseworker, params={**period, "region_code": "330683"})
        assert elsewhere.json()["deaths"] == 0 and elsewhere.json()["cremation_rate_percent"] is None
        auditor = await f.client.get("/statistics", headers=f.as_role(Role.AUDITOR), params=period)
        assert auditor.status_code == 200 and auditor.json()["deaths"] == 3
        assert (await f.client.get("/statistics", headers=f.citizen(family[0]), params=period)).status_code == 403
        await f.drained()

    events = await published(broker, {people[won]})
    assert types(events) == [
        "death-registered.v1",
        "funeral-benefit-not-granted.v1",
        "plot-assigned.v1",
        "cremation-done.v1",
        "death-revoked.v1",
        "plot-released.v1",
    ]
