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
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from fastapi import FastAPI
from sqlalchemy import func, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import bulk
from civic.clock import clock_of
from civic.db import table_of
from civic.money import to_fen
from civic.outbox import Outbox
from civic.schedule import periodic
from services.assistance import facts, lifecycle, rules
from services.assistance.models import OPEN, BenefitAmount, Case, Household, Payment, RecalculationJob
from services.assistance.policy_store import PolicyParameter, current_policy

ACTOR = "recalculation job"
# Cases per transaction: a chunk's reads and writes are a dozen statements whatever its size, and its memory a few
# MB; the cursor commits with each chunk, so an interruption loses at most this many cases' work.
CHUNK = 5000
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


class CaseRow(NamedTuple):
    """The columns of a case the job reads (plain rows: a million ORM objects cost more than the rest)."""

    id: str
    benefit: str
    resident_id: str
    region_code: str
    household_id: str
    setting: str | None
    child_category: str | None
    status: str


# Assessments of household benefits by their means (the policy and the date are the job's): households with the
# same means, common in a city's records, are assessed once. Emptied when this large, so memory stays flat.
MEMO_LIMIT = 100_000
Outcome = tuple[int, str] | None  # (amount in fen, the reason's last line) if eligible and assessable
# The memo's key: the benefit and the means' figures as read (region, area, members counted, gross income,
# deductions and assets in fen). Plain strings and integers, not a ``rules.Means``: the collector stops tracking
# tuples and dicts of those, so a memo of 100,000 entries is not walked by every full collection (those walks
# were a third of the job's CPU), and a hit builds nothing.
MemoKey = tuple[str, str, str, int, int, int, int]


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
        # On PostgreSQL a chunk is read and assessed while the previous one is written and committed (two
        # connections, disjoint cases). SQLite has one writer, and a reader that started before a commit cannot
        # write after it: one chunk at a time there.
        overlap = session.get_bind().dialect.name == "postgresql"
    examined = changed = 0
    open_statuses = {str(status) for status in OPEN}
    in_region: dict[str, bool] = {}
    memo: dict[MemoKey, Outcome] = {}
    templates: lifecycle.ChangedTemplates = {}
    writing: asyncio.Task[None] | None = None
    try:
        while max_cases is None or examined < max_cases:
            size = chunk if max_cases is None else min(chunk, max_cases - examined)
            session = sessions()
            try:
                c = table_of(Case).c
                # By primary key alone, filtered here: the only plan is a walk along the key, however many cases
                # are closed (a filter on status let PostgreSQL sort every open case once per chunk). Suspended
                # cases count: reinstated, they are paid at the amount in force.
                rows = (await (await session.connection()).execute(
                    core_select(c.id, c.benefit, c.resident_id, c.region_code, c.household_id, c.setting,
                                c.child_category, c.status)
                    .where(c.id > progress.cursor).order_by(c.id).limit(size)
                )).all()  # fmt: skip
                if not rows:
                    await session.close()
                    break
                cases = [CaseRow._make(r) for r in rows if r.status in open_statuses and r.household_id is not None]
                for case in cases:
                    if case.region_code not in in_region:
                        in_region[case.region_code] = covered(region_code, case.region_code)
                if len(memo) > MEMO_LIMIT:
                    memo.clear()
                if len(templates) > MEMO_LIMIT:
                    templates = {}  # a new dict: the chunk being written may still use the old one
                mine = [case for case in cases if in_region[case.region_code]]
                plan = await plan_chunk(session, mine, policy, effective_from, memo=memo)
            except BaseException:
                await session.close()
                raise
            examined += len(cases)
            changed += len(plan.changes)
            progress = Progress(job_id, rows[-1].id, progress.examined + len(cases),
                                progress.changed + len(plan.changes))  # fmt: skip
            if writing is not None:
                try:
                    await asyncio.shield(writing)  # chunks commit in order: the cursor moves only past done work
                except BaseException:
                    await session.close()
                    raise
            writing = asyncio.create_task(write_chunk(session, outbox, plan, progress, templates))
            if not overlap:
                await asyncio.shield(writing)
    finally:
        if writing is not None:
            await asyncio.shield(writing)  # the chunk in hand commits (or fails) before the job returns
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


@dataclass
class ChunkPlan:
    """What a chunk changes, found by its reads: the amounts, and the cases whose rise reaches paid months."""

    changes: list[lifecycle.AmountChange]
    back_pay: list[lifecycle.AmountChange]


async def write_chunk(
    session: AsyncSession, outbox: Outbox, plan: ChunkPlan, progress: Progress, templates: lifecycle.ChangedTemplates
) -> None:
    """Write a chunk's changes, events, back-pay and the job's cursor in one transaction, then commit.
    ``templates``: the job's event templates, shared by its chunks."""
    try:
        await lifecycle.set_amounts(session, outbox, plan.changes, actor=ACTOR, cause=f"policy {progress.job_id}",
                                    templates=templates)  # fmt: skip
        for change in plan.back_pay:
            case_now = await session.get(Case, change.case.id)  # a rise: the difference, for the months paid
            assert case_now is not None
            await lifecycle.pay_back(session, outbox, case_now, change.effective_from)
        jobs = table_of(RecalculationJob)
        await (await session.connection()).execute(
            update(jobs).where(jobs.c.id == progress.job_id)
            .values(cursor=progress.cursor, examined=progress.examined, changed=progress.changed)
        )  # fmt: skip
        await session.commit()
    finally:
        await session.close()


