"""Recalculation after a new standard: a resumable batch job over the open benefits it affects, and the schedule
that runs it on the standard's effective date.

The chunk loop is ``recalc_chunks``; it walks the cases in household order. A large job on PostgreSQL works
ranges of households in processes side by side (``recalc_shards``), each range with a cursor of its own.

Resumable: the job's cursor (the last household done) commits with each chunk's changes and events, so an
interrupted run loses at most the chunk in hand, and the next run (the schedule's, or a caseworker's) goes on
after the cursor. Safe to re-run: a case whose amount from the effective date is already the new one is left
alone, so a second run publishes nothing; one ``BenefitChanged`` per changed benefit.

A month already paid when the job reaches a case (the job ran late, after that month's payment run) is not
rewritten downwards: a cut applies from the first month not yet paid. A rise applies from the effective date,
and the months already paid get the difference as back-pay (one ``PaymentIssued`` of kind back_pay each).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fastapi import FastAPI
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.clock import clock_of
from civic.outbox import Outbox
from civic.schedule import periodic
from services.assistance import recalc_shards
from services.assistance.models import RecalculationJob
from services.assistance.policy_store import PolicyParameter, current_policy, moves_monthly_amounts
from services.assistance.recalc_chunks import CHUNK, Progress, covered, work_range
from services.assistance.recalc_shards import Workers

__all__ = ["CHUNK", "JobResult", "Workers", "covered", "recalculate", "recalculate_due_standards"]

SCHEDULE_INTERVAL_S = 3600.0
log = logging.getLogger(__name__)
# One job at a time per database in a process: the schedule and a caseworker's call must not work the same chunk
# at once (across processes, the unique schedule entry per case and date refuses the second writer).
_running: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass
class JobResult:
    examined: int
    changed: int
    finished: bool
    job_id: str = ""


def job_id_of(region_code: str, effective_from: date) -> str:
    return f"{region_code}:{effective_from.isoformat()}"


async def recalculate(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, region_code: str, effective_from: date, *,
    chunk: int = CHUNK, max_cases: int | None = None, workers: Workers | None = None,
) -> JobResult:  # fmt: skip
    """Recalculate the open benefits ``region_code``'s figures cover from ``effective_from``, or resume the job.
    ``workers`` (``Workers.of(settings)``): on PostgreSQL a job of many cases is split into ranges worked in that
    many processes side by side (``recalc_shards``). ``max_cases``: at most that many open cases (per range)."""
    lock = _running.setdefault(sessions, asyncio.Lock())
    async with lock:
        return await _recalculate(sessions, outbox, region_code, effective_from, chunk=chunk, max_cases=max_cases,
                                  workers=workers)  # fmt: skip


async def _recalculate(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, region_code: str, effective_from: date, *,
    chunk: int, max_cases: int | None, workers: Workers | None,
) -> JobResult:  # fmt: skip
    job_id = job_id_of(region_code, effective_from)
    async with sessions() as session:
        job = await session.get(RecalculationJob, job_id)
        if job is None:
            job = RecalculationJob(id=job_id, region_code=region_code, effective_from=effective_from)
        elif job.finished_at is not None:
            job.cursor, job.finished_at = "", None  # a re-run goes through again; unchanged amounts stay unchanged
            await recalc_shards.forget_shards(session, job_id)
        session.add(job)
        # SQLite has one writer: one process, one chunk at a time (see ``work_range``).
        overlap = session.get_bind().dialect.name == "postgresql"
        shards = await recalc_shards.shards_of(session, job_id)
        if not shards and not job.cursor and workers is not None and overlap:
            shards = await recalc_shards.split(session, job_id, workers)
        await session.commit()
        progress = Progress(job_id, job.cursor, job.examined, job.changed)
        policy = await current_policy(session)
    if shards:  # a job split when it started goes on in its ranges, however it is resumed
        done = await recalc_shards.work_shards(sessions, outbox, policy, region_code, effective_from, shards, workers,
                                               chunk=chunk, max_cases=max_cases, overlap=overlap)  # fmt: skip
    else:
        done = await work_range(sessions, outbox, policy, region_code, effective_from, progress, "", chunk=chunk,
                                max_cases=max_cases, overlap=overlap)  # fmt: skip
    if not done.finished:
        return JobResult(done.examined, done.changed, False, job_id)
    async with sessions() as session:
        job = await session.get(RecalculationJob, job_id)
        assert job is not None
        if shards:  # the job's totals are its ranges'
            ranges = await recalc_shards.shards_of(session, job_id)
            job.examined, job.changed = sum(s.examined for s in ranges), sum(s.changed for s in ranges)
        job.finished_at = datetime.now(UTC)
        session.add(job)
        await session.commit()
    return JobResult(done.examined, done.changed, True, job_id)


async def due_recalculations(session: AsyncSession, today: date) -> list[tuple[str, date]]:
    """(region, effective date) of every standard added ahead of its date that is in force by ``today`` and
    whose recalculation has not finished since its last parameter was added.

    Figures loaded from the fixture after their date (the seed history) are not "new standards": recalculating
    every benefit from 2020 because the service started would rewrite history.
    """
    rows = (await session.exec(
        select(col(PolicyParameter.region_code), col(PolicyParameter.effective_from),
               func.max(col(PolicyParameter.added_at)))
        .where(PolicyParameter.effective_from <= today,
               moves_monthly_amounts())
        .group_by(col(PolicyParameter.region_code), col(PolicyParameter.effective_from))
    )).all()  # fmt: skip
    due: list[tuple[str, date]] = []
    for region_code, effective_from, added_at in rows:
        if added_at.date() >= effective_from:
            continue
        job = await session.get(RecalculationJob, job_id_of(region_code, effective_from))
        finished = job.finished_at if job is not None else None
        if finished is not None and finished.replace(tzinfo=finished.tzinfo or UTC) >= added_at.replace(
            tzinfo=added_at.tzinfo or UTC
        ):
            continue
        due.append((region_code, effective_from))
    return sorted(due, key=lambda d: (d[1], d[0]))


async def recalculate_due_standards(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, today: date, *, chunk: int = CHUNK,
    max_cases: int | None = None, workers: Workers | None = None,
) -> list[JobResult]:  # fmt: skip
    """The scheduled job: run (or resume) the recalculation of every standard that took effect by ``today``."""
    async with sessions() as session:
        due = await due_recalculations(session, today)
    results = []
    for region_code, effective_from in due:
        result = await recalculate(sessions, outbox, region_code, effective_from, chunk=chunk, max_cases=max_cases,
                                   workers=workers)  # fmt: skip
        log.info("recalculation %s: %d examined, %d changed, finished=%s", result.job_id, result.examined,
                 result.changed, result.finished)  # fmt: skip
        results.append(result)
    return results


async def run_dated_jobs(app: FastAPI) -> None:
    """The recalculation of standards in force by today, then the temporary-assistance stages due and advances
    overdue."""
    from services.assistance.temporary import run_temporary_assistance

    service = app.state.service
    today = clock_of(app)()
    await recalculate_due_standards(service.sessions, service.outbox, today, workers=Workers.of(service.settings))
    done = await run_temporary_assistance(service.sessions, service.outbox, today)
    if done.stages_paid or done.advances_flagged:
        log.info("temporary assistance: %d stages paid, %d advances flagged", done.stages_paid,
                 done.advances_flagged)  # fmt: skip


# A start-up resource: the dated jobs at start (catching up on downtime), then every hour.
daily_jobs = periodic(
    "assistance-daily-jobs",
    run_dated_jobs,
    lambda app: float(getattr(app.state, "assistance_schedule_interval_s", SCHEDULE_INTERVAL_S)),
)
