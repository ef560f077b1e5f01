"""Divorce deadlines moved past rest days, through the API with a clock the test moves: a day 30 on a Saturday can
still be withdrawn on the Monday and the certificate comes the day after; a window closing on a Saturday stays open
until Monday and the deemed-withdrawn job waits for it; calendar rows added after an application lengthen its
deadlines and never shorten them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from civic.broker import EmbeddedBroker
from services.marriage.policy_store import load_holidays
from services.marriage.rules import CalendarDay, DayKind
from tests.integration.test_marriage_divorce import apply, certificate, couple, withdraw
from tests.integration.test_marriage_registration import Registry, registry


async def expire(reg: Registry) -> list[str]:
    response = await reg.client.post("/divorces/expiry", headers=reg.caseworker)
    assert response.status_code == 200, response.text
    closed: list[str] = response.json()["deemed_withdrawn"]
    return closed


async def test_a_day_30_on_a_saturday_moves_to_monday(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        reg.clock.today = date(2026, 6, 18)  # day 30 is Saturday 18 July 2026
        withdrawing, divorcing = await couple(reg), await couple(reg)
        first = await apply(reg, withdrawing[0], withdrawing[1])
        second = await apply(reg, divorcing[0], divorcing[1])
        assert (first["last_day_to_withdraw"], first["first_day_for_certificate"]) == ("2026-07-20", "2026-07-21")
        assert first["last_day_for_certificate"] == "2026-08-19"
        assert any("2026-07-18" in note and "203" in note for note in first["deadline_notes"])

        reg.clock.today = date(2026, 7, 20)  # the moved day: still the cooling-off period
        early = await certificate(reg, second["id"])
        assert early.status_code == 422 and early.json()["type"].endswith("/still-in-cooling-off-period")
        assert "2026-07-21" in early.json()["detail"]
        withdrawn = await withdraw(reg, first["id"], withdrawing[0], reg.citizen(withdrawing[0]))
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["status"] == "withdrawn"

        reg.clock.today = date(2026, 7, 21)
        divorced = await certificate(reg, second["id"])
        assert divorced.status_code == 200, divorced.text
        assert (await reg.status_of(divorcing[0]))["status"] == "divorced"


async def test_the_job_waits_for_a_window_end_moved_past_a_weekend(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        reg.clock.today = date(2026, 9, 3)  # day 30 is 3 October (国庆节): moved to 8 October
        lapsing, late_comer = await couple(reg), await couple(reg)
        lapses = await apply(reg, lapsing[0], lapsing[1])
        comes_late = await apply(reg, late_comer[0], late_comer[1])
        assert lapses["last_day_to_withdraw"] == "2026-10-08"
        # 30 days after 8 October is Saturday 7 November: the window closes on Monday 9 November
        assert lapses["last_day_for_certificate"] == "2026-11-09"

        for today in (date(2026, 11, 8), date(2026, 11, 9)):  # day 60 counted plainly would be 2 November
            reg.clock.today = today
            assert await expire(reg) == []
        divorced = await certificate(reg, comes_late["id"])  # Monday 9 November: still in the window
        assert divorced.status_code == 200, divorced.text

        reg.clock.today = date(2026, 11, 10)
        assert await expire(reg) == [lapses["id"]]
        assert (await reg.client.get(f"/divorces/{lapses['id']}", headers=reg.caseworker)).json()["status"] == (
            "deemed-withdrawn"
        )


async def test_calendar_rows_added_later_lengthen_stored_deadlines(broker: EmbeddedBroker, tmp_path: Path) -> None:
    async with registry(broker, tmp_path) as reg:
        reg.clock.today = date(2027, 9, 1)  # 2027 is not in the calendar yet: day 30 is Friday 1 October
        a, b, _ = await couple(reg)
        applied = await apply(reg, a, b)
        assert applied["last_day_to_withdraw"] == "2027-10-01"
        assert any("2027 is not in the holiday calendar" in note for note in applied["deadline_notes"])

        # The 2027 notice is published and loaded (as a start-up with a longer fixture would load it).
        national_day = [
            CalendarDay(date(2027, 10, d), DayKind.HOLIDAY, "国庆节", "国务院办公厅关于2027年部分节假日安排的通知")
            for d in range(1, 8)
        ]
        async with AsyncSession(reg.service.engine) as session:
            await load_holidays(session, national_day)

        read = (await reg.client.get(f"/divorces/{applied['id']}", headers=reg.caseworker)).json()
        assert (read["last_day_to_withdraw"], read["first_day_for_certificate"]) == ("2027-10-08", "2027-10-09")
        reg.clock.today = date(2027, 10, 8)
        assert (await certificate(reg, applied["id"])).status_code == 422, "still in the (longer) cooling-off"
        withdrawn = await withdraw(reg, applied["id"], b, reg.caseworker)
        assert withdrawn.status_code == 200, withdrawn.text
