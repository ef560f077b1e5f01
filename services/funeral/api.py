"""Funeral administration's HTTP routes."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, status
from sqlmodel import select

from civic.app import OutboxDep, SessionDep
from civic.events import current_correlation_id
from civic.problems import Conflict, NotFound, Problem
from contracts.funeral import DeathRegistered
from services.funeral import rules
from services.funeral.models import DeathRegistration, DeathRegistrationCreate, DeathRegistrationPublic

router = APIRouter(prefix="/deaths", tags=["death registration"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_death(
    body: DeathRegistrationCreate, session: SessionDep, outbox: OutboxDep
) -> DeathRegistrationPublic:
    """Register a death. This starts 身后一件事: the other departments act on the published event."""
    try:
        rules.check_date_of_death(body.resident_id, body.date_of_death, date.today())
    except rules.ImpossibleDeathDate as exc:
        raise Problem(422, "impossible-date", "Impossible date of death", str(exc), field="date_of_death") from exc
    existing = (
        await session.exec(
            select(DeathRegistration).where(
                DeathRegistration.resident_id == body.resident_id, DeathRegistration.status == "registered"
            )
        )
    ).first()
    if existing is not None:
        raise Conflict(
            "already-registered", "This death is already registered", f"registration {existing.id}", field="resident_id"
        )
    journey_id = current_correlation_id.get() or str(uuid.uuid4())
    token = current_correlation_id.set(journey_id)
    try:
        reg = DeathRegistration(
            resident_id=body.resident_id,
            date_of_death=body.date_of_death,
            place_of_death=body.place_of_death,
            reporter_name=body.reported_by.name,
            reporter_relation=body.reported_by.relation,
            journey_id=journey_id,
        )
        session.add(reg)
        await outbox.add(
            session,
            DeathRegistered(
                resident_id=reg.resident_id,
                registration_id=reg.id,
                date_of_death=reg.date_of_death,
                registered_at=reg.registered_at,
                reported_by=body.reported_by,
            ),
        )
        await session.commit()
    finally:
        current_correlation_id.reset(token)
    return DeathRegistrationPublic.of(reg)


@router.get("/{registration_id}")
async def read_death_registration(registration_id: str, session: SessionDep) -> DeathRegistrationPublic:
    reg = await session.get(DeathRegistration, registration_id)
    if reg is None:
        raise NotFound("death registration")
    return DeathRegistrationPublic.of(reg)
