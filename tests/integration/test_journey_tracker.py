"""The tracker's projection on real SQLite, fed envelopes as the runner hands them over: a daily job's grants under
one correlation id are one journey each, and an allowance that is not the age allowance starts none."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import db
from civic.events import Envelope
from contracts.eldercare import AllowanceGranted
from gateway.journeys.tables import TABLES, JourneyRecord
from gateway.journeys.tracker import record_event
from tests.factories import resident_id


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    await db.create_tables(engine, TABLES)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s
    await engine.dispose()


def granted(allowance: str, subject: str, correlation_id: str) -> tuple[Envelope, AllowanceGranted]:
    event = AllowanceGranted(resident_id=resident_id(date(1946, 1, 1)), allowance_id=str(uuid.uuid4()),
                             allowance=allowance, region_code="371002", monthly_amount=Decimal("100.00"),
                             granted_from=date(2026, 1, 1), cause="aged 80 on 2026-01-01")  # fmt: skip
    env = Envelope(id=str(uuid.uuid4()), source="eldercare", type=AllowanceGranted.type_name, subject=subject,
                   time=datetime.now(UTC), correlation_id=correlation_id, initiator="cw-e")  # fmt: skip
    return env, event


async def test_one_turning_80_journey_per_grant_of_a_daily_run(session: AsyncSession) -> None:
    run = str(uuid.uuid4())  # the job's request: every grant of the run carries its correlation id
    grants = [granted("age", f"elder-{n}", run) for n in range(2)]
    for env, event in grants:
        await record_event(session, env, None, None, event)
    await record_event(session, grants[0][0], None, None, grants[0][1])  # redelivered: counted once
    await session.commit()

    journeys = (await session.exec(select(JourneyRecord).where(JourneyRecord.kind == "turning-80"))).all()
    mine = {j.id: j for j in journeys if j.subject.startswith("elder-")}
    assert set(mine) == {env.id for env, _ in grants}
    for env, _ in grants:
        journey = mine[env.id]
        assert journey.subject == env.subject and journey.state == "completed"
        assert json.loads(journey.steps) == {"allowance-granted": "done"}
    assert await session.get(JourneyRecord, run) is None


async def test_the_difficult_elderly_subsidy_starts_no_turning_80_journey(session: AsyncSession) -> None:
    env, event = granted("difficult_elderly", "elder-x", str(uuid.uuid4()))
    await record_event(session, env, None, None, event)
    await session.commit()
    assert (await session.exec(select(JourneyRecord).where(JourneyRecord.subject == "elder-x"))).first() is None
