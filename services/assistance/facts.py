"""Household facts read from the tables into the shape ``rules.assess`` takes; batched for the recalculation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Protocol

from sqlalchemy import BigInteger, ColumnElement, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.bulk import one_of
from civic.db import table_of
from civic.identity import birth_date
from civic.money import from_fen
from services.assistance import rules
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


def means_columns(household_id: ColumnElement[str], on: date) -> list[ColumnElement[int]]:
    """The figures of a household's means on ``on`` summed by the database, one scalar subquery each, for the
    household whose id is ``household_id`` (a column of the outer query): members counted, gross income and
    deductions of the members counted (fen), assets (fen), all integers (PostgreSQL sums bigints as numeric). A
    member counts as ``rules.counted_in`` says, and an income or deduction counts if its member does.

    Correlated subqueries, not joins grouped by household: one row per household, and each figure an index
    lookup whatever the planner knows (a grouped join over a chunk's households was planned as full scans on
    PostgreSQL tables not yet analysed: a full scan per chunk is quadratic over a million households).
    """
    m = table_of(HouseholdMember)
    counts = or_(m.c.died_on.is_(None), m.c.died_on >= rules.first_death_still_counted(on))
    counted = select(func.count()).where(m.c.household_id == household_id, counts)
    sums = []
    for model in (HouseholdIncome, HouseholdDeduction):
        t = table_of(model)
        sums.append(
            select(cast(func.coalesce(func.sum(t.c.monthly_fen), 0), BigInteger))
            .join(m, (m.c.resident_id == t.c.resident_id) & (m.c.household_id == t.c.household_id))
            .where(t.c.household_id == household_id, counts)
        )
    a = table_of(HouseholdAsset)
    assets = select(cast(func.coalesce(func.sum(a.c.value_fen), 0), BigInteger)).where(a.c.household_id == household_id)
    return [q.scalar_subquery() for q in (counted, *sums, assets)]


def means_from(region_code: str, area: str, counted: int, gross: int, deducted: int, assets: int) -> rules.Means:
    """``rules.Means`` from a household's region and area and the figures of ``means_columns``."""
    return rules.Means.of_fen(region_code, rules.Area(area), counted, gross, deducted, assets)


async def means(conn: AsyncConnection, household_ids: Sequence[str], on: date) -> dict[str, rules.Means]:
    """The means (``rules.Means``) on ``on`` of the households, summed by the database (``means_columns``): a row
    per household instead of a row per member, income, deduction and asset, and no ``Member`` to build. Equal to
    ``rules.means_of(household(...), on)``."""
    if not household_ids:
        return {}
    h = table_of(Household)
    rows = await conn.execute(
        select(h.c.id, h.c.region_code, h.c.area, *means_columns(h.c.id, on))
        .where(one_of(conn, h.c.id, list(set(household_ids))))
    )  # fmt: skip
    return {hid: means_from(*figures) for hid, *figures in rows.all()}


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
