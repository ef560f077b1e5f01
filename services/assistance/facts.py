"""Household facts read from the tables into the shape ``rules.assess`` takes; batched for the recalculation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
    """The facts of many households in five queries (one per table), whatever their number."""
    if not ids:
        return {}
    wanted = list(set(ids))
    heads = (await session.exec(select(Household).where(col(Household.id).in_(wanted)))).all()
    members: dict[str, list[rules.Member]] = defaultdict(list)
    for m in (await session.exec(select(HouseholdMember).where(col(HouseholdMember.household_id).in_(wanted)))).all():
        members[m.household_id].append(member_fact(m))
    money: dict[str, dict[str, list[rules.Money]]] = defaultdict(lambda: defaultdict(list))
    for i in (await session.exec(select(HouseholdIncome).where(col(HouseholdIncome.household_id).in_(wanted)))).all():
        money[i.household_id]["incomes"].append(rules.Money(i.resident_id, i.kind, from_fen(i.monthly_fen)))
    deductions = select(HouseholdDeduction).where(col(HouseholdDeduction.household_id).in_(wanted))
    for d in (await session.exec(deductions)).all():
        money[d.household_id]["deductions"].append(rules.Money(d.resident_id, d.kind, from_fen(d.monthly_fen)))
    for a in (await session.exec(select(HouseholdAsset).where(col(HouseholdAsset.household_id).in_(wanted)))).all():
        money[a.household_id]["assets"].append(rules.Money(a.resident_id, a.kind, from_fen(a.value_fen)))
    return {
        h.id: rules.Household(
            region_code=h.region_code,
            area=rules.Area(h.area),
            members=tuple(members[h.id]),
            incomes=tuple(money[h.id]["incomes"]),
            deductions=tuple(money[h.id]["deductions"]),
            assets=tuple(money[h.id]["assets"]),
        )
        for h in heads
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
