"""Routes: institutions (养老机构), their beds, admissions and discharges, and nursing-bed ratios.

A bed is claimed with a conditional UPDATE (``occupant IS NULL``), so two admissions racing for the last bed
cannot both win: the database decides, and the loser is told the institution is full.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.db import table_of
from civic.problems import Conflict, NotFound
from contracts.eldercare import AdmittedToInstitution, DischargedFromInstitution
from services.eldercare import grants, rules
from services.eldercare.access import DOMAIN, shown_id
from services.eldercare.models import Admission, AdmissionStatus, Bed, Elder, Institution
from services.eldercare.policy_store import current_policy
from services.eldercare.schemas import (
    AdmissionCreate,
    AdmissionPublic,
    BedRatioPublic,
    Discharge,
    InstitutionCreate,
    InstitutionPublic,
)

router = APIRouter(tags=["institutions"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


async def ratio(session: AsyncSession, beds: list[Bed], region_code: str, today: date) -> BedRatioPublic:
    target = Decimal((await current_policy(session)).parameter("nursing_bed_ratio_target", region_code, today))
    r = rules.nursing_bed_ratio([rules.BedKind(b.kind) for b in beds], target)
    return BedRatioPublic(beds=r.beds, nursing_type_beds=r.nursing_type_beds,
                          nursing_bed_ratio=None if r.ratio is None else str(r.ratio), target=str(target),
                          meets_target=r.meets_target)  # fmt: skip


async def institution_public(session: AsyncSession, inst: Institution, today: date) -> InstitutionPublic:
    beds = list((await session.exec(select(Bed).where(Bed.institution_id == inst.id))).all())
    free = Counter(b.kind for b in beds if b.occupant is None)
    return InstitutionPublic(
        id=inst.id, name=inst.name, region_code=inst.region_code, ownership=inst.ownership,
        star_rating=inst.star_rating, occupied=sum(1 for b in beds if b.occupant is not None),
        free={k.value: free.get(k.value, 0) for k in rules.BedKind}, nursing=await ratio(session, beds, inst.region_code, today),
    )  # fmt: skip


def admission_public(a: Admission, who: Principal) -> AdmissionPublic:
    return AdmissionPublic(
        id=a.id, resident_id=shown_id(a.resident_id, who), institution_id=a.institution_id, bed_id=a.bed_id,
        bed_kind=a.bed_kind, admitted_on=a.admitted_on, concentrated_support=a.concentrated_support, status=a.status,
        discharged_on=a.discharged_on, discharge_reason=a.discharge_reason,
    )  # fmt: skip


@router.post("/institutions", status_code=status.HTTP_201_CREATED)
async def open_institution(
    body: InstitutionCreate, session: SessionDep, who: Caseworker, today: Today
) -> InstitutionPublic:
    inst = Institution(name=body.name, region_code=body.region_code, ownership=body.ownership,
                       star_rating=body.star_rating)  # fmt: skip
    session.add(inst)
    await session.flush()  # the beds refer to it; without relationships the unit of work does not order them
    for kind, count in body.beds.items():
        for n in range(1, count + 1):
            session.add(Bed(institution_id=inst.id, label=f"{kind.value}-{n}", kind=kind))
    await session.commit()
    return await institution_public(session, inst, today)


@router.get("/institutions/{institution_id}")
async def read_institution(
    institution_id: str, session: SessionDep, who: CurrentUser, today: Today
) -> InstitutionPublic:
    inst = await session.get(Institution, institution_id)
    if inst is None:
        raise NotFound("Institution")
    return await institution_public(session, inst, today)


@router.get("/regions/{region_code}/nursing-bed-ratio")
async def regional_nursing_bed_ratio(
    region_code: str, session: SessionDep, who: CurrentUser, today: Today
) -> BedRatioPublic:
    """Over every institution whose region code starts with the given one (a county, or 371000-style city)."""
    prefix = region_code.rstrip("0") or region_code
    beds = await session.exec(select(Bed).join(Institution, col(Institution.id) == col(Bed.institution_id))
                              .where(col(Institution.region_code).startswith(prefix)))  # fmt: skip
    return await ratio(session, list(beds.all()), region_code, today)


@router.post("/institutions/{institution_id}/admissions", status_code=status.HTTP_201_CREATED)
async def admit(
    institution_id: str, body: AdmissionCreate, session: SessionDep, outbox: OutboxDep, who: Caseworker
) -> AdmissionPublic:
    inst = await session.get(Institution, institution_id)
    if inst is None:
        raise NotFound("Institution")
    elder = await session.get(Elder, body.resident_id)
    if elder is None:
        raise NotFound("Elder", "register the elder first")
    if elder.died_on is not None or await grants.is_dead(session, elder.resident_id):
        raise Conflict("deceased", "This person's death is registered", field="resident_id")
    resident = await session.exec(select(Admission).where(Admission.resident_id == body.resident_id,
                                                          Admission.status == AdmissionStatus.RESIDENT))  # fmt: skip
    if resident.first() is not None:
        raise Conflict("already-admitted", "This elder already has a bed", field="resident_id")
    free = await session.exec(select(Bed.id).where(Bed.institution_id == institution_id, Bed.kind == body.bed_kind,
                                                   col(Bed.occupant).is_(None)).order_by(col(Bed.label)))  # fmt: skip
    bed_table = table_of(Bed)
    for bed_id in free.all():
        claimed = await session.exec(update(bed_table).where(bed_table.c.id == bed_id, bed_table.c.occupant.is_(None))
                                     .values(occupant=body.resident_id))  # fmt: skip
        if claimed.rowcount == 1:
            break
    else:
        raise Conflict("institution-full", "No free bed of this kind", f"no free {body.bed_kind.value} bed left",
                       field="bed_kind")  # fmt: skip
    a = Admission(resident_id=body.resident_id, institution_id=institution_id, bed_id=bed_id, bed_kind=body.bed_kind,
                  admitted_on=body.admitted_on, concentrated_support=body.concentrated_support)  # fmt: skip
    session.add(a)
    await outbox.add(session, AdmittedToInstitution(
        resident_id=a.resident_id, admission_id=a.id, institution_id=institution_id, bed_id=bed_id,
        bed_kind=a.bed_kind, admitted_on=a.admitted_on, concentrated_support=a.concentrated_support))  # fmt: skip
    await session.commit()
    return admission_public(a, who)


@router.post("/admissions/{admission_id}/discharge")
async def discharge(
    admission_id: str, body: Discharge, session: SessionDep, outbox: OutboxDep, who: Caseworker
) -> AdmissionPublic:
    a = await session.get(Admission, admission_id)
    if a is None:
        raise NotFound("Admission")
    if a.status != AdmissionStatus.RESIDENT:
        raise Conflict("not-resident", "Not resident any more", field="admission_id")
    a.status, a.discharged_on, a.discharge_reason = AdmissionStatus.DISCHARGED, body.discharged_on, body.reason
    session.add(a)
    bed_table = table_of(Bed)
    await session.exec(update(bed_table).where(bed_table.c.id == a.bed_id).values(occupant=None))
    await outbox.add(session, DischargedFromInstitution(
        resident_id=a.resident_id, admission_id=a.id, institution_id=a.institution_id, bed_id=a.bed_id,
        discharged_on=body.discharged_on, reason=body.reason))  # fmt: skip
    await session.commit()
    return admission_public(a, who)
