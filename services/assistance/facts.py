"""Household facts read from the tables into the shape ``rules.assess`` takes; batched for the recalculation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.db import table_of
from civic.identity import birth_date
from civic.money import from_fen
from services.assistance import rules
from services.assistance.models import (
    Case,
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


def claim_of(case: Case) -> rules.Claim:
    kind = rules.BenefitKind(case.benefit)
    return rules.Claim(
        benefit=kind,
        beneficiary=None if kind in rules.HOUSEHOLD_BENEFITS else case.resident_id,
        setting=rules.Setting(case.setting) if case.setting else None,
        child_category=rules.ChildCategory(case.child_category) if case.child_category else None,
    )


def reassess(case: Case, facts: rules.Household, policy: rules.Policy, on: date) -> rules.Assessment:
    return rules.assess(claim_of(case), facts, policy, on)
