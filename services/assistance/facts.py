"""Household facts read from the tables into the shape ``rules.assess`` takes; batched for the recalculation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of
from civic.identity import birth_date
from civic.money import from_fen
from services.assistance import rules
from services.assistance.bulk import one_of
from services.assistance.models import (
    Household,
    HouseholdAsset,
    HouseholdDeduction,
    HouseholdIncome,
    HouseholdMember,
)


def member_fact(m: HouseholdMember) -> rules.Member:
    return rules.Member(
        resident_id=m.resident_id,
        relation=m.relation,
        born=birth_date(m.resident_id),
        work_capacity=m.work_capacity,
        legal_supporter=m.legal_supporter,
        severe_disability=m.severe_disability,
        serious_illness=m.serious_illness,
        care_level=rules.CareLevel(m.care_level) if m.care_level else None,
        died_on=m.died_on,
    )


async def households(session: AsyncSession, ids: Sequence[str]) -> dict[str, rules.Household]:
    """The facts of many households in five queries (one per table), whatever their number.

    Read as plain rows, not ORM objects: the recalculation reads a million households through here.
    """
    if not ids:
        return {}
    wanted = list(set(ids))
    conn = await session.connection()
    h, m = table_of(Household), table_of(HouseholdMember)
    heads = (await conn.execute(select(h.c.id, h.c.region_code, h.c.area).where(h.c.id.in_(wanted)))).all()
    members: dict[str, list[rules.Member]] = defaultdict(list)
    member_rows = await conn.execute(
        select(m.c.household_id, m.c.resident_id, m.c.relation, m.c.work_capacity, m.c.legal_supporter,
               m.c.severe_disability, m.c.serious_illness, m.c.care_level, m.c.died_on)
        .where(m.c.household_id.in_(wanted)).order_by(m.c.id)
    )  # fmt: skip
    for hid, rid, relation, work, supporter, disabled, ill, care, died in member_rows.all():
        members[hid].append(rules.Member(resident_id=rid, relation=relation, born=birth_date(rid),
                                         work_capacity=work, legal_supporter=supporter, severe_disability=disabled,
                                         serious_illness=ill, care_level=rules.CareLevel(care) if care else None,
                                         died_on=died))  # fmt: skip
    money: dict[str, dict[str, list[rules.Money]]] = defaultdict(lambda: defaultdict(list))
    for name, model, column in (("incomes", HouseholdIncome, "monthly_fen"),
                                ("deductions", HouseholdDeduction, "monthly_fen"),
                                ("assets", HouseholdAsset, "value_fen")):  # fmt: skip
        t = table_of(model)
        rows = await conn.execute(select(t.c.household_id, t.c.resident_id, t.c.kind, t.c[column])
                                  .where(t.c.household_id.in_(wanted)).order_by(t.c.id))  # fmt: skip
        for hid, rid, kind, fen in rows.all():
            money[hid][name].append(rules.Money(rid, kind, from_fen(fen)))
    return {
        hid: rules.Household(
            region_code=region_code,
            area=rules.Area(area),
            members=tuple(members[hid]),
            incomes=tuple(money[hid]["incomes"]),
            deductions=tuple(money[hid]["deductions"]),
            assets=tuple(money[hid]["assets"]),
        )
        for hid, region_code, area in heads
    }


async def household(session: AsyncSession, household_id: str) -> rules.Household:
    return (await households(session, [household_id]))[household_id]


async def means(conn: AsyncConnection, household_ids: Sequence[str], on: date) -> dict[str, rules.Means]:
    """The means (``rules.Means``) on ``on`` of the households, summed by the database: a row or two per household
    instead of a row per member, income, deduction and asset, and no ``Member`` to build. Equal to
    ``rules.means_of(household(...), on)``; a member counts as ``rules.counted_in`` says, and an income or
    deduction counts if its member does.

    By explicit ids, on both sides of a join, so that the plan is index lookups whatever the planner knows (a
    subquery by case id range was planned as full scans on PostgreSQL tables not yet analysed: a full scan per
    chunk is quadratic over a million households).
    """
    if not household_ids:
        return {}
    household_ids = list(set(household_ids))
    h, m = table_of(Household), table_of(HouseholdMember)
    heads = (
        await conn.execute(select(h.c.id, h.c.region_code, h.c.area).where(one_of(conn, h.c.id, household_ids)))
    ).all()
    counted: dict[str, int] = defaultdict(int)
    rows = await conn.execute(select(m.c.household_id, m.c.died_on, func.count())
                              .where(one_of(conn, m.c.household_id, household_ids)).group_by(m.c.household_id, m.c.died_on))  # fmt: skip
    for hid, died_on, number in rows.all():
        if rules.counted_in(died_on, on):
            counted[hid] += number
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # gross, deducted, assets (fen)
    for slot, model in ((0, HouseholdIncome), (1, HouseholdDeduction)):
        t = table_of(model)
        rows = await conn.execute(
            select(t.c.household_id, m.c.died_on, func.sum(t.c.monthly_fen))
            .join(m, (m.c.resident_id == t.c.resident_id) & (m.c.household_id == t.c.household_id))
            .where(one_of(conn, t.c.household_id, household_ids), one_of(conn, m.c.household_id, household_ids))
            .group_by(t.c.household_id, m.c.died_on)
        )  # fmt: skip
        for hid, died_on, fen in rows.all():
            if rules.counted_in(died_on, on):
                sums[hid][slot] += int(fen)
    a = table_of(HouseholdAsset)
    rows = await conn.execute(select(a.c.household_id, func.sum(a.c.value_fen))
                              .where(one_of(conn, a.c.household_id, household_ids)).group_by(a.c.household_id))  # fmt: skip
    for hid, fen in rows.all():
        sums[hid][2] += int(fen)
    zero = [0, 0, 0]
    alike: dict[tuple[str, str, int, int, int, int], rules.Means] = {}  # one Means per distinct figures
    result = {}
    for hid, region_code, area in heads:
        figures = (region_code, area, counted[hid], *sums.get(hid, zero))
        found = alike.get(figures)
        if found is None:
            found = alike[figures] = rules.Means.of_fen(region_code, rules.Area(area), *figures[2:])
        result[hid] = found
    return result


class ClaimSource(Protocol):
    """A case, or a row of one: what the claim of a benefit is made of."""

    @property
    def benefit(self) -> str: ...
    @property
    def resident_id(self) -> str: ...
    @property
    def setting(self) -> str | None: ...
    @property
    def child_category(self) -> str | None: ...


def claim_of(case: ClaimSource) -> rules.Claim:
    kind = rules.BenefitKind(case.benefit)
    return rules.Claim(
        benefit=kind,
        beneficiary=None if kind in rules.HOUSEHOLD_BENEFITS else case.resident_id,
        setting=rules.Setting(case.setting) if case.setting else None,
        child_category=rules.ChildCategory(case.child_category) if case.child_category else None,
    )


def reassess(case: ClaimSource, facts: rules.Household, policy: rules.Policy, on: date) -> rules.Assessment:
    return rules.assess(claim_of(case), facts, policy, on)
