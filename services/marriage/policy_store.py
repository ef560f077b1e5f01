"""Legal ages, divorce periods and the national holiday calendar as data: fixture files, loaded idempotently into
their tables at start-up (also when two replicas start at once).

``policy/holidays.csv`` holds the days of the State Council General Office's yearly notices on the holiday
arrangement (国务院办公厅关于20xx年部分节假日安排的通知): each statutory holiday or day off (``holiday``) and each
weekend day worked instead (``workday``, 调休上班), with the notice as the row's source. It holds 2025 and 2026.
The 2026 rows were checked day by day against the notice as published (国务院办公厅, 4 November 2025, carried
by Xinhua). A year's rows are added when its notice is published (usually in November of the year before); until
then that year's rest days are its Saturdays and Sundays only, and deadlines computed in it say so (and the
service logs it once per year). Rows already loaded stay as they are: a corrected row is a
change to make deliberately in the table, not by editing the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.fixtures import add_missing, read_csv
from services.marriage.models import HolidayCalendarDay, PolicyParameter
from services.marriage.rules import CalendarDay, DayKind, HolidayCalendar, Parameter, Policy

FIXTURE = Path(__file__).parent / "policy" / "parameters.csv"
HOLIDAYS = Path(__file__).parent / "policy" / "holidays.csv"


def fixture_parameters() -> list[Parameter]:
    return [
        Parameter(row["region_code"], row["parameter"], date.fromisoformat(row["effective_from"]), int(row["value"]),
                  row["source"])
        for row in read_csv(FIXTURE)
    ]  # fmt: skip


def fixture_holidays(path: Path = HOLIDAYS) -> list[CalendarDay]:
    return [
        CalendarDay(date.fromisoformat(row["date"]), DayKind(row["kind"]), row["name"], row["source"])
        for row in read_csv(path)
    ]


async def load_fixture(session: AsyncSession, parameters: list[Parameter]) -> None:
    """Rows already present stay as they are: a figure changes by a new row with a new effective date."""
    rows = [PolicyParameter(region_code=p.region_code, name=p.name, effective_from=p.effective_from, value=p.value,
                            source=p.source) for p in parameters]  # fmt: skip
    await add_missing(session, rows, key=lambda r: (r.region_code, r.name, r.effective_from))


async def load_holidays(session: AsyncSession, days: list[CalendarDay]) -> None:
    """Days already present stay as they are; days not yet present are added (a new year's notice)."""
    rows = [HolidayCalendarDay(day=d.day, kind=d.kind.value, name=d.name, source=d.source) for d in days]
    await add_missing(session, rows, key=lambda r: r.day)


async def current_policy(session: AsyncSession) -> Policy:
    rows = (await session.exec(select(PolicyParameter))).all()
    return Policy(Parameter(r.region_code, r.name, r.effective_from, r.value, r.source) for r in rows)


async def current_calendar(session: AsyncSession) -> HolidayCalendar:
    rows = (await session.exec(select(HolidayCalendarDay))).all()
    return HolidayCalendar(CalendarDay(r.day, DayKind(r.kind), r.name, r.source) for r in rows)


@asynccontextmanager
async def policy_loaded(app: FastAPI) -> AsyncIterator[None]:
    async with app.state.service.sessions() as session:
        await load_fixture(session, fixture_parameters())
    async with app.state.service.sessions() as session:
        await load_holidays(session, fixture_holidays())
    yield
