"""Request and response bodies. Resident IDs are shown whole only to the person and to marriage caseworkers."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from civic.auth import Principal
from civic.identity import ResidentId, mask
from services.marriage.models import Certificate, Correction, Divorce, Marriage
from services.marriage.rules import DivorceTimeline

DOMAIN = "marriage"

OFFICE_PATTERN = r"^[1-9][0-9]{5}$"
OfficeCode = Annotated[str, Field(pattern=OFFICE_PATTERN, description="registry office: its 6-digit region code")]
Name = Annotated[str, Field(min_length=1, max_length=50)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


def shown(resident_id: str, viewer: Principal) -> str:
    """The whole ID for the person and marriage caseworkers; masked for anyone else (auditors included)."""
    return resident_id if viewer.is_citizen(resident_id) or viewer.is_caseworker_of(DOMAIN) else mask(resident_id)


class MarriageCreate(BaseModel):
    """A marriage registered at a registry office; both parties are there in person."""

    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentId
    name: Name
    spouse_resident_id: ResidentId
    spouse_name: Name
    office_code: OfficeCode
    both_present: bool = Field(description="both parties appeared in person (Civil Code art. 1049)")


class CertificatePublic(BaseModel):
    number: str
    kind: str
    holder_resident_id: str
    issued_on: date
    office_code: str
    reissue: bool
    status: str
    replaced_by: str | None

    @staticmethod
    def of(c: Certificate, viewer: Principal) -> CertificatePublic:
        return CertificatePublic(
            number=c.number,
            kind=c.kind,
            holder_resident_id=shown(c.holder_resident_id, viewer),
            issued_on=c.issued_on,
            office_code=c.office_code,
            reissue=c.reissue,
            status=c.status,
            replaced_by=c.replaced_by,
        )


class MarriagePublic(BaseModel):
    id: str
    resident_id: str
    name: str
    spouse_resident_id: str
    spouse_name: str
    registered_on: date
    office_code: str
    both_present: bool
    remarriage: bool
    status: str
    ended_on: date | None
    certificates: list[CertificatePublic]

    @staticmethod
    def of(m: Marriage, certificates: list[Certificate], viewer: Principal) -> MarriagePublic:
        return MarriagePublic(
            id=m.id,
            resident_id=shown(m.resident_id, viewer),
            name=m.name,
            spouse_resident_id=shown(m.spouse_resident_id, viewer),
            spouse_name=m.spouse_name,
            registered_on=m.registered_on,
            office_code=m.office_code,
            both_present=m.both_present,
            remarriage=m.remarriage,
            status=m.status,
            ended_on=m.ended_on,
            # A citizen sees the certificates they hold, not their spouse's.
            certificates=[
                CertificatePublic.of(c, viewer)
                for c in certificates
                if viewer.role != "citizen" or viewer.subject == c.holder_resident_id
            ],
        )


class MaritalStatusPublic(BaseModel):
    resident_id: str
    status: str
    since: date | None
    marriage_registration_id: str | None
    spouse_resident_id: str | None
    pending_divorce_id: str | None = None


class DivorceCreate(BaseModel):
    """Both parties apply together for a divorce by agreement."""

    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentId
    spouse_resident_id: ResidentId
    office_code: OfficeCode


class DivorceWithdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resident_id: ResidentId = Field(description="the party who withdraws (either may, alone)")


class DivorceCertificateRequest(BaseModel):
    """Both parties come back in person within the window and ask for the certificate."""

    model_config = ConfigDict(extra="forbid")

    both_present: bool


class DivorcePublic(BaseModel):
    id: str
    marriage_registration_id: str
    office_code: str
    applied_on: date
    last_day_to_withdraw: date
    first_day_for_certificate: date
    last_day_for_certificate: date
    status: str
    closed_on: date | None
    withdrawn_by: str | None
    certificates: list[CertificatePublic] = []
    deadline_notes: list[str] = Field(
        default=[],
        description="why a deadline is not the plain 30th day: moved past a rest day (Civil Code art. 203), or "
        "computed without the holiday calendar of its year",
    )

    @staticmethod
    def of(
        d: Divorce,
        viewer: Principal,
        certificates: list[Certificate] | None = None,
        timeline: DivorceTimeline | None = None,
    ) -> DivorcePublic:
        """``timeline``: the deadlines in force, if later than the stored ones (see ``divorces``)."""
        deadlines = timeline or DivorceTimeline(
            d.applied_on, d.last_day_to_withdraw, d.first_day_for_certificate, d.last_day_for_certificate
        )
        return DivorcePublic(
            id=d.id,
            marriage_registration_id=d.marriage_id,
            office_code=d.office_code,
            applied_on=d.applied_on,
            last_day_to_withdraw=deadlines.last_day_to_withdraw,
            first_day_for_certificate=deadlines.first_day_for_certificate,
            last_day_for_certificate=deadlines.last_day_for_certificate,
            deadline_notes=list(deadlines.notes),
            status=d.status,
            closed_on=d.closed_on,
            withdrawn_by=shown(d.withdrawn_by, viewer) if d.withdrawn_by else None,
            certificates=[CertificatePublic.of(c, viewer) for c in certificates or []],
        )


class ExpiryRun(BaseModel):
    today: date
    deemed_withdrawn: list[str]


class CorrectionPublic(BaseModel):
    """One correction: the field, the value it replaced (kept), the reason, who and when."""

    marriage_registration_id: str
    field: str
    old_value: str
    new_value: str
    reason: str
    corrected_by: str
    corrected_at: str

    @staticmethod
    def of(c: Correction, viewer: Principal) -> CorrectionPublic:
        """A corrected resident ID is shown whole only to its person and marriage caseworkers: the mistyped one
        may be a stranger's real ID."""
        ids = c.field in ("resident_id", "spouse_resident_id")
        return CorrectionPublic(
            marriage_registration_id=c.marriage_id,
            field=c.field,
            old_value=shown(c.old_value, viewer) if ids else c.old_value,
            new_value=shown(c.new_value, viewer) if ids else c.new_value,
            reason=c.reason,
            corrected_by=c.corrected_by,
            corrected_at=c.corrected_at.isoformat(),
        )