class Standing(NamedTuple):
    """Where a case's schedule and payments stand on the effective date."""

    in_force: int | None  # the amount of the entry in force on the date (fen)
    in_force_from: date | None  # that entry's date
    last_entry: date | None  # the latest entry's date, whether before or after
    last_paid: date | None  # the latest month paid

    @classmethod
    def of(cls, entries: list[tuple[date, int]], last_paid: date | None, on: date) -> Standing:
        """From the case's schedule entries in date order."""
        in_force: tuple[date, int] | None = None
        for entry in entries:
            if entry[0] > on:
                break
            in_force = entry
        if in_force is None:
            return cls(None, None, entries[-1][0] if entries else None, last_paid)
        return cls(in_force[1], in_force[0], entries[-1][0], last_paid)


async def plan_chunk(
    session: AsyncSession, cases: list[CaseRow], policy: rules.Policy, effective_from: date, *,
    memo: dict[MemoKey, Outcome],
) -> ChunkPlan:  # fmt: skip
    """Reassess a chunk of cases: one query reads every case's means, two more the schedules and months paid of
    the chunk's range of cases; then the rules assess each distinct means once."""
    if not cases:
        return ChunkPlan([], [])
    conn = await session.connection()
    c, h, a, p = table_of(Case), table_of(Household), table_of(BenefitAmount), table_of(Payment)
    household_kinds = {str(k) for k in rules.HOUSEHOLD_BENEFITS}
    ids = [case.id for case in cases]
    first, last = ids[0], ids[-1]
    # The schedules and the months paid of every case in the chunk's range of ids, closed ones too: one walk
    # along each table's (case, date) key, where a subquery per case cost a descent of the index each.
    schedules: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for case_id, entry_from, amount_fen in (await conn.execute(
        core_select(a.c.case_id, a.c.effective_from, a.c.amount_fen)
        .where(a.c.case_id.between(first, last)).order_by(a.c.case_id, a.c.effective_from)
    )).all():  # fmt: skip
        schedules[case_id].append((entry_from, amount_fen))
    last_paid: dict[str, date] = {case_id: month for case_id, month in (await conn.execute(
        core_select(p.c.case_id, func.max(p.c.month)).where(p.c.case_id.between(first, last)).group_by(p.c.case_id)
    )).all()}  # fmt: skip
    if conn.dialect.name == "postgresql":
        # Its cost estimate (a subquery per figure and row) sends the query to the JIT compiler: 40 ms of
        # compiling for a query that runs in 100 without it.
        await conn.exec_driver_sql("SET LOCAL jit = off")
    rows = await conn.execute(
        core_select(c.c.id, h.c.region_code, h.c.area, *facts.means_columns(h.c.id, effective_from))
        .select_from(c.join(h, h.c.id == c.c.household_id))
        # the range as well as the ids: a walk along the key, not a scan of every case for the ids
        .where(c.c.id.between(first, last), bulk.one_of(conn, c.c.id, ids))
    )  # fmt: skip
    read = {row[0]: row[1:] for row in rows.all()}
    others = [case.household_id for case in cases if case.benefit not in household_kinds]
    households = await facts.households(session, others) if others else {}
    found: list[tuple[CaseRow, Standing, int, str]] = []
    for case in cases:
        means = read.get(case.id)
        if means is None:
            continue  # no such household: a case for a caseworker
        if case.benefit in household_kinds:
            key: MemoKey = (case.benefit, *means)
            if key in memo:
                outcome = memo[key]
            else:
                outcome = memo[key] = _outcome(case, facts.means_from(*means), policy, effective_from)
        else:
            household = households.get(case.household_id)
            if household is None:
                continue
            outcome = _outcome(case, household, policy, effective_from)
        if outcome is not None:
            where = Standing.of(schedules[case.id], last_paid.get(case.id), effective_from)
            if outcome[0] != where.in_force:
                found.append((case, where, *outcome))
    # A cut found after a month from the date was paid starts after the months paid (rare: the job ran late).
    late_cuts = {case.id for case, where, amount, _ in found
                 if where.last_paid is not None and where.last_paid >= effective_from and (where.in_force or 0) > amount}  # fmt: skip
    changes: list[lifecycle.AmountChange] = []
    back_pay: list[lifecycle.AmountChange] = []
    for case, where, amount, reason in found:
        start, previous = effective_from, where.in_force
        entry_exists = where.in_force_from == effective_from
        latest = where.last_entry is None or where.last_entry <= effective_from
        if case.id in late_cuts:
            entries = schedules[case.id]
            start = rules.first_day_of_next_month(where.last_paid or effective_from)  # never back into a paid month
            previous = rules.amount_in_force(entries, start)
            if previous == amount:
                continue
            entry_exists, latest = any(e == start for e, _ in entries), all(e <= start for e, _ in entries)
        change = lifecycle.AmountChange(
            case=lifecycle.CaseRef(case.id, case.resident_id, case.benefit, case.household_id),
            effective_from=start, amount_fen=amount, previous=previous, entry_exists=entry_exists, latest=latest,
            reason=reason,
        )  # fmt: skip
        changes.append(change)
        if where.last_paid is not None and where.last_paid >= start:
            back_pay.append(change)  # a rise reaching months already paid
    return ChunkPlan(changes, back_pay)


def _outcome(case: CaseRow, facts_of: rules.Means | rules.Household, policy: rules.Policy, on: date) -> Outcome:
    try:
        if isinstance(facts_of, rules.Means):
            result = rules.assess_household(facts.claim_of(case), facts_of, policy, on)
        else:
            result = facts.reassess(case, facts_of, policy, on)
    except (rules.Refused, rules.MissingPolicy):
        return None  # a case the new figures cannot assess is left for a caseworker's review
    if not result.eligible:
        return None  # no longer eligible: a review with 渐退, not a silent stop by a batch job
    return to_fen(result.monthly_amount), f"new standard from {on}: {result.reasons[-1]}"


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
