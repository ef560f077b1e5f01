"""The recalculation's batch path against the real database (SQLite, or PostgreSQL with --database=postgresql):
the means the database sums are the means of the households' facts, and every case ends at the amount
``rules.assess`` gives it — household benefits through their means, personal ones through their members — with
one BenefitChanged per changed case, cuts not reaching into paid months, and nothing on a second run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import db, migrations
from civic.db import table_of
from civic.money import to_fen
from civic.outbox import OutboxRecord
from services.assistance import facts, lifecycle, rules
from services.assistance.main import build_app
from services.assistance.models import (
    BenefitAmount,
    Case,
    CaseChange,
    Household,
    HouseholdAsset,
    HouseholdDeduction,
    HouseholdIncome,
    HouseholdMember,
    Payment,
    PaymentRun,
    RecalculationJob,
)
from services.assistance.policy_store import PolicyParameter, current_policy, fixture_parameters, load_fixture
from services.assistance.recalc import recalculate
from tests.factories import resident_id
from tests.kit import settings_for

EFFECTIVE = date(2026, 12, 1)
# (benefit, incomes per member in fen, deductions, assets, members who died, months paid from EFFECTIVE on, amount now)
SHAPES: list[tuple[str, list[int], list[int], list[int], list[date | None], int, int]] = [
    ("dibao", [40_000, 40_000], [], [], [None, None], 0, 58_000),  # a rise: 580 → 700
    ("dibao", [40_000, 40_000], [], [], [None, None], 2, 58_000),  # a rise, two months paid: back-pay for each
    ("dibao", [40_000, 40_000], [], [], [None, None], 0, 70_000),  # already the new amount: untouched
    ("dibao", [10_000, 0, 5_000], [3_000], [500_000], [None, None, date(2026, 9, 2)], 0, 100_000),  # one died
    ("dibao", [70_000, 0], [], [], [None, None], 2, 20_000),  # 750×2 − 700 = 800: a rise over a paid month
    ("dibao", [74_000], [], [], [None], 2, 90_000),  # a cut (10 yuan) with two months paid: from the third
    ("dibao", [80_000], [], [], [None], 0, 5_000),  # no longer eligible: left for a review, not stopped
    ("dibao", [40_000], [], [90_000_000], [None], 0, 35_000),  # assets above the limit: left for a review
    ("dibao_edge", [80_000], [], [], [None], 0, 0),  # 低保边缘 pays nothing: no change
    ("tekun", [], [], [], [None], 0, 90_000),  # personal: through the members, not the means
]

# The shapes the new standard changes (``test_the_batch_path_gives_what_the_rules_give`` finds them so).
CHANGING = (0, 1, 3, 4, 5, 9)


async def seeded(sessions, outbox_free_region: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The shapes as households and cases; their ids sort in SHAPES order."""
    ids = []
    async with sessions() as session:
        for n, (benefit, incomes, deductions, assets, died, paid, amount) in enumerate(SHAPES):
            hid, cid = f"h-{n:02d}-{uuid.uuid4().hex[:6]}", f"c-{n:02d}-{uuid.uuid4().hex[:6]}"
            region = outbox_free_region
            session.add(Household(id=hid, region_code=region, area="urban", applicant_resident_id="x"))
            people = [resident_id(born=date(1950, 1, 1)) for _ in died]
            for person, died_on in zip(people, died, strict=True):
                session.add(HouseholdMember(household_id=hid, resident_id=person, relation="本人", died_on=died_on,
                                            legal_supporter=benefit != "tekun", work_capacity=benefit != "tekun"))  # fmt: skip
            for i, fen in enumerate(incomes):
                session.add(HouseholdIncome(household_id=hid, resident_id=people[i % len(people)], kind="wages",
                                            monthly_fen=fen))  # fmt: skip
            for i, fen in enumerate(deductions):
                session.add(
                    HouseholdDeduction(household_id=hid, resident_id=people[i], kind="medical", monthly_fen=fen)
                )
            for i, fen in enumerate(assets):
                session.add(HouseholdAsset(household_id=hid, resident_id=people[i], kind="savings", value_fen=fen))
            await session.flush()
            session.add(Case(id=cid, benefit=benefit, resident_id=people[0], region_code=region, household_id=hid,
                             setting="dispersed" if benefit == "tekun" else None,
                             paid_from=date(2026, 1, 1), status="active"))  # fmt: skip
            await session.flush()
            session.add(BenefitAmount(case_id=cid, effective_from=date(2026, 1, 1), amount_fen=amount, cause="seed"))
            for m in range(paid):
                session.add(Payment(case_id=cid, month=rules.add_months(EFFECTIVE, m), amount_fen=amount))
            ids.append(cid)
        for m in range(max(shape[5] for shape in SHAPES)):  # the runs that paid those months
            session.add(PaymentRun(month=rules.add_months(EFFECTIVE, m), finished_at=datetime.now(UTC)))
        session.add(PolicyParameter(region_code="371000", area="urban", name="dibao_standard", value="750",
                                    per="month", effective_from=EFFECTIVE, source="test", added_by="test",
                                    added_at=datetime(2026, 11, 1, tzinfo=UTC)))  # fmt: skip
        await session.commit()
    return ids


