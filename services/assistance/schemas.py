"""Request and response bodies of the assistance API. Money is ``Yuan``; resident IDs are validated and masked."""

from __future__ import annotations

import json
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from civic.auth import Principal
from civic.identity import ResidentId, mask
from civic.money import Yuan, from_fen
from services.assistance import rules
from services.assistance.models import (
    Application,
    Case,
    CaseChange,
    Household,
    HouseholdAddress,
    HouseholdMember,
    Payment,
)

DOMAIN = "assistance"


def shown(resident_id: str, viewer: Principal) -> str:
    """The ID in full to the person and to assistance caseworkers; masked to anyone else."""
    return resident_id if viewer.is_citizen(resident_id) or viewer.is_caseworker_of(DOMAIN) else mask(resident_id)


def first_of_month(value: date) -> date:
    if value.day != 1:
        raise ValueError("benefits are paid by month: give the first day of a month")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- households ----------------------------------------------------------------------------------------------
class MemberIn(Strict):
    resident_id: ResidentId
    relation: str = Field(min_length=1, max_length=20, description="relation to the applicant: 本人, 配偶, 子女 ...")
    work_capacity: bool = True
    legal_supporter: bool = Field(True, description="has a legal supporter able to support them")
    severe_disability: bool = False
    serious_illness: bool = False
    care_level: rules.CareLevel | None = None


class MoneyIn(Strict):
    resident_id: ResidentId
    kind: str = Field(min_length=1, max_length=30, description="wages, pension, business, transfer ...")
    monthly_amount: Yuan

    @field_validator("monthly_amount")
    @classmethod
    def not_negative(cls, value: Yuan) -> Yuan:
        if value < 0:
            raise ValueError("must not be negative")
        return value


class AssetIn(Strict):
    resident_id: ResidentId
    kind: str = Field(min_length=1, max_length=30, description="deposits, securities, vehicle ...")
    value: Yuan

    @field_validator("value")
    @classmethod
    def not_negative(cls, value: Yuan) -> Yuan:
        if value < 0:
            raise ValueError("must not be negative")
        return value


class AddressIn(Strict):
    """Where the household lives, by door plate: the road's code (from place names) keeps it current on a rename."""

    road_code: str = Field(min_length=1, max_length=40, description="the road's stable code in place names")
    road_name: str = Field(min_length=1, max_length=100, description="the road's standard name today, e.g. 新华路")
    number: int = Field(ge=1, description="house number on the road")
    suffix: str = Field("", pattern=r"^[0-9]{0,3}$", description="1 for 12-1号")
    detail: str = Field("", max_length=100, description="unit, floor, room: 3单元201室")


class AddressPublic(BaseModel):
    road_code: str
    number: int
    suffix: str
    detail: str
    text: str = Field(description="the address as shown, e.g. 新华路12-1号3单元201室")


class HouseholdCreate(Strict):
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    area: rules.Area
    address: AddressIn | None = Field(None, description="optional; by door-plate reference")
    members: list[MemberIn] = Field(min_length=1, description="the applicant first (relation 本人)")
    incomes: list[MoneyIn] = []
    deductions: list[MoneyIn] = Field([], description="employment costs, rigid medical or tuition expenditure")
    assets: list[AssetIn] = []


class MemberPublic(BaseModel):
    resident_id: str
    relation: str
    died_on: date | None


class HouseholdPublic(BaseModel):
    id: str
    region_code: str
    area: str
    address: AddressPublic | None = None
    members: list[MemberPublic]

    @staticmethod
    def of(
        h: Household, members: list[HouseholdMember], viewer: Principal, address: HouseholdAddress | None = None
    ) -> HouseholdPublic:
        return HouseholdPublic(
            id=h.id,
            region_code=h.region_code,
            area=h.area,
            address=None if address is None else AddressPublic.model_validate(address, from_attributes=True),
            members=[MemberPublic(resident_id=shown(m.resident_id, viewer), relation=m.relation, died_on=m.died_on)
                     for m in members],
        )  # fmt: skip


# --- applications --------------------------------------------------------------------------------------------
class ApplicationCreate(Strict):
    household_id: str
    benefit: rules.BenefitKind
    beneficiary: ResidentId | None = Field(None, description="the member a personal benefit is for")
    setting: rules.Setting | None = None
    child_category: rules.ChildCategory | None = None


