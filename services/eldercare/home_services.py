"""Routes: home and community services an elder is enrolled in — home care beds (家庭养老床位), day care, meal
assistance (助餐) and visiting programmes — started and ended with the events other departments read. A death
cancels them and its revocation resumes them (``handlers.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.problems import Conflict, NotFound, Problem
from contracts.eldercare import HomeServiceEnded, HomeServiceStarted
from services.eldercare import grants, rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.models import Assessment, Elder, HomeService, HomeServiceKind, ServiceStatus
from services.eldercare.policy_store import current_policy
from services.eldercare.schemas import HomeServiceCreate, HomeServiceEnd, HomeServicePublic

router = APIRouter(tags=["home and community services"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def service_public(s: HomeService, who: Principal) -> HomeServicePublic:
    return HomeServicePublic(id=s.id, resident_id=shown_id(s.resident_id, who), service=s.kind, provider=s.provider,
                             started_on=s.started_on, ended_on=s.ended_on, status=s.status)  # fmt: skip


async def check_home_care_bed(session: AsyncSession, elder: Elder, body: HomeServiceCreate) -> None:
    latest = (await session.exec(select(Assessment).where(
        Assessment.resident_id == elder.resident_id, col(Assessment.assessed_on) <= body.started_on,
    ).order_by(col(Assessment.assessed_on).desc(), col(Assessment.recorded_at).desc()))).first()  # fmt: skip
    policy = await current_policy(session)
    min_level = policy.parameter("home_care_bed_min_level", elder.region_code, body.started_on)
    try:
        rules.check_home_care_bed(latest.level if latest else None, latest.assessed_on if latest else None,
                                  latest.reassess_by if latest else None, min_level, body.started_on)  # fmt: skip
    except rules.NotEligible as exc:
        raise Problem(422, "home-care-bed-not-eligible", "Not eligible for a home care bed", str(exc),
                      field="service") from exc  # fmt: skip


@router.post("/home-services", status_code=status.HTTP_201_CREATED)
async def start_home_service(
    body: HomeServiceCreate, session: SessionDep, outbox: OutboxDep, who: Caseworker
) -> HomeServicePublic:
    """Enrol an elder in a service (one running service of each kind per elder); a home care bed needs an
    assessment in force finding enough impairment (policy by region)."""
    elder = await session.get(Elder, body.resident_id)
    if elder is None:
        raise NotFound("Elder", "register the elder first")
    if elder.died_on is not None or await grants.is_dead(session, elder.resident_id):
        raise Conflict("deceased", "This person's death is registered", field="resident_id")
    running = await session.exec(select(HomeService).where(HomeService.resident_id == body.resident_id,
                                                           HomeService.kind == body.service,
                                                           HomeService.status == ServiceStatus.ACTIVE))  # fmt: skip
    if running.first() is not None:
        raise Conflict("already-enrolled", "The elder already has this service", field="service")
    if body.service == HomeServiceKind.HOME_CARE_BED:
        await check_home_care_bed(session, elder, body)
    service = HomeService(resident_id=body.resident_id, kind=body.service, provider=body.provider,
                          started_on=body.started_on)  # fmt: skip
    session.add(service)
    await outbox.add(session, HomeServiceStarted(resident_id=service.resident_id, service_id=service.id,
                                                 service=service.kind, started_on=service.started_on))  # fmt: skip
    try:
        await session.commit()
    except IntegrityError as exc:  # another enrolment of the same kind committed first
        await session.rollback()
        raise Conflict("already-enrolled", "The elder already has this service", field="service") from exc
    return service_public(service, who)


@router.post("/home-services/{service_id}/end")
async def end_home_service(
    service_id: str, body: HomeServiceEnd, session: SessionDep, outbox: OutboxDep, who: Caseworker
) -> HomeServicePublic:
    service = await session.get(HomeService, service_id)
    if service is None:
        raise NotFound("Home service")
    if service.status != ServiceStatus.ACTIVE:
        raise Conflict("not-running", "The service is not running", f"it is {service.status}", field="service_id")
    if body.ended_on < service.started_on:
        raise Problem(422, "ends-before-start", "A service cannot end before it started", field="ended_on")
    service.status, service.ended_on = ServiceStatus.ENDED, body.ended_on
    session.add(service)
    await outbox.add(session, HomeServiceEnded(resident_id=service.resident_id, service_id=service.id,
                                               service=service.kind, ended_on=body.ended_on, reason=body.reason))  # fmt: skip
    await session.commit()
    return service_public(service, who)


@router.get("/elders/{resident_id}/home-services")
async def home_services_of(resident_id: str, session: SessionDep, who: CurrentUser) -> list[HomeServicePublic]:
    check_may_read(resident_id, who, "Elder")
    if await session.get(Elder, resident_id) is None:
        raise NotFound("Elder")
    rows = await session.exec(select(HomeService).where(HomeService.resident_id == resident_id)
                              .order_by(col(HomeService.started_on)))  # fmt: skip
    return [service_public(s, who) for s in rows.all()]