@asynccontextmanager
async def service_with_shapes(tmp_path: Path) -> AsyncIterator[tuple[Any, list[str]]]:
    """An assistance service's database (no broker: the events wait in the outbox) with SHAPES seeded; their ids."""
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, "127.0.0.1:1")
    if settings.create_database:
        await db.create_database_if_missing(settings.resolved_database_url())
    service = build_app(settings).state.service
    try:
        await migrations.upgrade(service.engine, service.schema)
        async with service.sessions() as session:
            await load_fixture(session, fixture_parameters())
        yield service, await seeded(service.sessions, "371002")
    finally:
        await service.engine.dispose()


async def refuse_history_of(service: Any, case_id: str, saying: str = "refused") -> None:
    """The database refuses that case's history row (a trigger), until ``accept_history_again``; on PostgreSQL its
    error says ``saying``."""
    async with service.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(
                f"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{saying}'; END $$"
            )
            await conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON benefit_history FOR EACH ROW "
                f"WHEN (NEW.case_id = '{case_id}') EXECUTE FUNCTION refuse()"
            )
        else:
            await conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON benefit_history WHEN NEW.case_id = '{case_id}' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )


async def accept_history_again(service: Any) -> None:
    async with service.engine.begin() as conn:
        postgresql = conn.dialect.name == "postgresql"
        await conn.exec_driver_sql("DROP TRIGGER refuse" + (" ON benefit_history" if postgresql else ""))


async def households_of(service: Any, case_ids: list[str]) -> list[str]:
    """The household of each case, in the same order (the job's cursor is the last household done)."""
    async with service.sessions() as session:
        rows = (await session.exec(select(Case.id, Case.household_id))).all()  # type: ignore[call-overload]
    household = dict(rows)
    return [household[case_id] for case_id in case_ids]


async def benefit_changed_events(session: AsyncSession) -> int:
    outbox = table_of(OutboxRecord)
    count = select(func.count()).select_from(outbox).where(outbox.c.event_type.like("%benefit-changed%"))
    return int((await (await session.connection()).execute(count)).scalar_one())


