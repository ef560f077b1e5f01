"""Events published by funeral administration (殡葬)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from civic.events import PersonEvent
from civic.identity import ResidentId
from civic.money import Yuan


class Reporter(BaseModel):
    """Who reported the death: a relative, the funeral home, a hospital, a community worker."""

    name: str = Field(min_length=1, max_length=50)
    relation: str = Field(min_length=1, max_length=20, description="e.g. 配偶, 子女, 殡仪馆, 医院")


class Payee(BaseModel):
    """The family member a benefit or subsidy is paid to."""

    name: str = Field(min_length=1, max_length=50)
    relation: str = Field(min_length=1, max_length=20, description="e.g. 配偶, 子女")
    resident_id: ResidentId | None = None


class DeathRegistered(PersonEvent):
    """A death was registered; this starts 身后一件事 (the after-death one-thing workflow).

    Published once per death: further reports of the same person are recorded by funeral administration and
    publish nothing."""

    type_name = "civic.funeral.death-registered.v1"

    registration_id: str
    date_of_death: date
    registered_at: datetime
    reported_by: Reporter
    source: str | None = Field(
        default=None, description="who reported it: hospital | family | police | community | funeral_home"
    )
    place_of_death: str | None = None
    region_code: str | None = Field(default=None, description="the deceased's region (户籍地), 6 digits")


class DeathRevoked(PersonEvent):
    """A death registered in error was revoked by a funeral caseworker. Every department undoes what it did on
    the registration (the compensation of 身后一件事) and says so."""

    type_name = "civic.funeral.death-revoked.v1"

    registration_id: str
    reason: str = Field(min_length=1, max_length=500)
    revoked_at: datetime


class FuneralBenefitGranted(PersonEvent):
    """The basic funeral service benefit (惠民殡葬) was granted for a deceased (``resident_id``): the basic services
    free for a deceased in difficulty (``in_kind``, settled with the funeral home), or the region's standard
    benefit paid to the named family member. Funeral's step of 身后一件事."""

    type_name = "civic.funeral.funeral-benefit-granted.v1"

    death_registration_id: str
    benefit_id: str
    kind: str = Field(description="free_basic_services | standard")
    amount: Yuan
    in_kind: bool
    region_code: str
    basis: str
    payee: Payee | None


class FuneralBenefitPayeeNamed(PersonEvent):
    """The family member the funeral benefit is paid to was named after the grant (the death was reported by a
    hospital, the police or the community, who are not paid)."""

    type_name = "civic.funeral.funeral-benefit-payee-named.v1"

    death_registration_id: str
    benefit_id: str
    payee: Payee


class FuneralBenefitNotGranted(PersonEvent):
    """No basic funeral benefit is due for this death (not in difficulty, and no standard benefit in the region).
    Published so that 身后一件事 shows funeral's step as decided."""

    type_name = "civic.funeral.funeral-benefit-not-granted.v1"

    death_registration_id: str
    reason: str


class HouseholdMarkedForBasicFuneralServices(PersonEvent):
    """Funeral's step of 救助一件事: funeral administration took an assistance approval into its own record of who
    is in difficulty. ``members_covered`` members of the household will have the basic funeral services free
    (惠民殡葬) while the benefit lasts; 0 when the benefit approved does not make a household one in difficulty
    (e.g. temporary assistance). Published once for every approval funeral receives, about the applicant
    (``resident_id``) as ``BenefitApproved`` is; ``repeated`` is true when the same approval (``case_id``) was
    answered before (the same fact under another event id): the count is the same, and nothing new was marked."""

    type_name = "civic.funeral.household-marked-for-basic-funeral-services.v1"

    case_id: str = Field(description="the assistance case the approval opened")
    benefit: str
    household_id: str
    members_covered: int = Field(ge=0)
    effective_from: date
    repeated: bool = False


class FuneralBenefitCancelled(PersonEvent):
    """Compensation: the funeral benefit of a death registered in error is cancelled."""

    type_name = "civic.funeral.funeral-benefit-cancelled.v1"

    death_registration_id: str
    benefit_id: str
    kind: str
    amount: Yuan
    reason: str


class EcoBurialSubsidyGranted(PersonEvent):
    """节地生态安葬奖补: the deceased was buried at sea, under a tree, in a lawn or a wall, or no ashes were kept;
    ``amount`` is paid once to the family member named."""

    type_name = "civic.funeral.eco-burial-subsidy-granted.v1"

    death_registration_id: str
    subsidy_id: str
    burial_type: str = Field(description="sea | tree | lawn | wall | no_ashes_kept")
    burial_date: date
    amount: Yuan
    region_code: str
    payee: Payee


class EcoBurialSubsidyCancelled(PersonEvent):
    """Compensation: the eco-burial subsidy of a death registered in error is cancelled (recovered if paid)."""

    type_name = "civic.funeral.eco-burial-subsidy-cancelled.v1"

    death_registration_id: str
    subsidy_id: str
    amount: Yuan
    reason: str


class CremationDone(PersonEvent):
    """The deceased was cremated (火化); ``ashes`` says whether they were collected, stored or not kept."""

    type_name = "civic.funeral.cremation-done.v1"

    death_registration_id: str
    cremation_id: str
    funeral_home_id: str
    certificate_number: str
    cremated_at: datetime
    ashes: str = Field(description="collected | stored | not_kept")


class PlotAssigned(PersonEvent):
    """A grave plot was assigned to the deceased; ``plot_code`` is its one code (一墓一码)."""

    type_name = "civic.funeral.plot-assigned.v1"

    death_registration_id: str
    plot_code: str
    cemetery_id: str
    plot_type: str
    eco_certificate_number: str | None = Field(description="生态葬证书, for an eco grave")


class PlotReleased(PersonEvent):
    """Compensation: the plot of a death registered in error is free again."""

    type_name = "civic.funeral.plot-released.v1"

    death_registration_id: str
    plot_code: str
    reason: str
