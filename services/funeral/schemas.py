"""Request and response bodies. The deceased's resident ID is always masked in answers; a payee's or a grave
holder's ID is shown whole only to funeral caseworkers and to that person."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from civic.auth import Principal
from civic.identity import ResidentId, mask
from civic.money import Yuan, from_fen
from contracts.funeral import Reporter
from services.funeral.access import DOMAIN
from services.funeral.models import (
    Booking,
    Cemetery,
    Cremation,
    DeathRegistration,
    DeathReport,
    EcoBurialSubsidy,
    FuneralBenefit,
    FuneralHome,
    Plot,
    PlotAssignment,
    ServiceSlot,
)
from services.funeral.rules import BurialType, DeathSource

Name = Annotated[str, Field(min_length=1, max_length=50)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
RegionCode = Annotated[str, Field(pattern=r"^[1-9][0-9]{5}$", description="6-digit region code (GB/T 2260)")]
CertificateNumber = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{4,40}$")]


def utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time stored here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shown(resident_id: str | None, viewer: Principal) -> str | None:
    if resident_id is None:
        return None
    return resident_id if viewer.is_caseworker_of(DOMAIN) or viewer.is_citizen(resident_id) else mask(resident_id)


class ReporterIn(Reporter):
    model_config = ConfigDict(extra="forbid")


class PayeeIn(BaseModel):
    """The family member a benefit or subsidy is paid to."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    relation: str = Field(min_length=1, max_length=20, description="e.g. 配偶, 子女")
    resident_id: ResidentId


class DeathRegistrationCreate(BaseModel):
    """A death as reported by a hospital, a relative, the police, the community or the funeral home."""

    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentId
    date_of_death: date
    place_of_death: str | None = Field(default=None, max_length=200)
    reported_by: ReporterIn
    name: Name | None = Field(default=None, description="the deceased's name")
    source: DeathSource | None = Field(default=None, description="who reports; by default read from the relation")
    medical_certificate_number: CertificateNumber | None = Field(
        default=None, description="死亡医学证明(推断)书 number, from the hospital or the community health centre"
    )
    region_code: RegionCode | None = Field(
        default=None, description="the deceased's region (户籍地); by default the region in the resident ID"
    )
    benefit_payee: PayeeIn | None = Field(
        default=None, description="who receives the funeral benefit; by default the relative who reports"
    )


class ReportOutcome(BaseModel):
    id: str
    outcome: str = Field(description="registered | same-death | conflicting (flagged for a caseworker)")
    differences: list[str]


class DeathRegistrationPublic(BaseModel):
    id: str
    resident_id: str = Field(description="masked: 6 digits, 8 stars, last 4")
    name: str | None
    date_of_death: date
    place_of_death: str | None
    region_code: str
    source: str
    medical_certificate_number: str | None
    reported_by: Reporter
    status: str
    needs_review: bool
    journey_id: str = Field(description="follow 身后一件事 with this id")
    registered_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    report: ReportOutcome | None = Field(default=None, description="what became of this report (POST only)")

    @staticmethod
    def of(reg: DeathRegistration, report: DeathReport | None = None) -> DeathRegistrationPublic:
        return DeathRegistrationPublic(
            id=reg.id,
            resident_id=mask(reg.resident_id),
            name=reg.name,
            date_of_death=reg.date_of_death,
            place_of_death=reg.place_of_death,
            region_code=reg.region_code,
            source=reg.source,
            medical_certificate_number=reg.medical_certificate_number,
            reported_by=Reporter(name=reg.reporter_name, relation=reg.reporter_relation),
            status=reg.status,
            needs_review=reg.needs_review,
            journey_id=reg.journey_id,
            registered_at=reg.registered_at,
            revoked_at=reg.revoked_at,
            revocation_reason=reg.revocation_reason,
            report=None if report is None else ReportOutcome(
                id=report.id, outcome=report.outcome, differences=[d for d in report.differences.split(",") if d]
            ),
        )  # fmt: skip


class DeathReportPublic(BaseModel):
    id: str
    outcome: str
    differences: list[str]
    source: str
    date_of_death: date
    place_of_death: str | None
    medical_certificate_number: str | None
    reported_by: Reporter
    reported_at: datetime
    resolved_at: datetime | None
    resolution: str | None

    @staticmethod
    def of(r: DeathReport) -> DeathReportPublic:
        return DeathReportPublic(
            id=r.id,
            outcome=r.outcome,
            differences=[d for d in r.differences.split(",") if d],
            source=r.source,
            date_of_death=r.date_of_death,
            place_of_death=r.place_of_death,
            medical_certificate_number=r.medical_certificate_number,
            reported_by=Reporter(name=r.reporter_name, relation=r.reporter_relation),
            reported_at=r.reported_at,
            resolved_at=r.resolved_at,
            resolution=r.resolution,
        )


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class ReviewResolution(BaseModel):
    """A caseworker looked at the disagreeing reports and keeps the registration as it is (a wrong registration
    is revoked instead, and registered again with the right facts)."""

    model_config = ConfigDict(extra="forbid")

    resolution: Reason


