"""Divisions as of a date across a merge (and the seeded 文登市 → 文登区 change), a refused adjustment that writes
nothing; door numbers never given twice under concurrency; door-plate certificates masked for others."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role, identity_headers
from civic.broker import EmbeddedBroker
from services.placenames.models import Division
from tests.factories import resident_id
from tests.integration.test_placenames_naming import DAY_0, events_about, office

MERGE_DAY = date(2026, 7, 1)


async def test_division_queries_as_of_a_date_across_a_merge(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with office(broker, tmp_path) as o:
        weihai_2010 = [d["code"] for d in await o.get("/divisions", parent="371000", as_of="2010-06-01")]
        weihai_2020 = [d["code"] for d in await o.get("/divisions", parent="371000", as_of="2020-06-01")]
        assert "371081" in weihai_2010 and "371003" not in weihai_2010
        assert "371003" in weihai_2020 and "371081" not in weihai_2020

        async def versions() -> int:
            async with AsyncSession(o.service.engine) as s:
                return int((await s.exec(select(func.count()).select_from(Division))).one())

        before = await versions()
        orphaning = {"kind": "merge", "effective_on": str(MERGE_DAY), "ends": ["371002003"]}
        refused = await o.post("/divisions/adjustments", orphaning)
        assert refused.status_code == 422 and refused.json()["type"].endswith("/orphaned-divisions")
        assert refused.json()["field"] == "ends" and await versions() == before

        merge = {
            "kind": "merge",
            "effective_on": str(MERGE_DAY),
            "ends": ["371002003"],
            "versions": [
                {"code": "371002003001", "name": "竹岛社区", "level": "community", "parent_code": "371002002"}
            ],
            "note": "竹岛街道并入鲸园街道",
        }
        citizen = identity_headers(Principal(subject=resident_id(), role=Role.CITIZEN), o.settings)
        assert (await o.post("/divisions/adjustments", merge, citizen)).status_code == 403
        done = await o.post("/divisions/adjustments", merge)
        assert done.status_code == 201, done.text

        day_before = await o.get("/divisions/371002", as_of=str(date(2026, 6, 30)))
        assert [c["code"] for c in day_before["children"]] == ["371002001", "371002002", "371002003"]
        on_the_day = await o.get("/divisions/371002", as_of=str(MERGE_DAY))
        assert [c["code"] for c in on_the_day["children"]] == ["371002001", "371002002"]
        assert (
            await o.client.get("/divisions/371002003", params={"as_of": str(MERGE_DAY)}, headers=o.caseworker)
        ).status_code == 404
        community = await o.get("/divisions/371002003001/history")
        assert [(v["parent_code"], v["valid_until"]) for v in community] == [
            ("371002003", str(MERGE_DAY)),
            ("371002002", None),
        ]
        late = await o.post("/divisions/adjustments", {**merge, "effective_on": str(date(2026, 1, 1))})
        assert late.status_code == 422 and late.json()["type"].endswith("/adjustments-out-of-order")


async def test_door_numbers_are_never_given_twice_even_at_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with office(broker, tmp_path) as o:
        road = await o.name_road("文化路", "wen hua lu")
        same = await asyncio.gather(*(o.post(f"/roads/{road}/plates", {"number": 7}) for _ in range(5)))
        assert sorted(r.status_code for r in same) == [201, 409, 409, 409, 409]
        auto = await asyncio.gather(*(o.post(f"/roads/{road}/plates", {"side": "even"}) for _ in range(6)))
        assert all(r.status_code == 201 for r in auto), [r.text for r in auto]
        assert sorted(r.json()["number"] for r in auto) == [2, 4, 6, 8, 10, 12]
        odd = await o.post(f"/roads/{road}/plates", {})
        assert odd.json()["number"] == 9 and odd.json()["side"] == "odd"
        wrong_side = await o.post(f"/roads/{road}/plates", {"number": 11, "side": "even"})
        assert wrong_side.status_code == 422 and wrong_side.json()["field"] == "number"
        numbers = [p["number"] for p in await o.get(f"/roads/{road}/plates")]
        assert numbers == [2, 4, 6, 7, 8, 9, 10, 12]


async def test_a_door_plate_certificate_is_masked_for_others(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with office(broker, tmp_path) as o:
        road = await o.name_road("福山路", "fu shan lu")
        plate = (await o.post(f"/roads/{road}/plates", {"number": 3})).json()
        owner = resident_id(date(1975, 2, 3), region="371002")
        wrong_check = owner[:-1] + ("1" if owner[-1] != "1" else "2")  # never the right check character
        bad = await o.post(
            f"/plates/{plate['id']}/certificates", {"owner_resident_id": wrong_check, "owner_name": "王芳"}
        )
        assert bad.status_code == 422 and bad.json()["field"] == "owner_resident_id"
        issued = await o.post(f"/plates/{plate['id']}/certificates", {"owner_resident_id": owner, "owner_name": "王芳"})
        assert issued.status_code == 201, issued.text
        number = issued.json()["number"]
        assert number == f"371002{o.clock.today.year}000001" and issued.json()["address"] == "福山路3号"

        as_owner = await o.client.get(f"/certificates/{number}", headers=o.citizen(owner))
        assert as_owner.json()["owner_resident_id"] == owner
        as_other = await o.client.get(f"/certificates/{number}", headers=o.citizen(resident_id()))
        assert as_other.status_code == 404
        auditor = identity_headers(Principal(subject="au-1", role=Role.AUDITOR), o.settings)
        masked = (await o.client.get(f"/certificates/{number}", headers=auditor)).json()["owner_resident_id"]
        assert masked == owner[:6] + "*" * 8 + owner[14:]
        stats = await o.get("/statistics", year=o.clock.today.year)
        assert stats["certificates_issued"] == 1 and stats["roads_named"] == 1
        assert o.clock.today > DAY_0


async def test_a_changed_house_number_keeps_the_plate_and_tells_the_departments(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    async with office(broker, tmp_path) as o:
        road = await o.name_road("海港路", "hai gang lu")
        plate = (await o.post(f"/roads/{road}/plates", {"number": 3})).json()
        await o.post(f"/roads/{road}/plates", {"number": 5})
        change = {"number": 5, "reason": "门牌整顿"}
        taken = await o.post(f"/plates/{plate['id']}/renumbering", change)
        assert taken.status_code == 409 and taken.json()["field"] == "number", taken.text
        same = await o.post(f"/plates/{plate['id']}/renumbering", {"number": 3, "reason": "x"})
        assert same.status_code == 422 and same.json()["type"].endswith("/no-change")
        as_citizen = await o.client.post(f"/plates/{plate['id']}/renumbering", json={**change, "number": 7},
                                         headers=o.citizen(resident_id()))  # fmt: skip
        assert as_citizen.status_code == 403

        moved = await o.post(f"/plates/{plate['id']}/renumbering", {**change, "number": 7, "suffix": "1"})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["number"], moved.json()["address"]) == (7, "海港路7-1号")
        assert (await o.get(f"/smart-plates/{plate['smart_code']}"))["address"] == "海港路7-1号", "the same plate"
        assert [p["number"] for p in await o.get(f"/roads/{road}/plates")] == [5, 7]
        freed = await o.post(f"/roads/{road}/plates", {"number": 3})
        assert freed.status_code == 201, "the old number is free again"

        await o.drained()
        changed = [d for kind, d in await events_about(broker, road) if kind.endswith("door-plate-changed.v1")]
        assert [(d["plate_id"], d["old_number"], d["number"], d["suffix"], d["address"]) for d in changed] == [
            (plate["id"], 3, 7, "1", "海港路7-1号")
        ], "one event, for the change that was made"
