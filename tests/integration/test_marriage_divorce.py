"""Divorce by agreement through the API with a clock the test moves: withdrawal on day 30, certificate on days 31
and 60, deemed withdrawn on day 61 (and the job run twice), refusals that write nothing, remarriage (复婚)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.broker import EmbeddedBroker
from services.marriage.models import Divorce
from tests.integration.test_marriage_registration import OFFICE, TODAY, Registry, events_about, man, registry, woman

DAY_0 = TODAY


def day(n: int) -> date:
    return DAY_0 + timedelta(days=n)


async def couple(reg: Registry) -> tuple[str, str, str]:
    a, b = man(), woman()
    response = await reg.marry(a, b)
    assert response.status_code == 201, response.text
    return a, b, response.json()["id"]


async def apply(reg: Registry, a: str, b: str) -> dict[str, Any]:
    response = await reg.client.post(
        "/divorces", json={"resident_id": a, "spouse_resident_id": b, "office_code": OFFICE}, headers=reg.caseworker
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def certificate(reg: Registry, divorce_id: str) -> Any:
    return await reg.client.post(
        f"/divorces/{divorce_id}/certificate", json={"both_present": True}, headers=reg.caseworker
    )


async def withdraw(reg: Registry, divorce_id: str, by: str, headers: dict[str, str]) -> Any:
    return await reg.client.post(f"/divorces/{divorce_id}/withdrawal", json={"resident_id": by}, headers=headers)


async def divorce_rows(reg: Registry) -> list[tuple[str, str]]:
    async with AsyncSession(reg.service.engine) as s:
        return [(d.id, d.status) for d in (await s.exec(select(Divorce).order_by(Divorce.id))).all()]


async def test_the_cooling_off_timeline(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        withdrawing, on_day_31, on_day_60, lapsing, late = [await couple(reg) for _ in range(5)]
        applications = {}
        for name, (a, b, _) in [
            ("withdrawing", withdrawing),
            ("day31", on_day_31),
            ("day60", on_day_60),
            ("lapsing", lapsing),
            ("late", late),
        ]:
            applications[name] = await apply(reg, a, b)
        first = applications["withdrawing"]
        assert (first["applied_on"], first["last_day_to_withdraw"]) == (str(day(0)), str(day(30)))
        assert (first["first_day_for_certificate"], first["last_day_for_certificate"]) == (str(day(31)), str(day(60)))
        assert (await reg.status_of(withdrawing[0]))["pending_divorce_id"] == first["id"]

        again = await reg.client.post(
            "/divorces",
            json={"resident_id": withdrawing[1], "office_code": OFFICE, "spouse_resident_id": withdrawing[0]},
            headers=reg.caseworker,
        )
        assert again.status_code == 409 and again.json()["type"].endswith("/divorce-already-pending")

        reg.clock.today = day(30)
        rows_before = await divorce_rows(reg)
        early = await certificate(reg, first["id"])
        assert early.status_code == 422 and early.json()["type"].endswith("/still-in-cooling-off-period")
        outsider = man()
        by_outsider = await withdraw(reg, first["id"], outsider, reg.caseworker)
        assert by_outsider.status_code == 422 and by_outsider.json()["type"].endswith("/not-a-party")
        assert by_outsider.json()["field"] == "resident_id"
        as_outsider = await withdraw(reg, first["id"], outsider, reg.citizen(outsider))
        assert as_outsider.status_code == 404
        assert await divorce_rows(reg) == rows_before, "refusals write nothing"

        b = withdrawing[1]
        withdrawn = await withdraw(reg, first["id"], b, reg.citizen(b))  # day 30: still allowed, by either alone
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawn_by"] == b
        assert (await reg.status_of(b))["status"] == "married"
        assert (await reg.status_of(b))["pending_divorce_id"] is None

        reg.clock.today = day(31)
        too_late = await withdraw(reg, applications["late"]["id"], late[0], reg.caseworker)
        assert too_late.status_code == 422 and too_late.json()["type"].endswith("/cooling-off-period-over")
        divorced = await certificate(reg, applications["day31"]["id"])
        assert divorced.status_code == 200, divorced.text
        assert divorced.json()["status"] == "registered"
        assert sorted(c["kind"] for c in divorced.json()["certificates"]) == ["divorce", "divorce"]
        status = await reg.status_of(on_day_31[0])
        assert (status["status"], status["since"]) == ("divorced", str(day(31)))

        reg.clock.today = day(60)
        assert (await certificate(reg, applications["day60"]["id"])).status_code == 200

        reg.clock.today = day(61)
        rows_before = await divorce_rows(reg)
        closed = await certificate(reg, applications["lapsing"]["id"])
        assert closed.status_code == 422 and closed.json()["type"].endswith("/certificate-window-closed")
        assert await divorce_rows(reg) == rows_before
        expired = await reg.client.post("/divorces/expiry", headers=reg.caseworker)
        assert expired.status_code == 200
        assert sorted(expired.json()["deemed_withdrawn"]) == sorted(
            [applications["lapsing"]["id"], applications["late"]["id"]]
        )
        twice = await reg.client.post("/divorces/expiry", headers=reg.caseworker)
        assert twice.json()["deemed_withdrawn"] == []
        lapsed = await reg.client.get(f"/divorces/{applications['lapsing']['id']}", headers=reg.caseworker)
        assert lapsed.json()["status"] == "deemed-withdrawn"
        assert (await reg.status_of(lapsing[0]))["status"] == "married"

        # 复婚: the couple divorced on day 31 marry each other again
        remarried = await reg.marry(on_day_31[0], on_day_31[1])
        assert remarried.status_code == 201 and remarried.json()["remarriage"] is True
        await reg.drained()

    people = {p for c in (withdrawing, on_day_31, lapsing) for p in c[:2]}
    seen = [t.removeprefix("civic.marriage.") for t, _ in await events_about(broker, people, 20)]
    for fact in (
        "divorce-applied.v1",
        "divorce-application-withdrawn.v1",
        "divorce-registered.v1",
        "divorce-application-deemed-withdrawn.v1",
    ):
        assert fact in seen, seen
    assert seen.count("divorce-application-deemed-withdrawn.v1") == 1, "the second run published nothing"


async def test_divorce_of_people_not_married_to_each_other_is_refused(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        a, _, _ = await couple(reg)
        _, d, _ = await couple(reg)
        for body, field in [
            ({"resident_id": a, "spouse_resident_id": d}, "spouse_resident_id"),
            ({"resident_id": man(), "spouse_resident_id": woman()}, "spouse_resident_id"),
            ({"resident_id": a, "spouse_resident_id": a}, "spouse_resident_id"),
        ]:
            response = await reg.client.post("/divorces", json={**body, "office_code": OFFICE}, headers=reg.caseworker)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
        async with AsyncSession(reg.service.engine) as s:
            assert (await s.exec(select(func.count()).select_from(Divorce))).one() == 0
