"""The figures the seed reports count: deaths, cremation rate, benefit recipients and amounts, eco-burials.

Revoked deaths and cancelled grants are not counted. Deaths are counted by date of death, and the cremation rate
is the share of those deaths cremated; benefits by the day granted, eco-burials by the day of burial.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func
from sqlmodel import col, select

from civic.app import SessionDep
from civic.clock import CHINA as ZONE
from civic.money import from_fen
from civic.problems import Problem
from services.funeral import rules
from services.funeral.access import Staff
from services.funeral.models import (
    Cremation,
    DeathRegistration,
    EcoBurialSubsidy,
    FuneralBenefit,
    Plot,
    PlotAssignment,
)
from services.funeral.schemas import AmountByKind, RegionCode, StatisticsPublic

router = APIRouter(tags=["statistics"])


def region_prefix(region_code: str) -> str:
    """A province (xx0000) or city (xxxx00) code counts every county under it."""
    if region_code.endswith("0000"):
        return region_code[:2]
    if region_code.endswith("00"):
        return region_code[:4]
    return region_code


def _by_kind(rows: list[Any]) -> list[AmountByKind]:
    return [AmountByKind(kind=k, count=int(n), amount=from_fen(int(s or 0))) for k, n, s in rows]


@router.get("/statistics")
async def statistics(
    session: SessionDep,
    user: Staff,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to", description="inclusive")],
    region_code: RegionCode | None = None,
) -> StatisticsPublic:
    if date_to < date_from:
        raise Problem(422, "empty-period", "The period ends before it starts", field="to")
    prefix = region_prefix(region_code) + "%" if region_code else "%"
    deaths_q = select(DeathRegistration.id).where(
        DeathRegistration.status == "registered",
        col(DeathRegistration.date_of_death).between(date_from, date_to),
        col(DeathRegistration.region_code).like(prefix),
    )
    deaths = (await session.exec(select(func.count()).select_from(deaths_q.subquery()))).one()
    cremations = (
        await session.exec(
            select(func.count()).select_from(Cremation).where(col(Cremation.registration_id).in_(deaths_q))
        )
    ).one()
    benefits = (
        await session.exec(
            select(FuneralBenefit.kind, func.count(), func.sum(FuneralBenefit.amount_fen))
            .where(FuneralBenefit.status == "granted", col(FuneralBenefit.granted_on).between(date_from, date_to))
            .where(col(FuneralBenefit.region_code).like(prefix))
            .group_by(col(FuneralBenefit.kind))
            .order_by(col(FuneralBenefit.kind))
        )
    ).all()
    subsidies = (
        await session.exec(
            select(EcoBurialSubsidy.burial_type, func.count(), func.sum(EcoBurialSubsidy.amount_fen))
            .where(EcoBurialSubsidy.status == "granted")
            .where(col(EcoBurialSubsidy.burial_date).between(date_from, date_to))
            .where(col(EcoBurialSubsidy.region_code).like(prefix))
            .group_by(col(EcoBurialSubsidy.burial_type))
            .order_by(col(EcoBurialSubsidy.burial_type))
        )
    ).all()
    start = datetime.combine(date_from, time(0), ZONE).astimezone(UTC)
    end = datetime.combine(date_to + timedelta(days=1), time(0), ZONE).astimezone(UTC)
    graves = (
        await session.exec(
            select(Plot.plot_type)
            .join(PlotAssignment, col(PlotAssignment.plot_id) == col(Plot.id))
            .where(PlotAssignment.status == "assigned")
            .where(col(PlotAssignment.assigned_at) >= start, col(PlotAssignment.assigned_at) < end)
            .where(col(PlotAssignment.registration_id).in_(
                select(DeathRegistration.id).where(col(DeathRegistration.region_code).like(prefix))))
        )
    ).all()  # fmt: skip
    by_benefit, by_burial = _by_kind(list(benefits)), _by_kind(list(subsidies))
    return StatisticsPublic(
        region_code=region_code,
        date_from=date_from,
        date_to=date_to,
        deaths=int(deaths),
        cremations=int(cremations),
        cremation_rate_percent=rules.cremation_rate(int(cremations), int(deaths)),
        funeral_benefit_recipients=sum(b.count for b in by_benefit),
        funeral_benefit_amount=sum((b.amount for b in by_benefit), from_fen(0)),
        funeral_benefits=by_benefit,
        eco_burials=sum(s.count for s in by_burial),
        eco_burial_subsidy_amount=sum((s.amount for s in by_burial), from_fen(0)),
        eco_burial_subsidies=by_burial,
        plots_assigned=len(graves),
        eco_graves=sum(1 for t in graves if rules.is_eco_plot(t)),
    )
