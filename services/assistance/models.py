"""Social assistance's tables and API schemas. Amounts are stored as integer fen, shown as yuan."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Field as Column
from sqlmodel import SQLModel

from civic.identity import ResidentId, mask
from civic.money import Yuan, from_fen


class Benefit(StrEnum):
    DIBAO = "dibao"  # 低保 minimum living guarantee


class CaseStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"


class Case(SQLModel, table=True):
    __tablename__ = "benefit_case"

    id: str = Column(default_factory=lambda: str(uuid.uuid4()), primary_key=True)
    benefit: str = Column(max_length=20)
    resident_id: str = Column(index=True, max_length=18)
    region_code: str = Column(max_length=6)
    monthly_amount_fen: int
    paid_from: date
    status: str = Column(default=CaseStatus.ACTIVE, max_length=20)
    stopped_from: date | None = None
    stop_reason: str | None = Column(default=None, max_length=200)
    opened_at: datetime = Column(default_factory=lambda: datetime.now(UTC))


class CaseCreate(BaseModel):
    """Open a benefit case for a beneficiary whose eligibility a caseworker has decided."""

    model_config = ConfigDict(extra="forbid")

    benefit: Benefit = Benefit.DIBAO
    resident_id: ResidentId
    region_code: str = Field(pattern=r"^[0-9]{6}$", description="county-level region code, e.g. 371000 (威海)")
    monthly_amount: Yuan = Field(description='yuan per month, e.g. "690.00"')
    paid_from: date = Field(description="first day of the first month paid")

    @field_validator("paid_from")
    @classmethod
    def first_of_month(cls, value: date) -> date:
        if value.day != 1:
            raise ValueError("benefits are paid by month: give the first day of a month")
        return value

    @field_validator("monthly_amount")
    @classmethod
    def positive(cls, value: Yuan) -> Yuan:
        if value <= 0:
            raise ValueError("must be more than zero")
        return value


class CasePublic(BaseModel):
    id: str
    benefit: str
    resident_id: str = Field(description="masked")
    region_code: str
    monthly_amount: Yuan
    paid_from: date
    status: str
    stopped_from: date | None
    stop_reason: str | None

    @staticmethod
    def of(case: Case) -> CasePublic:
        return CasePublic(
            id=case.id,
            benefit=case.benefit,
            resident_id=mask(case.resident_id),
            region_code=case.region_code,
            monthly_amount=from_fen(case.monthly_amount_fen),
            paid_from=case.paid_from,
            status=case.status,
            stopped_from=case.stopped_from,
            stop_reason=case.stop_reason,
        )
