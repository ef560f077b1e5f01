"""Reassessing a chunk of open benefits under new figures, for the recalculation job (``recalc``): the facts the
rules need, read for the whole chunk in a few queries (``read_facts``), and the plan of its changes, found without
I/O (``plan_chunk``): new amounts from the effective date, cuts that start after the months already paid, rises
that reach paid months (back-pay).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic import bulk
from civic.db import table_of
from civic.money import to_fen
from services.assistance import facts, lifecycle, rules
from services.assistance.models import BenefitAmount, Payment


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


_HOUSEHOLD_KINDS = frozenset(str(kind) for kind in rules.HOUSEHOLD_BENEFITS)


@dataclass
class ChunkPlan:
    """What a chunk changes, found by its reads: the amounts, and the cases whose rise reaches paid months."""

    changes: list[lifecycle.AmountChange]
    back_pay: list[lifecycle.AmountChange]


class Standing(NamedTuple):
    """Where a case's schedule and payments stand on the effective date."""

    in_force: int | None  # the amount of the entry in force on the date (fen)
    in_force_from: date | None  # that entry's date
    last_paid: date | None  # the latest month paid

    @classmethod
    def of(cls, entries: list[tuple[date, int]], last_paid: date | None, on: date) -> Standing:
        """From the case's schedule entries in date order."""
        in_force = rules.entry_in_force(entries, on)
        if in_force is None:
            return cls(None, None, last_paid)
        return cls(in_force[1], in_force[0], last_paid)


@dataclass
class ChunkFacts:
    """What the rules and the plan need of a chunk's cases, read in its transaction."""

    means: dict[str, facts.MeansFigures]  # by household: region, area, figures
    households: dict[str, rules.Household]  # personal benefits' households, by id
    schedules: dict[str, list[tuple[date, int]]]  # by case, in date order
    last_paid: dict[str, date]  # by case


async def read_facts(
    session: AsyncSession, cases: list[CaseRow], effective_from: date, span: facts.HouseholdRange | None = None
) -> ChunkFacts:
    """One query reads the households' means (``facts.means_figures``: of every household in ``span`` if given,
    a range that holds the cases' households, else of the cases' own), two more the schedules and months paid of
    the cases, and the households of personal benefits come whole (``facts.households``)."""
    if not cases:
        return ChunkFacts({}, {}, {}, {})
    conn = await session.connection()
    await bulk.walk_indexes(conn)
    a, p = table_of(BenefitAmount), table_of(Payment)
    ids = bulk.list_param(conn, [case.id for case in cases])
    # A walk along each table's (case, date) key for the chunk's cases, one descent each: the cases of a range
    # of households have ids all over the table.
    schedules: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for case_id, entry_from, amount_fen in await bulk.fetch_all(conn,
        core_select(a.c.case_id, a.c.effective_from, a.c.amount_fen)
        .where(bulk.one_of(conn, a.c.case_id, ids)).order_by(a.c.case_id, a.c.effective_from)
    ):  # fmt: skip
        schedules[case_id].append((entry_from, amount_fen))
    last_paid: dict[str, date] = {case_id: month for case_id, month in await bulk.fetch_all(conn,
        core_select(p.c.case_id, func.max(p.c.month)).where(bulk.one_of(conn, p.c.case_id, ids)).group_by(p.c.case_id)
    )}  # fmt: skip
    means = await facts.means_figures(conn, span or [case.household_id for case in cases], effective_from)
    others = [case.household_id for case in cases if case.benefit not in _HOUSEHOLD_KINDS]
    households = await facts.households(session, others) if others else {}
    return ChunkFacts(means, households, schedules, last_paid)


def plan_chunk(
    cases: list[CaseRow], read: ChunkFacts, policy: rules.Policy, effective_from: date, *,
    memo: dict[MemoKey, Outcome],
) -> ChunkPlan:  # fmt: skip
    """Reassess a chunk of cases from their facts (no I/O): the rules assess each distinct means once."""
    schedules, last_paid = read.schedules, read.last_paid
    found: list[tuple[CaseRow, Standing, int, str]] = []
    for case in cases:
        means = read.means.get(case.household_id)
        if means is None:
            continue  # no such household: a case for a caseworker
        if case.benefit in _HOUSEHOLD_KINDS:
            key: MemoKey = (case.benefit, *means)
            if key in memo:
                outcome = memo[key]
            else:
                outcome = memo[key] = outcome_of(case, facts.means_from(*means), policy, effective_from)
        else:
            household = read.households.get(case.household_id)
            if household is None:
                continue
            outcome = outcome_of(case, household, policy, effective_from)
        if outcome is not None:
            where = Standing.of(schedules.get(case.id, []), last_paid.get(case.id), effective_from)
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
        if case.id in late_cuts:
            entries = schedules.get(case.id, [])
            start = rules.first_day_of_next_month(where.last_paid or effective_from)  # never back into a paid month
            previous = rules.amount_in_force(entries, start)
            if previous == amount:
                continue
            entry_exists = any(e == start for e, _ in entries)
        change = lifecycle.AmountChange(case=case, effective_from=start, amount_fen=amount, previous=previous,
                                        entry_exists=entry_exists, reason=reason)  # fmt: skip
        changes.append(change)
        if where.last_paid is not None and where.last_paid >= start:
            back_pay.append(change)  # a rise reaching months already paid
    return ChunkPlan(changes, back_pay)


def outcome_of(case: CaseRow, facts_of: rules.Means | rules.Household, policy: rules.Policy, on: date) -> Outcome:
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