class Decision(Strict):
    reason: str = Field(min_length=1, max_length=500)


class Approval(Strict):
    paid_from: date

    _month = field_validator("paid_from")(first_of_month)


class ApplicationPublic(BaseModel):
    id: str
    household_id: str
    benefit: str
    status: str
    eligible: bool | None
    monthly_amount: Yuan | None
    explanation: list[str]
    decision_reason: str | None
    case_id: str | None

    @staticmethod
    def of(a: Application) -> ApplicationPublic:
        return ApplicationPublic(
            id=a.id,
            household_id=a.household_id,
            benefit=a.benefit,
            status=a.status,
            eligible=a.eligible,
            monthly_amount=None if a.assessed_amount_fen is None else from_fen(a.assessed_amount_fen),
            explanation=json.loads(a.explanation),
            decision_reason=a.decision_reason,
            case_id=a.case_id,
        )


# --- cases ---------------------------------------------------------------------------------------------------
class CaseCreate(Strict):
    """Open a benefit case directly for a beneficiary whose eligibility a caseworker has decided elsewhere."""

    benefit: rules.BenefitKind = rules.BenefitKind.DIBAO
    resident_id: ResidentId
    region_code: str = Field(pattern=r"^[0-9]{6}$", description="county-level region code, e.g. 371002 (环翠区)")
    monthly_amount: Yuan = Field(description='yuan per month, e.g. "690.00"')
    paid_from: date = Field(description="first day of the first month paid")

    _month = field_validator("paid_from")(first_of_month)

    @field_validator("monthly_amount")
    @classmethod
    def positive(cls, value: Yuan) -> Yuan:
        if value <= 0:
            raise ValueError("must be more than zero")
        return value


class CasePublic(BaseModel):
    id: str
    benefit: str
    resident_id: str = Field(description="masked unless the reader is the person or an assistance caseworker")
    region_code: str
    household_id: str | None
    application_id: str | None
    monthly_amount: Yuan
    paid_from: date
    status: str
    suspended_from: date | None
    grace_until: date | None
    stopped_from: date | None
    stop_reason: str | None

    @staticmethod
    def of(case: Case, monthly_amount_fen: int, viewer: Principal | None = None) -> CasePublic:
        """``monthly_amount_fen``: the latest amount scheduled (``lifecycle.latest_amount``)."""
        return CasePublic(
            id=case.id,
            benefit=case.benefit,
            resident_id=shown(case.resident_id, viewer) if viewer else mask(case.resident_id),
            region_code=case.region_code,
            household_id=case.household_id,
            application_id=case.application_id,
            monthly_amount=from_fen(monthly_amount_fen),
            paid_from=case.paid_from,
            status=case.status,
            suspended_from=case.suspended_from,
            grace_until=case.grace_until,
            stopped_from=case.stopped_from,
            stop_reason=case.stop_reason,
        )


class EffectiveChange(Strict):
    effective_from: date
    reason: str = Field(min_length=1, max_length=500)

    _month = field_validator("effective_from")(first_of_month)


class AmountChange(EffectiveChange):
    monthly_amount: Yuan
    # The case's amount as the caseworker read it (the case's ``monthly_amount``): a correction made from a reading
    # another change has overtaken is refused, not written over that change.
    previous_amount: Yuan

    @field_validator("monthly_amount", "previous_amount")
    @classmethod
    def not_negative(cls, value: Yuan) -> Yuan:
        if value < 0:
            raise ValueError("must not be negative")
        return value


class ChangePublic(BaseModel):
    at: str
    kind: str
    effective_from: date | None
    amount: Yuan | None
    reason: str
    actor: str

    @staticmethod
    def of(c: CaseChange) -> ChangePublic:
        amount = None if c.amount_fen is None else from_fen(c.amount_fen)
        return ChangePublic(at=c.at.isoformat(), kind=c.kind, effective_from=c.effective_from, amount=amount,
                            reason=c.reason, actor=c.actor)  # fmt: skip


class PaymentPublic(BaseModel):
    month: date
    kind: str
    amount: Yuan

    @staticmethod
    def of(p: Payment) -> PaymentPublic:
        return PaymentPublic(month=p.month, kind=p.kind, amount=from_fen(p.amount_fen))
