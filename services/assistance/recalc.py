"""Recalculation after a new standard: a resumable batch job over the active benefits it affects.

Resumable: the job's cursor (the last case id done) commits with each chunk's changes. Safe to re-run: a case
whose amount from the effective date is already the new one is left alone, so a second run publishes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.money import to_fen
from civic.outbox import Outbox
from services.assistance import facts, lifecycle, rules
from services.assistance.models import PAYABLE, Case, RecalculationJob
from services.assistance.policy_store import current_policy

ACTOR = "recalculation job"


@dataclass
class JobResult:
    examined: int
    changed: int
    finished: bool


def covered(region_code: str, case_region: str) -> bool:
    """A parameter for ``region_code`` applies to cases in it: a county, a city's counties, a province's ..."""
    if region_code == rules.NATIONAL:
        return True
    prefix = region_code.rstrip("0") if region_code.endswith("00") else region_code
    return case_region.startswith(prefix[: max(len(prefix), 2)])


async def recalculate(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, region_code: str, effective_from: date, *,
    chunk: int = 1000, max_cases: int | None = None,
) -> JobResult:  # fmt: skip
    job_id = f"{region_code}:{effective_from.isoformat()}"
    async with sessions() as session:
        job = await session.get(RecalculationJob, job_id)
        if job is None:
            job = RecalculationJob(id=job_id, region_code=region_code, effective_from=effective_from)
        elif job.finished_at is not None:
            job.cursor, job.finished_at = "", None  # a re-run goes through again; unchanged amounts stay unchanged
        session.add(job)
        await session.commit()
        policy = await current_policy(session)
    examined = changed = 0
    while max_cases is None or examined < max_cases:
        async with sessions() as session:
            job = await session.get(RecalculationJob, job_id)
            assert job is not None
            size = chunk if max_cases is None else min(chunk, max_cases - examined)
            cases = list((await session.exec(
                select(Case).where(col(Case.status).in_(list(PAYABLE)), col(Case.household_id).is_not(None),
                                   Case.id > job.cursor).order_by(col(Case.id)).limit(size)
            )).all())  # fmt: skip
            if not cases:
                job.finished_at = datetime.now(UTC)
                session.add(job)
                await session.commit()
                return JobResult(examined, changed, True)
            mine = [c for c in cases if covered(region_code, c.region_code)]
            before = changed
            households = await facts.households(session, [c.household_id for c in mine if c.household_id])
            for case in mine:
                assert case.household_id is not None
                try:
                    result = facts.reassess(case, households[case.household_id], policy, effective_from)
                except (rules.Refused, rules.MissingPolicy):
                    continue  # a case the new figures cannot assess is left for a caseworker's review
                amount = to_fen(result.monthly_amount) if result.eligible else 0
                if not result.eligible:
                    continue  # no longer eligible: a review with 渐退, not a silent stop by a batch job
                if await lifecycle.set_amount(session, outbox, case, effective_from, amount,
                                              reason=f"new standard from {effective_from}: {result.reasons[-1]}",
                                              actor=ACTOR, cause=f"policy {job_id}"):  # fmt: skip
                    changed += 1
            examined += len(cases)
            job.cursor, job.examined, job.changed = (
                cases[-1].id,
                job.examined + len(cases),
                job.changed + changed - before,
            )
            session.add(job)
            await session.commit()
    return JobResult(examined, changed, False)
