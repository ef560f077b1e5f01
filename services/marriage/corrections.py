"""Correction of historical records (历史婚姻数据更正): a caseworker corrects one field of a registration from the
archive, with a reason; the old value, who and when are kept, and the correction history is readable."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.identity import birth_date
from civic.problems import Conflict, NotFound, Problem
from contracts.marriage import RecordCorrected
from services.marriage import records, rules
from services.marriage.models import Correction, Divorce, Marriage
from services.marriage.party_corrections import correct_party_id
from services.marriage.schemas import DOMAIN, CorrectionPublic, Reason

router = APIRouter(tags=["certificates and corrections"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
CorrectableField = Literal["name", "spouse_name", "registered_on", "office_code", "resident_id", "spouse_resident_id"]


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: CorrectableField = Field(description="the field of the registration to correct")
    new_value: str = Field(
        min_length=1, max_length=200, description="the value the archive shows (dates YYYY-MM-DD, resident IDs whole)"
    )
    reason: Reason = Field(description="why, and on what evidence (the archive file, a court ruling …)")


def refused(exc: rules.RuleBroken) -> Problem:
    return Problem(422, exc.kind, "The correction is refused", exc.detail, field=exc.field)


async def registration_date_context(session: AsyncSession, marriage: Marriage) -> rules.CorrectedRecord:
    applied = await session.exec(
        select(col(Divorce.applied_on)).where(Divorce.marriage_id == marriage.id).order_by(col(Divorce.applied_on))
    )
    others = [
        rules.Span(m.registered_on, m.ended_on)
        for party in marriage.parties()
        for m in await records.marriages_of(session, party)
        if m.id != marriage.id and m.status != "revoked"
    ]
    return rules.CorrectedRecord(
        ended_on=marriage.ended_on,
        first_divorce_applied_on=applied.first(),
        births=tuple(birth_date(p) for p in marriage.parties()),
        other_marriages=tuple(others),
    )


@router.post("/marriages/{marriage_id}/corrections", status_code=status.HTTP_201_CREATED)
async def correct_record(
    marriage_id: str, body: CorrectionCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CorrectionPublic:
    """Correct one field. The change is made only if the field still holds the value read (two caseworkers
    correcting the same field at once: the second is told, instead of recording a wrong old value). A party's
    resident ID is checked as a registration would check it (``party_corrections``)."""
    marriage = await session.get(Marriage, marriage_id)
    if marriage is None:
        raise NotFound("marriage registration")
    if body.field in rules.PARTY_FIELDS:
        return await correct_party_id(session, outbox, marriage, body.field, body.new_value, body.reason, today, user)
    old = getattr(marriage, body.field)
    new: str | date
    try:
        match body.field:
            case "name" | "spouse_name":
                new = rules.corrected_name(body.new_value)
            case "office_code":
                new = rules.corrected_office_code(body.new_value)
            case "registered_on":
                context = await registration_date_context(session, marriage)
                new = rules.corrected_registration_date(body.new_value, today, context)
        rules.check_changed(str(old), str(new))
    except rules.RuleBroken as exc:
        raise refused(exc) from exc
    column = getattr(Marriage, body.field)
    changed = await session.exec(
        update(Marriage).where(col(Marriage.id) == marriage.id, column == old).values({body.field: new})
    )
    if changed.rowcount != 1:
        await session.rollback()
        raise Conflict(
            "record-changed-meanwhile",
            "The record changed while the correction was made",
            "read it again and repeat the correction if it is still needed",
            field="field",
        )
    correction = Correction(
        marriage_id=marriage.id,
        field=body.field,
        old_value=str(old),
        new_value=str(new),
        reason=body.reason,
        corrected_by=user.subject,
    )
    session.add(correction)
    await outbox.add(
        session,
        RecordCorrected(
            resident_id=marriage.resident_id,
            marriage_registration_id=marriage.id,
            field=body.field,
            corrected_on=today,
        ),
    )
    await session.commit()
    return CorrectionPublic.of(correction, user)


@router.get("/marriages/{marriage_id}/corrections")
async def read_corrections(marriage_id: str, session: SessionDep, user: CurrentUser) -> list[CorrectionPublic]:
    """Every correction of a registration, oldest first: for its parties, marriage caseworkers and auditors."""
    marriage = await records.visible_marriage(session, marriage_id, user)
    rows = await session.exec(
        select(Correction).where(Correction.marriage_id == marriage.id).order_by(col(Correction.id))
    )
    return [CorrectionPublic.of(c, user) for c in rows.all()]