async def test_the_batch_path_gives_what_the_rules_give(tmp_path: Path) -> None:
    async with service_with_shapes(tmp_path) as (service, ids):
        async with service.sessions() as session:
            policy = await current_policy(session)
            cases = {c.id: c for c in (await session.exec(select(Case).where(Case.id.in_(ids)))).scalars()}  # type: ignore[attr-defined]
            households = await facts.households(session, [c.household_id for c in cases.values() if c.household_id])
            summed = await facts.means(await session.connection(), list(households), EFFECTIVE)
            ordered = sorted(households)
            every = await facts.means(await session.connection(), facts.HouseholdRange("", ordered[-1]), EFFECTIVE)
            some = await facts.means(await session.connection(), facts.HouseholdRange(ordered[2], ordered[5]),
                                     EFFECTIVE)  # fmt: skip
        assert summed == {hid: rules.means_of(h, EFFECTIVE) for hid, h in households.items()}
        assert every == summed, "a range of households: every household in it, the same means"
        assert some == {hid: summed[hid] for hid in ordered[3:6]}, "after the first, up to the last"

        first = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=4)
        assert (first.examined, first.finished) == (len(SHAPES), True)
        async with service.sessions() as session:
            schedule = [(r.case_id, r.effective_from, r.amount_fen) for r in
                        (await session.exec(select(BenefitAmount))).scalars()]  # fmt: skip
            changes = (await session.exec(select(CaseChange.case_id))).scalars().all()  # type: ignore[call-overload]
            events = await benefit_changed_events(session)
            amounts_now = {cid: await lifecycle.latest_amount(session, cid) for cid in ids}  # as the case shows it

        def entries(cid: str) -> list[tuple[date, int]]:
            return [(on, fen) for c, on, fen in schedule if c == cid]

        expected_changed = set()
        for cid, (_, _, _, _, _, paid, amount) in zip(ids, SHAPES, strict=True):
            result = facts.reassess(cases[cid], households[cases[cid].household_id or ""], policy, EFFECTIVE)
            want = to_fen(result.monthly_amount) if result.eligible else None
            if want is None or want == amount:
                assert entries(cid) == [(date(2026, 1, 1), amount)], (cid, "left alone")
                continue
            expected_changed.add(cid)
            start = EFFECTIVE if want > amount else rules.add_months(EFFECTIVE, paid)
            assert entries(cid) == [(date(2026, 1, 1), amount), (start, want)], cid
            assert amounts_now[cid] == want
        assert len(expected_changed) == 6, "four rises (one with a death in the household), a cut, the 特困 case"
        assert sorted(changes) == sorted(expected_changed), "one history entry per changed case"
        assert events == len(expected_changed), "one BenefitChanged per changed case"
        async with service.sessions() as session:
            back_pay = (await session.exec(select(Payment.case_id).where(Payment.kind == "back_pay"))).scalars().all()  # type: ignore[call-overload]
        assert sorted(back_pay) == sorted(2 * [ids[1], ids[4]]), "a rise over paid months: the difference of each"

        again = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=3)
        assert (again.examined, again.changed) == (len(SHAPES), 0)


# The case whose history row the database refuses, and the last case committed before it (chunks of three).
@pytest.mark.parametrize("refused_at, committed_to", [(4, 2), (1, None)], ids=["second chunk", "first chunk"])
async def test_a_chunk_that_fails_to_write_leaves_the_cursor_after_the_last_committed_one(
    tmp_path: Path, refused_at: int, committed_to: int | None
) -> None:
    """Chunks commit in order with their cursor, also when the next is read and the next two written at once
    (PostgreSQL): a write refused by the database stops the job after the chunks before it — the chunk written
    beside it, which has changes of its own when the first chunk fails, is rolled back — and the re-run does
    the rest: one change and one event per case in all."""
    async with service_with_shapes(tmp_path) as (service, ids):
        changing = [ids[i] for i in CHANGING]
        refused = ids[refused_at]
        await refuse_history_of(service, refused)
        with pytest.raises(DBAPIError):
            await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=3)
        async with service.sessions() as session:
            job = await session.get(RecalculationJob, f"371000:{EFFECTIVE.isoformat()}")
            assert job is not None and job.finished_at is None
            households = await households_of(service, ids)
            assert job.cursor == ("" if committed_to is None else households[committed_to]), "the last chunk committed"
            done = set((await session.exec(select(CaseChange.case_id))).scalars().all())  # type: ignore[call-overload]
            events = await benefit_changed_events(session)
        assert done == {cid for cid in changing if committed_to is not None and cid <= ids[committed_to]}
        assert events == len(done)

        await accept_history_again(service)
        resumed = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=3)
        assert resumed.finished and resumed.examined == len(SHAPES) - (0 if committed_to is None else committed_to + 1)
        async with service.sessions() as session:
            history = (await session.exec(select(CaseChange.case_id))).scalars().all()  # type: ignore[call-overload]
            events = await benefit_changed_events(session)
        assert sorted(history) == sorted(changing), "each changed case once"
        assert events == len(history)


