"""Recalculation after a new standard: a resumable batch job over the open benefits it affects, and the schedule
that runs it on the standard's effective date.

Resumable: the job's cursor (the last case id done) commits with each chunk's changes and events, so an
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
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.clock import clock_of
from civic.db import table_of
from civic.outbox import Outbox
from civic.schedule import periodic
from services.assistance import lifecycle, rules
from services.assistance.models import OPEN, Case, RecalculationJob
from services.assistance.policy_store import PolicyParameter, current_policy
from services.assistance.reassessment import (
    MEMO_LIMIT,
    CaseRow,
    ChunkFacts,
    ChunkPlan,
    MemoKey,
    Outcome,
    plan_chunk,
    read_facts,
)

ACTOR = "recalculation job"
# Cases per transaction: a chunk's reads and writes are a dozen statements whatever its size, and its memory a few
# MB; the cursor commits with each chunk, so an interruption loses at most this many cases' work.
CHUNK = 5000
# Chunks written at once on PostgreSQL, each in its own transaction, committed in order: while one waits for
# the database, the job's Python assesses and encodes the next (with one, it waited on each chunk's writes).
WRITES_IN_FLIGHT = 2
READS_AHEAD = 2
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


def covered(region_code: str, case_region: str) -> bool:
    """A parameter for ``region_code`` applies to cases in it: a county, a city's counties, a province's ...

    The same chain ``Policy.lookup`` walks, so the job examines exactly the cases whose figures it may change.
    """
    return region_code in rules.region_chain(case_region)


def job_id_of(region_code: str, effective_from: date) -> str:
    return f"{region_code}:{effective_from.isoformat()}"


async def recalculate(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, region_code: str, effective_from: date, *,
    chunk: int = CHUNK, max_cases: int | None = None,
) -> JobResult:  # fmt: skip
    lock = _running.setdefault(sessions, asyncio.Lock())
    async with lock:
        return await _recalculate(sessions, outbox, region_code, effective_from, chunk=chunk, max_cases=max_cases)


_STATUS, _HOUSEHOLD = CaseRow._fields.index("status"), CaseRow._fields.index("household_id")


async def _recalculate(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, region_code: str, effective_from: date, *,
    chunk: int, max_cases: int | None,
) -> JobResult:  # fmt: skip
    job_id = job_id_of(region_code, effective_from)
    async with sessions() as session:
        job = await session.get(RecalculationJob, job_id)
        if job is None:
            job = RecalculationJob(id=job_id, region_code=region_code, effective_from=effective_from)
        elif job.finished_at is not None:
            job.cursor, job.finished_at = "", None  # a re-run goes through again; unchanged amounts stay unchanged
        session.add(job)
        await session.commit()
        progress = Progress(job_id, job.cursor, job.examined, job.changed)
        policy = await current_policy(session)
        # On PostgreSQL the next chunks are read while this one is assessed and the previous ones written and
        # committed (a connection each, disjoint cases): the job's Python and the database work side by side.
        # SQLite has one writer, and a reader that started before a commit cannot write after it: one chunk at
        # a time there.
        overlap = session.get_bind().dialect.name == "postgresql"
    examined = changed = 0
    in_region: dict[str, bool] = {}
    memo: dict[MemoKey, Outcome] = {}
    templates: lifecycle.ChangedTemplates = {}

    def read(cursor: str, size: int, head: asyncio.Future[Head | None]) -> Coroutine[Any, Any, Chunk | None]:
        return read_chunk(sessions(), cursor, size, region_code, effective_from, in_region, head)

    reads = (ReadAhead if overlap else ReadInTurn)(read, progress.cursor, chunk, max_cases)
    writes: deque[asyncio.Task[None]] = deque()  # in chunk order; each commits after the one before it
    try:
        while (this := await reads.next()) is not None:
            examined += this.examined
            try:
                if len(memo) > MEMO_LIMIT:
                    memo.clear()
                if len(templates) > MEMO_LIMIT:
                    templates = {}  # a new dict: the chunks being written may still use the old one
                plan = plan_chunk(this.cases, this.facts, policy, effective_from, memo=memo)
                if len(writes) >= WRITES_IN_FLIGHT:
                    await asyncio.shield(writes.popleft())
            except BaseException:
                await this.session.close()
                raise
            changed += len(plan.changes)
            progress = Progress(job_id, this.cursor, progress.examined + this.examined,
                                progress.changed + len(plan.changes))  # fmt: skip
            after = writes[-1] if writes else None
            writes.append(asyncio.create_task(write_chunk(this.session, outbox, plan, progress, templates, after)))
            if not overlap:
                await asyncio.shield(writes.popleft())
        while writes:
            await asyncio.shield(writes.popleft())
    finally:
        await reads.close()  # chunks read and not written are not written
        if writes:  # the chunks in hand commit (or fail, after an earlier one failed) before the job returns
            await asyncio.wait(writes)
            for failed in writes:  # what failed is the first failure, raised already
                failed.cancelled() or failed.exception()
    if max_cases is not None and examined >= max_cases:
        return JobResult(examined, changed, False, job_id)
    async with sessions() as session:
        job = await session.get(RecalculationJob, job_id)
        assert job is not None
        job.finished_at = datetime.now(UTC)
        session.add(job)
        await session.commit()
    return JobResult(examined, changed, True, job_id)


@dataclass(frozen=True)
class Progress:
    """The job's row as a chunk leaves it: written with the chunk's changes, in its transaction."""

    job_id: str
    cursor: str
    examined: int
    changed: int


async def write_chunk(
    session: AsyncSession, outbox: Outbox, plan: ChunkPlan, progress: Progress, templates: lifecycle.ChangedTemplates,
    after: asyncio.Task[None] | None = None,
) -> None:  # fmt: skip
    """Write a chunk's changes, events, back-pay and the job's cursor in one transaction, then commit.
    ``templates``: the job's event templates, shared by its chunks. ``after``: the previous chunk's write, which
    must have committed before this one moves the cursor and commits (if it failed, this one is rolled back)."""
    try:
        await lifecycle.set_amounts(session, outbox, plan.changes, actor=ACTOR, cause=f"policy {progress.job_id}",
                                    templates=templates)  # fmt: skip
        for change in plan.back_pay:
            case_now = await session.get(Case, change.case.id)  # a rise: the difference, for the months paid
            assert case_now is not None
            await lifecycle.pay_back(session, outbox, case_now, change.effective_from)
        if after is not None:
            await asyncio.shield(after)
        jobs = table_of(RecalculationJob)
        await (await session.connection()).execute(
            update(jobs).where(jobs.c.id == progress.job_id)
            .values(cursor=progress.cursor, examined=progress.examined, changed=progress.changed)
        )  # fmt: skip
        await session.commit()
    finally:
        await session.close()


@dataclass
class Chunk:
    """A chunk read and not yet written: its session (its transaction, which the write goes on with), the cursor
    after it, how many open cases it examined, those the standard covers, and their facts."""

    session: AsyncSession
    cursor: str
    examined: int
    cases: list[CaseRow]
    facts: ChunkFacts


Head = tuple[str, int]  # what the start of a chunk's read tells: the cursor after it, the open cases it examined
Read = Callable[[str, int, "asyncio.Future[Head | None]"], Coroutine[Any, Any, "Chunk | None"]]


async def read_chunk(
    session: AsyncSession, cursor: str, size: int, region_code: str, effective_from: date,
    in_region: dict[str, bool], head: asyncio.Future[Head | None],
) -> Chunk | None:  # fmt: skip
    """The next ``size`` cases after ``cursor`` and the facts of those the standard covers, in a transaction of
    ``session`` left open for the chunk's write; None (the session closed) past the last case. ``head`` is
    resolved as soon as the cases are known (None past the last case or on failure), before their facts."""
    try:
        c = table_of(Case).c
        # By primary key alone, filtered here: the only plan is a walk along the key, however many cases are
        # closed (a filter on status let PostgreSQL sort every open case once per chunk). Suspended cases count:
        # reinstated, they are paid at the amount in force.
        rows = (await (await session.connection()).execute(
            core_select(c.id, c.benefit, c.resident_id, c.region_code, c.household_id, c.setting,
                        c.child_category, c.status)
            .where(c.id > cursor).order_by(c.id).limit(size)
        )).all()  # fmt: skip
        if not rows:
            head.set_result(None)
            await session.close()
            return None
        # by position: a Row's attribute lookup costs three times its index (a million rows)
        cases = [CaseRow._make(r) for r in rows if r[_STATUS] in _OPEN_STATUSES and r[_HOUSEHOLD] is not None]
        head.set_result((rows[-1].id, len(cases)))
        for case in cases:
            if case.region_code not in in_region:
                in_region[case.region_code] = covered(region_code, case.region_code)
        mine = [case for case in cases if in_region[case.region_code]]
        chunk_facts = await read_facts(session, mine, effective_from)
        return Chunk(session, rows[-1].id, len(cases), mine, chunk_facts)
    except BaseException:
        if not head.done():
            head.set_result(None)
        await session.close()
        raise


def next_size(chunk: int, limit: int | None, examined: int) -> int:
    """How many cases the next chunk reads: a chunk, or what is left of ``limit`` open cases (0: none)."""
    return chunk if limit is None else max(0, min(chunk, limit - examined))


class ReadInTurn:
    """Chunks read one after the other, each when asked for (SQLite: after the one before it was written)."""

    def __init__(self, read: Read, cursor: str, chunk: int, limit: int | None) -> None:
        self._read, self._cursor, self._chunk, self._limit, self._examined = read, cursor, chunk, limit, 0

    async def next(self) -> Chunk | None:
        if (size := next_size(self._chunk, self._limit, self._examined)) == 0:
            return None
        found = await self._read(self._cursor, size, asyncio.get_running_loop().create_future())
        if found is not None:
            self._cursor, self._examined = found.cursor, self._examined + found.examined
        return found

    async def close(self) -> None:
        return None


class ReadAhead:
    """Chunks read ahead of the job (PostgreSQL), each in a transaction of its own: the next chunk's read begins
    as soon as the cases of the one before it are known, so the reads of several chunks wait on the database at
    once. One after the other, the reads were the job's critical path: each of their round trips queued behind
    the Python of the chunks being assessed and written. At most ``READS_AHEAD`` chunks are read and not taken."""

    def __init__(self, read: Read, cursor: str, chunk: int, limit: int | None) -> None:
        self._read, self._chunk, self._limit = read, chunk, limit
        self._reads: asyncio.Queue[asyncio.Task[Chunk | None] | None] = asyncio.Queue(maxsize=READS_AHEAD)
        self._driver = asyncio.create_task(self._drive(cursor))

    async def _drive(self, cursor: str) -> None:
        loop, examined = asyncio.get_running_loop(), 0
        while (size := next_size(self._chunk, self._limit, examined)) > 0:
            head: asyncio.Future[Head | None] = loop.create_future()
            await self._reads.put(asyncio.create_task(self._read(cursor, size, head)))
            found = await head
            if found is None:
                return  # past the last case (that read returns None) or failed (it raises)
            cursor, examined = found[0], examined + found[1]
        await self._reads.put(None)

    async def next(self) -> Chunk | None:
        read = await self._reads.get()
        return None if read is None else await read

    async def close(self) -> None:
        """Stop reading ahead; chunks read and not taken are closed (their transactions rolled back)."""
        self._driver.cancel()
        await asyncio.wait([self._driver])
        self._driver.cancelled() or self._driver.exception()  # a failed read is raised by its own task
        while not self._reads.empty():
            if (read := self._reads.get_nowait()) is None:
                continue
            read.cancel()
            await asyncio.wait([read])  # read_chunk closes its session if it failed or was cancelled
            if not read.cancelled() and read.exception() is None and (ahead := read.result()) is not None:
                await ahead.session.close()


_OPEN_STATUSES = frozenset(str(status) for status in OPEN)


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
               # temporary assistance's caps and deadlines apply to new grants only, not to monthly benefits
               col(PolicyParameter.name).not_like("temporary\\_%", escape="\\"))
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
    max_cases: int | None = None,
) -> list[JobResult]:  # fmt: skip
    """The scheduled job: run (or resume) the recalculation of every standard that took effect by ``today``."""
    async with sessions() as session:
        due = await due_recalculations(session, today)
    results = []
    for region_code, effective_from in due:
        result = await recalculate(sessions, outbox, region_code, effective_from, chunk=chunk, max_cases=max_cases)
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
    await recalculate_due_standards(service.sessions, service.outbox, today)
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
