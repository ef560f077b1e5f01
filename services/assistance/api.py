"""Social assistance's HTTP routes."""

from __future__ import annotations

from fastapi import APIRouter, status

from civic.app import OutboxDep, SessionDep
from civic.money import to_fen
from civic.problems import NotFound
from contracts.assistance import CaseOpened
from services.assistance.models import Case, CaseCreate, CasePublic

router = APIRouter(prefix="/cases", tags=["benefit cases"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def open_case(body: CaseCreate, session: SessionDep, outbox: OutboxDep) -> CasePublic:
    case = Case(
        benefit=body.benefit,
        resident_id=body.resident_id,
        region_code=body.region_code,
        monthly_amount_fen=to_fen(body.monthly_amount),
        paid_from=body.paid_from,
    )
    session.add(case)
    await outbox.add(
        session,
        CaseOpened(
            resident_id=case.resident_id,
            case_id=case.id,
            benefit=case.benefit,
            region_code=case.region_code,
            monthly_amount=body.monthly_amount,
            paid_from=case.paid_from,
        ),
    )
    await session.commit()
    return CasePublic.of(case)


@router.get("/{case_id}")
async def read_case(case_id: str, session: SessionDep) -> CasePublic:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case")
    return CasePublic.of(case)