async def test_a_chunk_takes_a_household_whole(tmp_path: Path) -> None:
    """A chunk never splits a household's cases (their facts are read once, with the household's): with chunks of
    one case, the first household's two cases are worked together, stopped there after a limit of one; the cursor
    is that household, and the resume does the rest, every changed case once."""
    async with service_with_shapes(tmp_path) as (service, ids):
        [first] = await households_of(service, ids[:1])
        async with service.sessions() as session:
            session.add(Case(id="c-00-second", benefit="dibao_edge", resident_id=resident_id(), region_code="371002",
                             household_id=first, paid_from=date(2026, 1, 1), status="active"))  # fmt: skip
            await session.flush()
            session.add(BenefitAmount(case_id="c-00-second", effective_from=date(2026, 1, 1), amount_fen=0,
                                      cause="seed"))  # fmt: skip
            await session.commit()
        stopped = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=1, max_cases=1)
        assert (stopped.examined, stopped.changed, stopped.finished) == (2, 1, False), "the household's two cases"
        async with service.sessions() as session:
            job = await session.get(RecalculationJob, f"371000:{EFFECTIVE.isoformat()}")
        assert job is not None and job.cursor == first

        resumed = await recalculate(service.sessions, service.outbox, "371000", EFFECTIVE, chunk=1)
        assert (resumed.examined, resumed.finished) == (len(SHAPES) - 1, True)
        async with service.sessions() as session:
            history = (await session.exec(select(CaseChange.case_id))).scalars().all()  # type: ignore[call-overload]
            events = await benefit_changed_events(session)
        assert sorted(history) == sorted(ids[i] for i in CHANGING), "each changed case once"
        assert events == len(history)


async def test_a_county_standard_changes_that_county_only(tmp_path: Path) -> None:
    """A county's new standard in a city's database: its few cases among the city's are recalculated from their
    own facts (two of ten households: read by their ids, not as a range), and the other counties' left alone."""
    moved = (0, 9)  # a 低保 household and a 特困 person
    async with service_with_shapes(tmp_path) as (service, ids):
        async with service.sessions() as session:
            for i in moved:
                case = await session.get(Case, ids[i])
                assert case is not None and case.household_id is not None
                household = await session.get(Household, case.household_id)
                assert household is not None
                case.region_code = household.region_code = "371003"
                session.add_all([case, household])
            session.add(PolicyParameter(region_code="371003", area="urban", name="dibao_standard", value="760",
                                        per="month", effective_from=EFFECTIVE, source="test", added_by="test",
                                        added_at=datetime(2026, 11, 1, tzinfo=UTC)))  # fmt: skip
            await session.commit()
        done = await recalculate(service.sessions, service.outbox, "371003", EFFECTIVE, chunk=4)
        assert (done.examined, done.changed, done.finished) == (len(SHAPES), len(moved), True)
        async with service.sessions() as session:
            policy = await current_policy(session)
            for i in moved:
                case = await session.get(Case, ids[i])
                assert case is not None and case.household_id is not None
                result = facts.reassess(case, await facts.household(session, case.household_id), policy, EFFECTIVE)
                assert await lifecycle.latest_amount(session, ids[i]) == to_fen(result.monthly_amount)
            assert result.monthly_amount > 0 and "760" in result.reasons[0] + result.reasons[-1]
            changed = (await session.exec(select(CaseChange.case_id))).scalars().all()  # type: ignore[call-overload]
            untouched = [await lifecycle.latest_amount(session, ids[i]) for i in range(len(SHAPES)) if i not in moved]
        assert sorted(changed) == sorted(ids[i] for i in moved)
        assert untouched == [shape[6] for i, shape in enumerate(SHAPES) if i not in moved], "other counties' alone"
