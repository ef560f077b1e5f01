"""Events published by social assistance (社会救助)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from civic.events import Event, PersonEvent
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


class ApplicationSubmitted(PersonEvent):
    """A household applied for a benefit (``resident_id`` is the applicant of the household)."""

    type_name = "civic.assistance.application-submitted.v1"

    application_id: str
    household_id: str
    benefit: str


class ApplicationRejected(PersonEvent):
    """A caseworker rejected an application, with the reason the citizen is shown."""

    type_name = "civic.assistance.application-rejected.v1"

    application_id: str
    household_id: str
    benefit: str
    reason: str


class BenefitChanged(PersonEvent):
    """The monthly amount of a benefit changes from ``effective_from`` (recalculation, review, a death ...)."""

    type_name = "civic.assistance.benefit-changed.v1"

    case_id: str
    benefit: str
    household_id: str | None
    previous_amount: Yuan
    monthly_amount: Yuan
    effective_from: date
    reason: str


class BenefitSuspended(PersonEvent):
    """Payment of a benefit is suspended from ``effective_from`` (the case stays open)."""

    type_name = "civic.assistance.benefit-suspended.v1"

    case_id: str
    benefit: str
    household_id: str | None
    effective_from: date
    reason: str


class BenefitReinstated(PersonEvent):
    """A suspended or stopped benefit is paid again; the months missed are paid as ``back_pay``.

    Consumers of ``BenefitTerminated`` should also consume this: a benefit stopped by a death registered in error
    comes back this way.
    """

    type_name = "civic.assistance.benefit-reinstated.v1"

    case_id: str
    benefit: str
    household_id: str | None
    members: list[ResidentId]
    monthly_amount: Yuan
    reinstated_from: date
    back_pay: Yuan
    back_pay_months: list[date]
    reason: str


class PaymentIssued(PersonEvent):
    """One month of a benefit was paid (``kind`` regular, or back_pay for a month missed)."""

    type_name = "civic.assistance.payment-issued.v1"

    case_id: str
    benefit: str
    month: date
    kind: str
    amount: Yuan


class HouseholdCompositionChanged(PersonEvent):
    """Someone joined or left a household (``resident_id`` is the applicant; ``members`` the household after)."""

    type_name = "civic.assistance.household-composition-changed.v1"

    household_id: str
    change: str = Field(description="joined | left | died | death revoked")
    member: ResidentId
    members: list[ResidentId]


class BenefitsOfDeceasedReinstated(PersonEvent):
    """Compensation of ``BenefitsOfDeceasedStopped``: the death was revoked and the benefits it stopped are paid
    again, with back-pay. Published once per revoked death, also when nothing had been stopped."""

    type_name = "civic.assistance.benefits-of-deceased-reinstated.v1"

    death_registration_id: str
    cases: list[StoppedBenefit]
    back_pay: Yuan


class HouseholdAddressesUpdated(Event):
    """Assistance updated the displayed address of every household it holds on a renamed road (the address-change
    one-thing workflow). Published exactly once per rename, also when no household lives on the road
    (``households_updated`` 0), so that the journey completes. Keyed by the road's code, like ``RoadRenamed``."""

    type_name = "civic.assistance.household-addresses-updated.v1"

    road_code: str = Field(min_length=1, max_length=40)
    new_name: str
    households_updated: int = Field(ge=0)

    def subject(self) -> str:
        return self.road_code


class HouseholdsRechecked(PersonEvent):
    """Assistance re-checked the households of both parties after a marriage or a divorce was registered: one
    event per registration, also when neither party is in a household assistance knows (both counts 0).

    ``resident_id`` is the party the registration was keyed by, so the event has the same subject.
    ``benefits_changed`` counts the benefits whose amount the re-check changed (each also announced by a
    ``BenefitChanged``); what the registration alone cannot tell (who moved in or out, the spouse's income) is
    left to a caseworker's review of the household."""

    type_name = "civic.assistance.households-rechecked.v1"

    trigger: str = Field(description="the type of the event that caused the re-check")
    households_rechecked: int = Field(ge=0)
    benefits_changed: int = Field(ge=0)
    registration_id: str | None = Field(default=None, description="the marriage or divorce registration")


class TemporaryAssistanceGranted(PersonEvent):
    """临时救助 was granted to ``resident_id``: an emergency advance (急难型, paid at once, paperwork after) or an
    expenditure-type grant approved once and paid in stages (支出型). Each payment is a
    ``TemporaryAssistancePaid``."""

    type_name = "civic.assistance.temporary-assistance-granted.v1"

    grant_id: str
    kind: str = Field(description="emergency | expenditure")
    household_id: str | None = None
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    amount: Yuan = Field(description="the whole grant")
    stages: int = Field(ge=1, description="how many payments it is made in (1 for an emergency advance)")
    granted_on: date
    paperwork_due: date | None = Field(default=None, description="emergency: the case must be completed by then")


class TemporaryAssistancePaid(PersonEvent):
    """One payment of a temporary-assistance grant: the emergency advance, or a stage of an expenditure grant."""

    type_name = "civic.assistance.temporary-assistance-paid.v1"

    grant_id: str
    kind: str
    stage: int = Field(ge=1)
    amount: Yuan
    paid_on: date


class TemporaryAdvanceFlagged(PersonEvent):
    """An emergency advance's paperwork was not completed by its due date: the case is flagged for follow-up."""

    type_name = "civic.assistance.temporary-advance-flagged.v1"

    grant_id: str
    amount: Yuan
    paperwork_due: date


class TemporaryAdvancePaperworkCompleted(PersonEvent):
    """The case behind an emergency advance was completed (the statement and documents received); ``late`` when
    it came after the due date (the advance had been flagged)."""

    type_name = "civic.assistance.temporary-advance-paperwork-completed.v1"

    grant_id: str
    completed_on: date
    late: bool
