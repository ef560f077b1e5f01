"""Events published by social assistance (社会救助)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from civic.events import PersonEvent
from civic.money import Yuan


class CaseOpened(PersonEvent):
    """A benefit case was opened for a resident (who is the beneficiary)."""

    type_name = "civic.assistance.case-opened.v1"

    case_id: str
    benefit: str = Field(description="benefit code, e.g. dibao (低保)")
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    monthly_amount: Yuan
    paid_from: date


class StoppedBenefit(BaseModel):
    case_id: str
    benefit: str
    monthly_amount: Yuan


class BenefitsOfDeceasedStopped(PersonEvent):
    """Assistance has stopped every benefit the deceased received, from the first day of the next month.

    Published once per death, also when there was nothing to stop (``cases`` empty), so the journey shows
    that assistance has done its part.
    """

    type_name = "civic.assistance.benefits-of-deceased-stopped.v1"

    death_registration_id: str
    stopped_from: date
    cases: list[StoppedBenefit]
