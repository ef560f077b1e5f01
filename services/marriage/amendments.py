"""After the registration: certificate reissue (补领), revocation of a registration made with a false identity
(非真实身份登记撤销), and a person's own records from any office (异地查档), with the queries of staff recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role, caseworker_of
from civic.clock import Today
from civic.identity import ResidentId
from civic.problems import Conflict, NotFound, Problem
from contracts.marriage import CertificateReissued, RegistrationRevoked
from services.marriage import records
from services.marriage.models import ArchiveQuery, Certificate, CurrentSpouse, Marriage
from services.marriage.rules import MaritalStatus
from services.marriage.schemas import (
    DOMAIN,
    OFFICE_PATTERN,
    CertificatePublic,
    MarriagePublic,
    OfficeCode,
    Reason,
)

router = APIRouter(tags=["certificates and corrections"])
STAFF_REASON = "why the records are queried: required of staff, recorded with who, from where and when"
STAFF_OFFICE = "the registry office the query is made from (its region code): required of caseworkers"
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


class Reissue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    office_code: OfficeCode


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


@router.post("/certificates/{number}/reissue")
async def reissue_certificate(
    number: str, body: Reissue, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CertificatePublic:
    """A new number for the holder; the old number is void from today and says what replaced it."""
    old = await session.get(Certificate, number)
    if old is None:
        raise NotFound("certificate")
    if old.status != "valid":
        raise Conflict("certificate-void", "The certificate is void", f"replaced by {old.replaced_by}", field="number")
    marriage = await session.get(Marriage, old.marriage_id)
    assert marriage is not None
    if old.kind == "marriage" and marriage.status != "married":
        raise Conflict(
            "marriage-ended",
            "The marriage has ended",
            "a marriage certificate is reissued only while the marriage lasts",
            field="number",
        )
    new = records.new_certificate(
        old.kind, marriage, old.holder_resident_id, body.office_code, today, old.divorce_id, reissue=True
    )
    old.status, old.voided_on, old.replaced_by, old.void_reason = "void", today, new.number, "reissued"
    session.add_all([old, new])
    await outbox.add(
        session,
        CertificateReissued(
            resident_id=old.holder_resident_id,
            marriage_registration_id=marriage.id,
            kind=old.kind,
            number=new.number,
            voided_number=old.number,
            reissued_on=today,
        ),
    )
    await session.commit()
    return CertificatePublic.of(new, user)


@router.post("/marriages/{marriage_id}/revocation")
async def revoke_registration(
    marriage_id: str, body: Revocation, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> MarriagePublic:
    """The registration was made with a false identity: it is void, its certificates too, and each party's
    status is what it was before it."""
    marriage = await session.get(Marriage, marriage_id)
    if marriage is None:
        raise NotFound("marriage registration")
    if marriage.status != "married":
        raise Conflict(
            "registration-not-current",
            "Only a current marriage can be revoked here",
            f"its status is {marriage.status}",
        )
    marriage.status, marriage.revoked_reason, marriage.revoked_by = "revoked", body.reason, user.subject
    marriage.revoked_at, marriage.revoked_on = records.now(), today
    session.add(marriage)
    for party in marriage.parties():
        row = await session.get(CurrentSpouse, party)
        if row is not None:
            await session.delete(row)
    certificates = await records.certificates_of(session, marriage.id)
    for c in certificates:
        if c.status == "valid":
            c.status, c.voided_on, c.void_reason = "void", today, "registration revoked"
            session.add(c)
    await session.flush()
    changes = [
        records.status_changed(
            p,
            (await records.status_of(session, p)).status,
            MaritalStatus.MARRIED,
            today,
            marriage,
            RegistrationRevoked.type_name,
        )
        for p in marriage.parties()
    ]
    await outbox.add(
        session,
        RegistrationRevoked(
            resident_id=marriage.resident_id,
            spouse_resident_id=marriage.spouse_resident_id,
            marriage_registration_id=marriage.id,
            reason=body.reason,
            revoked_on=today,
        ),
        *changes,
    )
    await session.commit()
    return MarriagePublic.of(marriage, certificates, user)


@router.get("/people/{resident_id}/records")
async def read_records(
    resident_id: ResidentId,
    session: SessionDep,
    user: CurrentUser,
    reason: Annotated[str | None, Query(min_length=1, max_length=500, description=STAFF_REASON)] = None,
    office_code: Annotated[str | None, Query(pattern=OFFICE_PATTERN, description=STAFF_OFFICE)] = None,
) -> list[MarriagePublic]:
    """异地查档: every registration naming the person, from any office, revoked ones included. A citizen reads their
    own from anywhere, no questions asked. Staff say why, and a caseworker from which office: the query is
    recorded before the records are shown (if it cannot be recorded, nothing is shown)."""
    if not user.may_read_person(resident_id, DOMAIN):
        raise NotFound("person")
    staff = not user.is_citizen(resident_id)
    if staff and reason is None:
        raise Problem(422, "reason-required", "Say why you query this person's records",
                      "staff querying someone's marriage records give a reason; it is recorded", field="reason")  # fmt: skip
    if staff and user.role is Role.CASEWORKER and office_code is None:
        raise Problem(422, "office-required", "Say from which office you query",
                      "a caseworker names the registry office the query is made from", field="office_code")  # fmt: skip
    marriages = await records.marriages_of(session, resident_id)
    certificates = (
        (await session.exec(select(Certificate).where(Certificate.holder_resident_id == resident_id))).all()
        if marriages
        else []
    )
    if staff:
        assert reason is not None
        session.add(
            ArchiveQuery(
                resident_id=resident_id,
                queried_by=user.subject,
                role=user.role.value,
                office_code=office_code,
                reason=reason,
                records_found=len(marriages),
            )
        )
        await session.commit()
    return [MarriagePublic.of(m, [c for c in certificates if c.marriage_id == m.id], user) for m in marriages]


class ArchiveQueryPublic(BaseModel):
    queried_at: datetime
    role: str
    office_code: str | None
    reason: str
    records_found: int
    queried_by: str | None = Field(description="the staff account; not shown to the citizen")


@router.get("/people/{resident_id}/archive-queries")
async def read_archive_queries(
    resident_id: ResidentId, session: SessionDep, user: CurrentUser
) -> list[ArchiveQueryPublic]:
    """Who looked into a person's records, from where and why: for the person, marriage caseworkers and auditors."""
    if not user.may_read_person(resident_id, DOMAIN):
        raise NotFound("person")
    rows = await session.exec(
        select(ArchiveQuery).where(ArchiveQuery.resident_id == resident_id).order_by(col(ArchiveQuery.id))
    )
    citizen = user.is_citizen(resident_id)
    return [
        ArchiveQueryPublic(
            queried_at=q.queried_at,
            role=q.role,
            office_code=q.office_code,
            reason=q.reason,
            records_found=q.records_found,
            queried_by=None if citizen else q.queried_by,
        )
        for q in rows.all()
    ]