class PayeePublic(BaseModel):
    name: str
    relation: str
    resident_id: str | None = Field(description="whole for funeral caseworkers and the payee; masked otherwise")


def _payee(name: str | None, relation: str | None, rid: str | None, viewer: Principal) -> PayeePublic | None:
    if name is None or relation is None:
        return None
    return PayeePublic(name=name, relation=relation, resident_id=shown(rid, viewer))


class FuneralBenefitPublic(BaseModel):
    id: str
    kind: str
    amount: Yuan
    in_kind: bool
    region_code: str
    basis: str
    payee: PayeePublic | None
    status: str
    granted_on: date
    cancelled_at: datetime | None
    cancellation_reason: str | None

    @staticmethod
    def of(b: FuneralBenefit, viewer: Principal) -> FuneralBenefitPublic:
        return FuneralBenefitPublic(
            id=b.id,
            kind=b.kind,
            amount=from_fen(b.amount_fen),
            in_kind=b.in_kind,
            region_code=b.region_code,
            basis=b.basis,
            payee=_payee(b.payee_name, b.payee_relation, b.payee_resident_id, viewer),
            status=b.status,
            granted_on=b.granted_on,
            cancelled_at=b.cancelled_at,
            cancellation_reason=b.cancellation_reason,
        )


class EcoBurialSubsidyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    burial_type: BurialType
    burial_date: date
    payee: PayeeIn


class EcoBurialSubsidyPublic(BaseModel):
    id: str
    death_registration_id: str
    burial_type: str
    burial_date: date
    amount: Yuan
    region_code: str
    basis: str
    payee: PayeePublic | None
    status: str
    granted_at: datetime
    cancelled_at: datetime | None
    cancellation_reason: str | None

    @staticmethod
    def of(s: EcoBurialSubsidy, viewer: Principal) -> EcoBurialSubsidyPublic:
        return EcoBurialSubsidyPublic(
            id=s.id,
            death_registration_id=s.registration_id,
            burial_type=s.burial_type,
            burial_date=s.burial_date,
            amount=from_fen(s.amount_fen),
            region_code=s.region_code,
            basis=s.basis,
            payee=_payee(s.payee_name, s.payee_relation, s.payee_resident_id, viewer),
            status=s.status,
            granted_at=s.granted_at,
            cancelled_at=s.cancelled_at,
            cancellation_reason=s.cancellation_reason,
        )


class DifficultyPublic(BaseModel):
    benefit: str
    case_id: str
    effective_from: date
    ended_from: date | None


class EntitlementPublic(BaseModel):
    resident_id: str
    on: date
    free_basic_funeral_services: bool = Field(description="in difficulty on that day (低保, 低保边缘, 特困)")
    basis: list[DifficultyPublic]


class BenefitsPublic(BaseModel):
    """What funeral administration granted for one registered death."""

    death_registration_id: str
    funeral_benefit: FuneralBenefitPublic | None
    eco_burial_subsidy: EcoBurialSubsidyPublic | None


# --- funeral homes, slots, bookings, cremations ----------------------------------------------------------------
class FuneralHomeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    region_code: RegionCode


class FuneralHomePublic(BaseModel):
    id: str
    name: str
    region_code: str

    @staticmethod
    def of(h: FuneralHome) -> FuneralHomePublic:
        return FuneralHomePublic(id=h.id, name=h.name, region_code=h.region_code)


class SlotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=r"^(cremation|farewell_hall)$")
    resource: str = Field(min_length=1, max_length=50, description="furnace or hall, e.g. 1号炉, 告别厅A")
    starts_at: datetime


class SlotPublic(BaseModel):
    id: str
    funeral_home_id: str
    kind: str
    resource: str
    starts_at: datetime
    free: bool

    @staticmethod
    def of(s: ServiceSlot, free: bool) -> SlotPublic:
        return SlotPublic(id=s.id, funeral_home_id=s.funeral_home_id, kind=s.kind, resource=s.resource,
                          starts_at=utc(s.starts_at), free=free)  # fmt: skip


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_id: str = Field(min_length=1, max_length=36)
    death_registration_id: str = Field(min_length=1, max_length=36)


class BookingPublic(BaseModel):
    id: str
    slot_id: str
    death_registration_id: str
    kind: str
    status: str
    booked_at: datetime
    cancelled_at: datetime | None
    cancellation_reason: str | None

    @staticmethod
    def of(b: Booking) -> BookingPublic:
        return BookingPublic(id=b.id, slot_id=b.slot_id, death_registration_id=b.registration_id, kind=b.kind,
                             status=b.status, booked_at=b.booked_at, cancelled_at=b.cancelled_at,
                             cancellation_reason=b.cancellation_reason)  # fmt: skip


class BookingCancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class CremationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    death_registration_id: str = Field(min_length=1, max_length=36)
    funeral_home_id: str = Field(min_length=1, max_length=36)
    booking_id: str | None = Field(default=None, max_length=36)
    certificate_number: CertificateNumber
    cremated_at: datetime
    ashes: str = Field(pattern=r"^(collected|stored|not_kept)$")
    storage_location: str | None = Field(default=None, min_length=1, max_length=100)
    stored_until: date | None = None


class CremationPublic(BaseModel):
    id: str
    death_registration_id: str
    resident_id: str
    funeral_home_id: str
    booking_id: str | None
    certificate_number: str
    cremated_at: datetime
    ashes: str
    storage_location: str | None
    stored_until: date | None

    @staticmethod
    def of(c: Cremation) -> CremationPublic:
        return CremationPublic(id=c.id, death_registration_id=c.registration_id, resident_id=mask(c.resident_id),
                               funeral_home_id=c.funeral_home_id, booking_id=c.booking_id,
                               certificate_number=c.certificate_number, cremated_at=utc(c.cremated_at), ashes=c.ashes,
                               storage_location=c.storage_location, stored_until=c.stored_until)  # fmt: skip


# --- cemeteries ------------------------------------------------------------------------------------------------
class CemeteryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Z0-9]{2,12}$", description="short code, the prefix of every grave code")
    name: str = Field(min_length=1, max_length=100)
    region_code: RegionCode
    public: bool = True


class CemeteryPublic(BaseModel):
    id: str
    code: str
    name: str
    region_code: str
    public: bool

    @staticmethod
    def of(c: Cemetery) -> CemeteryPublic:
        return CemeteryPublic(id=c.id, code=c.code, name=c.name, region_code=c.region_code, public=c.public)


class PlotsCreate(BaseModel):
    """A row of plots: ``count`` graves numbered from ``first_number``."""

    model_config = ConfigDict(extra="forbid")

    section: str = Field(pattern=r"^[A-Z0-9]{1,10}$")
    row: int = Field(ge=1, le=99)
    first_number: int = Field(ge=1, le=999)
    count: int = Field(ge=1, le=200)
    plot_type: str = Field(pattern=r"^(traditional|tree|lawn|wall|flower)$")


class PlotPublic(BaseModel):
    code: str
    cemetery_id: str
    section: str
    row: int
    number: int
    plot_type: str
    eco: bool
    status: str

    @staticmethod
    def of(p: Plot, eco: bool) -> PlotPublic:
        return PlotPublic(code=p.code, cemetery_id=p.cemetery_id, section=p.section, row=p.row, number=p.number,
                          plot_type=p.plot_type, eco=eco, status=p.status)  # fmt: skip


class PlotAssignmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    death_registration_id: str = Field(min_length=1, max_length=36)
    holder: PayeeIn


class GravePublic(BaseModel):
    """What a grave's code (一墓一码) resolves to: the plot, its cemetery, and who lies there."""

    plot: PlotPublic
    cemetery: CemeteryPublic
    deceased_name: str | None
    deceased_resident_id: str | None = Field(description="masked")
    date_of_death: date | None
    death_registration_id: str | None
    holder: PayeePublic | None
    eco_certificate_number: str | None

    @staticmethod
    def of(
        plot: Plot,
        eco: bool,
        cemetery: Cemetery,
        assignment: PlotAssignment | None,
        reg: DeathRegistration | None,
        viewer: Principal,
    ) -> GravePublic:
        holder = (
            _payee(assignment.holder_name, assignment.holder_relation, assignment.holder_resident_id, viewer)
            if assignment is not None and (viewer.is_caseworker_of(DOMAIN) or viewer.is_citizen(
                assignment.holder_resident_id))
            else None
        )  # fmt: skip
        return GravePublic(
            plot=PlotPublic.of(plot, eco),
            cemetery=CemeteryPublic.of(cemetery),
            deceased_name=reg.name if reg else None,
            deceased_resident_id=mask(reg.resident_id) if reg else None,
            date_of_death=reg.date_of_death if reg else None,
            death_registration_id=reg.id if reg else None,
            holder=holder,
            eco_certificate_number=assignment.eco_certificate_number if assignment else None,
        )


# --- statistics ------------------------------------------------------------------------------------------------
class AmountByKind(BaseModel):
    kind: str
    count: int
    amount: Yuan


class StatisticsPublic(BaseModel):
    """Figures for the period, as the seed reports count them (revoked deaths and cancelled grants excluded)."""

    region_code: str | None
    date_from: date
    date_to: date
    deaths: int
    cremations: int
    cremation_rate_percent: Decimal | None
    funeral_benefit_recipients: int
    funeral_benefit_amount: Yuan
    funeral_benefits: list[AmountByKind]
    eco_burials: int
    eco_burial_subsidy_amount: Yuan
    eco_burial_subsidies: list[AmountByKind]
    plots_assigned: int
    eco_graves: int
