"""探访关爱: visits to people in key groups, and who is overdue for this month's visit."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from civic.app import SessionDep
from civic.auth import Principal, caseworker_of
from civic.identity import ResidentId
from civic.problems import Problem
from services.assistance import rules
from services.assistance.models import OPEN, Case, Visit
from services.assistance.schemas import DOMAIN, Strict

router = APIRouter(prefix="/visits", tags=["care visits"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
# Who is visited monthly: people living on 特困 support, covered alone, or children in difficulty.
KEY_GROUPS = (rules.BenefitKind.TEKUN, rules.BenefitKind.DIBAO_SINGLE, rules.BenefitKind.CHILD_WELFARE)


class VisitIn(Strict):
    resident_id: ResidentId
    visited_on: date
    notes: str = Field("", max_length=1000)


class VisitPublic(BaseModel):
    resident_id: str
    visited_on: date
    visitor: str
    notes: str


class OverduePublic(BaseModel):
    case_id: str
    benefit: str
    resident_id: str
    last_visit: date | None


@router.post("", status_code=status.HTTP_201_CREATED)
async def record_visit(body: VisitIn, session: SessionDep, user: Caseworker) -> VisitPublic:
    if body.visited_on > date.today():
        raise Problem(422, "future-visit", "A visit is recorded after it happened", field="visited_on")
    visit = Visit(resident_id=body.resident_id, visited_on=body.visited_on, visitor=user.subject, notes=body.notes)
    session.add(visit)
    await session.commit()
    return VisitPublic(resident_id=visit.resident_id, visited_on=visit.visited_on, visitor=visit.visitor,
                       notes=visit.notes)  # fmt: skip


@router.get("/overdue")
async def overdue_visits(session: SessionDep, user: Caseworker, month: date | None = None) -> list[OverduePublic]:
    """Beneficiaries in key groups with no visit recorded in ``month`` (default: this month)."""
    start = rules.month_start(month or date.today())
    end = rules.first_day_of_next_month(start)
    cases = (await session.exec(select(Case).where(col(Case.status).in_(list(OPEN)),
                                                   col(Case.benefit).in_(list(KEY_GROUPS))))).all()  # fmt: skip
    ids = list({c.resident_id for c in cases})
    last: dict[str, date] = {}
    for v in (await session.exec(select(Visit).where(col(Visit.resident_id).in_(ids), Visit.visited_on < end))).all():
        last[v.resident_id] = max(last.get(v.resident_id, v.visited_on), v.visited_on)
    return [
        OverduePublic(case_id=c.id, benefit=c.benefit, resident_id=c.resident_id, last_visit=last.get(c.resident_id))
        for c in sorted(cases, key=lambda c: c.id)
        if last.get(c.resident_id, date.min) < start
    ]
