"""Events published by eldercare (养老服务)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from civic.events import Event, PersonEvent
from civic.money import Yuan


class ElderRegistered(PersonEvent):
    """A resident aged 60 or over became known to eldercare (registered by a caseworker, or enrolled from
    another department's fact)."""

    type_name = "civic.eldercare.elder-registered.v1"

    region_code: str = Field(pattern=r"^[0-9]{6}$")
    community: str
    living_situation: str = Field(description="alone | empty_nest | with_family | unknown")


class AssessmentCompleted(PersonEvent):
    """A capability assessment (GB/T 42195-2022) was recorded; ``level`` drives subsidies and care levels."""

    type_name = "civic.eldercare.assessment-completed.v1"

    assessment_id: str
    assessed_on: date
    level: str = Field(description="intact | mild | moderate | severe | complete")
    total_score: int
    reassess_by: date


class AllowanceGranted(PersonEvent):
    """An allowance was granted (or granted again); paid monthly from ``granted_from``."""

    type_name = "civic.eldercare.allowance-granted.v1"

    allowance_id: str
    allowance: str = Field(description="age (高龄补贴) | difficult_elderly (经济困难的高龄失能老年人补贴)")
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    monthly_amount: Yuan
    granted_from: date
    cause: str


class AllowanceStopped(PersonEvent):
    """An allowance is no longer paid from ``stopped_from``."""

    type_name = "civic.eldercare.allowance-stopped.v1"

    allowance_id: str
    allowance: str
    stopped_from: date
    reason: str


class AdmittedToInstitution(PersonEvent):
    type_name = "civic.eldercare.admitted-to-institution.v1"

    admission_id: str
    institution_id: str
    bed_id: str
    bed_kind: str = Field(description="ordinary | nursing | dementia")
    admitted_on: date
    concentrated_support: bool = Field(description="a 特困 elder in concentrated support (集中供养)")


class DischargedFromInstitution(PersonEvent):
    type_name = "civic.eldercare.discharged-from-institution.v1"

    admission_id: str
    institution_id: str
    bed_id: str
    discharged_on: date
    reason: str


class HomeServiceStarted(PersonEvent):
    type_name = "civic.eldercare.home-service-started.v1"

    service_id: str
    service: str = Field(description="home_care_bed | day_care | meal_assistance | visits")
    started_on: date


class HomeServiceEnded(PersonEvent):
    type_name = "civic.eldercare.home-service-ended.v1"

    service_id: str
    service: str
    ended_on: date
    reason: str


class EndedAllowance(BaseModel):
    allowance_id: str
    allowance: str
    monthly_amount: Yuan


class CareOfDeceasedEnded(PersonEvent):
    """Eldercare's step of 身后一件事: allowances stopped from ``stopped_from``, the institution bed released,
    home services cancelled. Published once per death, also when there was nothing to end (lists empty,
    ``released_bed_id`` null), so the journey shows that eldercare has done its part."""

    type_name = "civic.eldercare.care-of-deceased-ended.v1"

    death_registration_id: str
    stopped_from: date
    allowances: list[EndedAllowance]
    released_admission_id: str | None
    released_bed_id: str | None
    cancelled_services: list[str] = Field(description="ids of the home services cancelled")


class CareOfDeceasedRestored(PersonEvent):
    """Compensation of ``CareOfDeceasedEnded``: the death was revoked; allowances are paid again with back-pay for
    the months missed, home services resume, and the bed is given back if nobody has taken it since
    (``bed_restored`` false means a caseworker must readmit). Published once per revoked death."""

    type_name = "civic.eldercare.care-of-deceased-restored.v1"

    death_registration_id: str
    allowances: list[EndedAllowance]
    back_pay: Yuan
    back_pay_months: list[date]
    restored_admission_id: str | None
    bed_restored: bool
    restored_services: list[str]


class EldersAddressesUpdated(Event):
    """Eldercare's step of the address-change workflow: the displayed address of every elder held on a renamed road
    now carries the road's new name. Published once per rename eldercare receives, also when no elder lives on the
    road (``elders_updated`` 0), so that the journey completes. Keyed by the road's code, like ``RoadRenamed``."""

    type_name = "civic.eldercare.elder-addresses-updated.v1"

    road_code: str = Field(min_length=1, max_length=40)
    new_name: str
    elders_updated: int = Field(ge=0, description="elders whose displayed address this rename changed")

    def subject(self) -> str:
        return self.road_code


class HouseholdEldersEnrolled(PersonEvent):
    """Eldercare's step of 救助一件事: its answer to an assistance approval. ``enrolled`` elderly members of the
    household were granted the difficult-elderly subsidy by this approval; 0 when none qualifies (no member old
    enough, a benefit that does not entitle, a member who has died, or the subsidy already held). Published once for
    every approval eldercare receives, about the applicant (``resident_id``) as ``BenefitApproved`` is, so it has
    the same subject. ``repeated`` is true when the same approval (``case_id``) was answered before: the count is
    the one of the first answer, and nothing new was granted."""

    type_name = "civic.eldercare.household-elders-enrolled.v1"

    case_id: str = Field(description="the assistance case the approval opened")
    benefit: str
    household_id: str
    enrolled: int = Field(ge=0)
    effective_from: date
    repeated: bool = False


class DeviceInstalled(PersonEvent):
    """A monitoring device (智能监测设备) is installed for an elder (``resident_id``), newly or moved from another
    elder's home: from ``installed_on`` its alarms open follow-up tasks for ``community``. The monitoring platform
    (a department system) learns from it that eldercare knows the device and whose home it watches."""

    type_name = "civic.eldercare.device-installed.v1"

    device_id: str = Field(description="the platform's id of the device")
    kind: str = Field(description="smoke_detector | gas_detector | fall_sensor | emergency_button | door_sensor")
    installed_on: date
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    community: str


class DeviceRetired(PersonEvent):
    """A monitoring device was collected or broke: from ``retired_on`` eldercare refuses its alarms, so the
    platform should stop watching it. ``resident_id`` is the elder it was last installed for."""

    type_name = "civic.eldercare.device-retired.v1"

    device_id: str
    kind: str
    retired_on: date
    reason: str
