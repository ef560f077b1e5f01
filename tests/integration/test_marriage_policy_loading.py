"""Two replicas starting at once both load the fixtures (legal ages and periods, the holiday calendar) into one
database: neither start-up fails, and every row is there once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.marriage.models import TABLES, HolidayCalendarDay, MarriageTable, PolicyParameter
from services.marriage.policy_store import fixture_holidays, fixture_parameters, load_fixture, load_holidays


async def test_two_replicas_loading_the_fixtures_at_once(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'marriage.db'}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(MarriageTable.metadata.create_all, tables=TABLES)
        for _ in range(3):  # the interleaving is the scheduler's; each round starts from empty tables
            async with engine.begin() as connection:
                for table in TABLES:
                    await connection.execute(table.delete())
            async with AsyncSession(engine) as first, AsyncSession(engine) as second:
                # Both read "nothing loaded yet" before either writes, as two replicas starting together do.
                await asyncio.gather(
                    load_fixture(first, fixture_parameters()), load_fixture(second, fixture_parameters())
                )
            async with AsyncSession(engine) as first, AsyncSession(engine) as second:
                await asyncio.gather(
                    load_holidays(first, fixture_holidays()), load_holidays(second, fixture_holidays())
                )
            async with AsyncSession(engine) as s:
                parameters = (await s.exec(select(func.count()).select_from(PolicyParameter))).one()
                days = (await s.exec(select(func.count()).select_from(HolidayCalendarDay))).one()
            assert (parameters, days) == (len(fixture_parameters()), len(fixture_holidays()))
    finally:
        await engine.dispose()
