"""API request and response bodies. Requests forbid unknown fields; resident IDs are validated on the way in and
masked on the way out to anyone but the person and eldercare's caseworkers (``access.py``)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from civic.identity import ResidentId
from civic.money import Yuan
from services.eldercare.models import HomeServiceKind, LivingSituation
from services.eldercare.rules import BedKind

RegionCode = str


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DoorPlateRef(Request):
    """Where an elder lives, by door plate: the road's code (from place names) keeps the address current on a
    rename."""

    road_code: str = Field(min_length=1, max_length=40, description="the road's stable code in place names")
    road_name: str = Field(min_length=1, max_length=100, description="the road's standard name today, e.g. 新华路")
    number: int = Field(ge=1, le=99999, description="house number on the road")
    suffix: str = Field(default="", pattern=r"^[0-9]{0,3}$", description="1 for 12-1号")
    detail: str = Field(default="", max_length=100, description="unit, floor, room: 3单元201室")


class DoorPlatePublic(BaseModel):
    road_code: str
    road_name: str
    number: int
    suffix: str
    detail: str


class ElderCreate(Request):
    resident_id: ResidentId
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    community: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200, description="free text; leave empty when giving door_plate")
    door_plate: DoorPlateRef | None = Field(default=None, description="the address by door-plate reference")
    living_situation: LivingSituation
    contact_phone: str = Field(default="", max_length=30, pattern=r"^[0-9+\- ]*$")


class ElderAddress(Request):
    """Where the elder lives now: a door plate (kept current by renames), or free text."""

    address: str = Field(default="", max_length=200, description="free text; leave empty when giving door_plate")
    door_plate: DoorPlateRef | None = None


class ElderPublic(BaseModel):
    resident_id: str
    born: date
    age: int
    sex: str
    region_code: str
    community: str
    address: str
    door_plate: DoorPlatePublic | None = None
    living_situation: str
    contact_phone: str
    died_on: date | None


class AssessmentCreate(Request):
    assessor: str = Field(min_length=1, max_length=100)
    assessed_on: date
    scores: dict[str, int] = Field(description="all 26 second-level items of GB/T 42195-2022, by item name")
    comatose: bool = False
    dementia_diagnosed: bool = False
    mental_disorder_diagnosed: bool = False
    care_risk_events_30_days: int = Field(default=0, ge=0, le=100)


class AssessmentPublic(BaseModel):
    id: str
    resident_id: str
    assessor: str
    assessed_on: date
    by_dimension: dict[str, int]
    total: int
    level: str
    reasons: list[str]
    reassess_by: date


class AgeAllowanceRun(Request):
    on: date


class AgeAllowanceRunResult(BaseModel):
    on: date
    granted: list[str] = Field(description="allowance ids granted by this run (masked people are not listed)")


class AllowanceGrant(Request):
    """A caseworker grants the age allowance by hand (someone the daily job has not reached yet)."""

    resident_id: ResidentId
    allowance: Literal["age"]
    on: date


class AllowancePublic(BaseModel):
    id: str
    resident_id: str
    allowance: str
    status: str
    region_code: str
    monthly_amount: Yuan
    granted_from: date
    stopped_from: date | None
    stop_reason: str | None
    cause: str


class PaymentRun(Request):
    month: date


class PaymentPublic(BaseModel):
    month: date
    kind: str
    amount: Yuan


class InstitutionCreate(Request):
    name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    ownership: Literal["public", "private"]
    star_rating: int = Field(default=0, ge=0, le=5)
    beds: dict[BedKind, int] = Field(description="how many beds of each kind", default_factory=dict)


class BedRatioPublic(BaseModel):
    beds: int
    nursing_type_beds: int
    nursing_bed_ratio: str | None
    target: str
    meets_target: bool | None


class InstitutionPublic(BaseModel):
    id: str
    name: str
    region_code: str
    ownership: str
    star_rating: int
    occupied: int
    free: dict[str, int]
    nursing: BedRatioPublic


class AdmissionCreate(Request):
    resident_id: ResidentId
    bed_kind: BedKind
    admitted_on: date
    concentrated_support: bool = False


class AdmissionPublic(BaseModel):
    id: str
    resident_id: str
    institution_id: str
    bed_id: str
    bed_kind: str
    admitted_on: date
    concentrated_support: bool
    status: str
    discharged_on: date | None
    discharge_reason: str | None


class Discharge(Request):
    discharged_on: date
    reason: str = Field(min_length=1, max_length=500)


class HomeServiceCreate(Request):
    resident_id: ResidentId
    service: HomeServiceKind
    provider: str = Field(default="", max_length=100)
    started_on: date


class HomeServiceEnd(Request):
    ended_on: date
    reason: str = Field(min_length=1, max_length=500)


class HomeServicePublic(BaseModel):
    id: str
    resident_id: str
    service: str
    provider: str
    started_on: date
    ended_on: date | None
    status: str
