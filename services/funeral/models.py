"""Funeral administration's tables and API schemas."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Field as Column
from sqlmodel import SQLModel

from civic.identity import ResidentId, mask
from contracts.funeral import Reporter


class DeathRegistration(SQLModel, table=True):
    __tablename__ = "death_registration"

    id: str = Column(default_factory=lambda: str(uuid.uuid4()), primary_key=True)
    resident_id: str = Column(index=True, max_length=18)
    date_of_death: date
    place_of_death: str | None = Column(default=None, max_length=200)
    reporter_name: str = Column(max_length=50)
    reporter_relation: str = Column(max_length=20)
    status: str = Column(default="registered", max_length=20)
    journey_id: str = Column(max_length=64)
    registered_at: datetime = Column(default_factory=lambda: datetime.now(UTC))


class DeathRegistrationCreate(BaseModel):
    """A death as reported by a relative, a hospital or a funeral home."""

    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentId
    date_of_death: date
    place_of_death: str | None = Field(default=None, max_length=200)
    reported_by: Reporter


class DeathRegistrationPublic(BaseModel):
    id: str
    resident_id: str = Field(description="masked: 6 digits, 8 stars, last 4")
    date_of_death: date
    place_of_death: str | None
    reported_by: Reporter
    status: str
    journey_id: str = Field(description="follow 身后一件事 with this id")
    registered_at: datetime

    @staticmethod
    def of(reg: DeathRegistration) -> DeathRegistrationPublic:
        return DeathRegistrationPublic(
            id=reg.id,
            resident_id=mask(reg.resident_id),
            date_of_death=reg.date_of_death,
            place_of_death=reg.place_of_death,
            reported_by=Reporter(name=reg.reporter_name, relation=reg.reporter_relation),
            status=reg.status,
            journey_id=reg.journey_id,
            registered_at=reg.registered_at,
        )
