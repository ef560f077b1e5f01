"""Routes: visits (探访) to elders living alone (独居) or in empty nests (空巢), and the list of those overdue. How
often they are visited is policy data by region (``visit_interval_days_<living situation>``); a visit that found
nobody home does not count as one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import func
from sqlmodel import col, select

from civic.app import SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today, china_date_of
from civic.problems import NotFound, Problem
from services.eldercare import rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.community_models import Visit
from services.eldercare.community_schemas import OverdueVisit, VisitCreate, VisitPublic
from services.eldercare.models import Admission, AdmissionStatus, Elder
from services.eldercare.policy_store import current_policy

router = APIRouter(tags=["visits"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
NOBODY_HOME = "not_home"


def visit_public(v: Visit, who: Principal) -> VisitPublic:
    return VisitPublic(id=v.id, resident_id=shown_id(v.resident_id, who), visited_on=v.visited_on, visitor=v.visitor,
                       outcome=v.outcome, note=v.note)  # fmt: skip


@router.post("/elders/{resident_id}/visits", status_code=status.HTTP_201_CREATED)
async def record_visit(
    resident_id: str, body: VisitCreate, session: SessionDep, who: Caseworker, today: Today
) -> VisitPublic:
    elder = await session.get(Elder, resident_id)
    if elder is None:
        raise NotFound("Elder")
    if body.visited_on > today:
        raise Problem(422, "visit-in-future", "A visit is recorded after it took place", field="visited_on")
    visit = Visit(resident_id=resident_id, visited_on=body.visited_on, visitor=body.visitor, outcome=body.outcome,
                  note=body.note, recorded_by=who.subject)  # fmt: skip
    session.add(visit)
    await session.commit()
    return visit_public(visit, who)


@router.get("/elders/{resident_id}/visits")
async def visits_to(resident_id: str, session: SessionDep, who: CurrentUser) -> list[VisitPublic]:
    """Every visit to the elder, latest first."""
    check_may_read(resident_id, who, "Elder")
    if await session.get(Elder, resident_id) is None:
        raise NotFound("Elder")
    rows = await session.exec(select(Visit).where(Visit.resident_id == resident_id)
                              .order_by(col(Visit.visited_on).desc(), col(Visit.recorded_at).desc()))  # fmt: skip
    return [visit_public(v, who) for v in rows.all()]


@router.get("/visits/overdue")
async def overdue_visits(
    region_code: str, session: SessionDep, who: Caseworker, today: Today, on: date | None = None
) -> list[OverdueVisit]:
    """Living elders living alone or in an empty nest, in the region (a county, or a city as 371000), whose next
    visit was due before ``on`` (today by default); the longest overdue first. An elder with a bed in an institution
    is cared for there and is not on the list."""
    on = on or today
    prefix = region_code.rstrip("0") or region_code
    in_care = select(Admission.resident_id).where(Admission.status == AdmissionStatus.RESIDENT)
    elders = (await session.exec(select(Elder).where(
        col(Elder.region_code).startswith(prefix), col(Elder.living_situation).in_(rules.VISITED),
        col(Elder.died_on).is_(None), col(Elder.resident_id).not_in(in_care),
    ))).all()  # fmt: skip
    last_seen = dict(
        (await session.exec(select(Visit.resident_id, func.max(Visit.visited_on))
                            .where(Visit.outcome != NOBODY_HOME, col(Visit.visited_on) <= on)
                            .where(col(Visit.resident_id).in_([e.resident_id for e in elders]))
                            .group_by(col(Visit.resident_id)))).all()
    )  # fmt: skip
    policy = await current_policy(session)
    overdue = []
    for elder in elders:
        interval = int(policy.parameter(rules.visit_interval_parameter(elder.living_situation), elder.region_code, on))
        last = last_seen.get(elder.resident_id)
        due = rules.visit_due(last, china_date_of(elder.registered_at), interval)
        if (late := rules.days_overdue(due, on)) > 0:
            overdue.append(OverdueVisit(
                resident_id=shown_id(elder.resident_id, who), community=elder.community,
                living_situation=elder.living_situation, address=elder.address, last_visited_on=last, due_on=due,
                days_overdue=late,
            ))  # fmt: skip
    return sorted(overdue, key=lambda o: (-o.days_overdue, o.community))
