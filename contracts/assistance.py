"""Events published by social assistance (社会救助)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from civic.events import PersonEvent
from civic.identity import ResidentId
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


class BenefitApproved(PersonEvent):
    """A benefit was approved for a household; ``resident_id`` is the applicant, ``members`` the whole household.

    Funeral keeps its own projection of these (free basic funeral services for people in difficulty); eldercare
    enrols elderly members in the difficult-elderly subsidy (救助一件事).
    """

    type_name = "civic.assistance.benefit-approved.v1"

    case_id: str
    benefit: str = Field(description="benefit code: dibao, dibao_edge, tekun, temporary, disability_living, ...")
    household_id: str
    members: list[ResidentId]
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    monthly_amount: Yuan
    effective_from: date


class BenefitTerminated(PersonEvent):
    """A benefit ended for a household (``resident_id`` is the applicant) from ``effective_from``."""

    type_name = "civic.assistance.benefit-terminated.v1"

    case_id: str
    benefit: str
    household_id: str
    members: list[ResidentId]
    effective_from: date
    reason: str
