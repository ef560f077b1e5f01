"""The recalculation's chunk loop (``recalc`` runs it for a job, ``recalc_shards`` for each of a large job's
ranges): the open cases of a range of households read a chunk of whole households at a time, reassessed
(``reassessment``) and written with the cursor (the last household done) that makes the range resumable, one
transaction per chunk, committed in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import bulk
from civic.db import table_of
from civic.outbox import Outbox
from services.assistance import lifecycle, rules
from services.assistance.facts import HouseholdRange
from services.assistance.models import OPEN, Case, RecalculationJob, RecalculationShard
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
# Cases per transaction: a chunk's reads and writes are a dozen statements whatever its size (each planned, the
# means query for ~10 ms, and compiled), and its memory a few MB; the cursor commits with each chunk, so an
# interruption loses at most this many cases' work. At a million on PostgreSQL, side by side from one seeded copy:
# 5,000 a chunk 61.2 / 58.7 s, 10,000 54.2 / 56.4 s, 20,000 60.2 / 51.6 s with ~70 MB more at its peak.
CHUNK = 10_000
# Chunks written at once on PostgreSQL, each in its own transaction, committed in order: while one waits for
# the database, the job's Python assesses and encodes the next (with one, it waited on each chunk's writes).
WRITES_IN_FLIGHT = 2
READS_AHEAD = 2

_STATUS, _HOUSEHOLD = CaseRow._fields.index("status"), CaseRow._fields.index("household_id")


def covered(region_code: str, case_region: str) -> bool:
    """A parameter for ``region_code`` applies to cases in it: a county, a city's counties, a province's ...

    The same chain ``Policy.lookup`` walks, so the job examines exactly the cases whose figures it may change.
    """
    return region_code in rules.region_chain(case_region)


@dataclass(frozen=True)
class RangeDone:
    """What working a range of cases did in this run: open cases examined, benefits changed, and whether it reached
    its end (not stopped by ``max_cases``)."""

    examined: int
    changed: int
    finished: bool


async def work_range(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, policy: rules.Policy, region_code: str,
    effective_from: date, start: Progress, through: str, *, chunk: int, max_cases: int | None, overlap: bool,
) -> RangeDone:  # fmt: skip
    """Reassess the open cases after ``start.cursor`` up to ``through`` ("": to the last) that ``region_code``'s
    figures cover, and write their changes chunk by chunk, each with the cursor in ``start``'s row (the job's or
    its shard's). At most ``max_cases`` open cases.

    ``overlap`` (PostgreSQL): the next chunks are read while this one is assessed and the previous ones written
    and committed (a connection each, disjoint cases), so the job's Python and the database work side by side.
    SQLite has one writer, and a reader that started before a commit cannot write after it: one chunk at a time.
    """
    examined = changed = 0
    in_region: dict[str, bool] = {}
    memo: dict[MemoKey, Outcome] = {}
    templates: lifecycle.ChangedTemplates = {}
    progress = start

    def read(cursor: str, size: int, head: asyncio.Future[Head | None]) -> Coroutine[Any, Any, Chunk | None]:
        return read_chunk(sessions(), cursor, through, size, region_code, effective_from, in_region, head)

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
            progress = Progress(progress.job_id, this.cursor, progress.examined + this.examined,
                                progress.changed + len(plan.changes), progress.shard)  # fmt: skip
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
    return RangeDone(examined, changed, finished=max_cases is None or examined < max_cases)


@dataclass(frozen=True)
class Progress:
    """The job's row as a chunk leaves it: written with the chunk's changes, in its transaction."""

    job_id: str
    cursor: str
    examined: int
    changed: int
    shard: int | None = None  # the row that keeps the cursor: the job's, or this shard's of it


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
        if progress.shard is None:
            jobs = table_of(RecalculationJob)
            row = update(jobs).where(jobs.c.id == progress.job_id)
        else:
            shards = table_of(RecalculationShard)
            row = update(shards).where(shards.c.job_id == progress.job_id, shards.c.shard == progress.shard)
        await (await session.connection()).execute(
            row.values(cursor=progress.cursor, examined=progress.examined, changed=progress.changed)
        )
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
    session: AsyncSession, cursor: str, through: str, size: int, region_code: str, effective_from: date,
    in_region: dict[str, bool], head: asyncio.Future[Head | None],
) -> Chunk | None:  # fmt: skip
    """The cases of the next households after ``cursor`` (up to ``through``, if not ""), whole households of at
    most ``size`` cases between them, and the facts of those the standard covers, in a transaction of
    ``session`` left open for the chunk's write; None (the session closed) past the last case. ``head`` is
    resolved as soon as the cases are known (None past the last case or on failure), before their facts."""
    try:
        conn = await session.connection()
        c = table_of(Case).c
        # In household order, by the index on the household alone, filtered here: the facts of a chunk are then
        # a range of households, read by one walk along each table's index instead of a descent per household
        # (the means query took a third of the job). A case with no household has nothing to reassess. Suspended
        # cases count: reinstated, they are paid at the amount in force.
        walk = core_select(c.id, c.benefit, c.resident_id, c.region_code, c.household_id, c.setting,
                           c.child_category, c.status).where(c.household_id > cursor)  # fmt: skip
        if through:
            walk = walk.where(c.household_id <= through)
        rows = await bulk.fetch_all(conn, walk.order_by(c.household_id).limit(size + 1))
        if not rows:
            head.set_result(None)
            await session.close()
            return None
        if len(rows) > size:  # the last household read may go on past the limit: it waits for the next chunk
            beyond = rows[size][_HOUSEHOLD]
            cut = next(i for i, row in enumerate(rows) if row[_HOUSEHOLD] == beyond)
            if cut == 0:  # one household with more cases than a chunk: all of them, in this one
                rows = await bulk.fetch_all(conn, walk.where(c.household_id == beyond))
            else:
                rows = rows[:cut]
        last = rows[-1][_HOUSEHOLD]
        # by position: the driver's records have no attributes, and a row's index is cheap (a million rows)
        cases = [CaseRow._make(r) for r in rows if r[_STATUS] in _OPEN_STATUSES]
        head.set_result((last, len(cases)))
        for case in cases:
            if case.region_code not in in_region:
                in_region[case.region_code] = covered(region_code, case.region_code)
        mine = [case for case in cases if in_region[case.region_code]]
        # The facts of the whole range of households when the standard covers a third of them or more (a city's
        # new standard: a range costs about a third of a list of ids); of the covered ones alone when it covers
        # fewer (a county's, in a city's database).
        households = len({row[_HOUSEHOLD] for row in rows})
        span = HouseholdRange(cursor, last) if len({case.household_id for case in mine}) * 3 >= households else None
        chunk_facts = await read_facts(session, mine, effective_from, span)
        return Chunk(session, last, len(cases), mine, chunk_facts)
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
